# Runtime unit tests: arena planning.
cnnrun_c_test(test_arena_plan SOURCES test_arena_plan.c LABELS quick)
