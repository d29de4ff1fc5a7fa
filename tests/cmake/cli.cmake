# The cnnrun program and the embedding example, driven end to end by a stdlib Python script.
cnnrun_py_test(test_cli test_cli.py LABELS quick ARGS $<TARGET_FILE:embed_classify>)
