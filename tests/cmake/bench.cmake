# The benchmark's arithmetic peaks and the rule that a row above its peak is invalid.
cnnrun_py_test(bench_peaks test_bench_peaks.py LABELS quick ARGS $<TARGET_FILE:machine_peak>)
