# The cnnrun program and the embedding example, driven end to end by a stdlib Python script.
cnnrun_py_test(test_cli test_cli.py LABELS quick ARGS $<TARGET_FILE:embed_classify>)

# README's operator table is generated from the registry and must stay equal to it.
cnnrun_py_test(readme_ops check_readme_ops.py LABELS quick)
