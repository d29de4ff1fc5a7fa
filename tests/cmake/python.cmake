# The Python package (python/cnnrun) and the Ray Data recipe (examples/ray_batch_inference.py).
# The package runs from the source tree (PYTHONPATH=python) on the library just built
# (CNNRUN_LIBRARY); the tests that need PyPI packages (Ray, pyarrow, NumPy 2) use the venv that
# ./setup.sh makes with python/setup_venv.sh, at the same place it does.
if(DEFINED ENV{CNNRUN_VENV})
  set(CNNRUN_VENV $ENV{CNNRUN_VENV})
elseif(DEFINED ENV{XDG_CACHE_HOME})
  set(CNNRUN_VENV $ENV{XDG_CACHE_HOME}/cnnrun-python-venv)
else()
  set(CNNRUN_VENV $ENV{HOME}/.cache/cnnrun-python-venv)
endif()
set(CNNRUN_VENV_PYTHON ${CNNRUN_VENV}/bin/python)
set(CNNRUN_VENV_RUN ${CMAKE_CURRENT_SOURCE_DIR}/run_in_venv.sh ${CNNRUN_VENV_PYTHON})

set(CNNRUN_PY_ENV
    "CNNRUN_BIN=$<TARGET_FILE:cnnrun_cli>"
    "CNNRUN_LIBRARY=$<TARGET_FILE:cnnrun>"
    "CNNRUN_SOURCE=${PROJECT_SOURCE_DIR}"
    "CNNRUN_FIXTURES=${CNNRUN_FIXTURES_DIR}"
    "PYTHONPATH=${PROJECT_SOURCE_DIR}/python:${PROJECT_SOURCE_DIR}/examples:${CMAKE_CURRENT_SOURCE_DIR}"
    "RAY_USAGE_STATS_ENABLED=0")

if(CNNRUN_SANITIZE)
  # A sanitized libcnnrun loaded into a Python built without the sanitizers needs their runtimes
  # loaded first; the interpreter's own allocations are not ours to leak-check.
  # GCC's are libasan and libubsan; clang's ASan runtime carries UBSan's handlers too.
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(CNNRUN_SANITIZER_RUNTIMES libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
  else()
    set(CNNRUN_SANITIZER_RUNTIMES libasan.so libubsan.so)
  endif()
  set(CNNRUN_PRELOAD "")
  foreach(runtime ${CNNRUN_SANITIZER_RUNTIMES})
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${runtime}
                    OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(APPEND CNNRUN_PRELOAD ":${path}")
  endforeach()
  string(SUBSTRING "${CNNRUN_PRELOAD}" 1 -1 CNNRUN_PRELOAD)
  list(APPEND CNNRUN_PY_ENV "LD_PRELOAD=${CNNRUN_PRELOAD}" "ASAN_OPTIONS=detect_leaks=0")
endif()

# The API against the program on the digits model, errors, threads and the GIL: with Debian's
# Python (NumPy 1.24) and with the venv's (NumPy 2).
add_test(NAME python_api COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_python_api.py)
add_test(NAME python_api_venv COMMAND ${CNNRUN_VENV_RUN} ${CMAKE_CURRENT_SOURCE_DIR}/test_python_api.py)
# pip install ./python, then the README's one-line check, with no CNNRUN_LIBRARY.
add_test(NAME python_install COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_python_install.sh
         ${CNNRUN_VENV_PYTHON} ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(python_api python_api_venv python_install PROPERTIES LABELS "quick;python"
                     ENVIRONMENT "${CNNRUN_PY_ENV}" TIMEOUT 300)

# The API on zoo models against the program and PyTorch (~30 s once the zoo exists).
add_test(NAME python_zoo COMMAND ${CNNRUN_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_python_zoo.py)
set_tests_properties(python_zoo PROPERTIES LABELS "models;python" ENVIRONMENT "${CNNRUN_PY_ENV}"
                     FIXTURES_REQUIRED zoo_models TIMEOUT 900)

# The Ray Data example on a local 2-CPU Ray instance over 2,000 inputs (~30 s, most of it Ray's
# start). RUN_SERIAL: its actors and ctest's other jobs would otherwise share the 2 cores. Not in
# sanitizer builds: Ray's own binaries would start under the preloaded sanitizer runtimes, and the
# library calls it makes are those python_api checks there.
if(NOT CNNRUN_SANITIZE)
  add_test(NAME python_ray COMMAND ${CNNRUN_VENV_RUN} ${CMAKE_CURRENT_SOURCE_DIR}/test_python_ray.py)
  set_tests_properties(python_ray PROPERTIES LABELS "python;ray" ENVIRONMENT "${CNNRUN_PY_ENV}"
                       TIMEOUT 300 RUN_SERIAL TRUE)
endif()
