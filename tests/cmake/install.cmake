# The installed header, libraries, pkg-config and CMake package files work for a consumer.
# The consumer is compiled by the library's compiler: a sanitizer build's libraries need that
# compiler's sanitizer runtimes (GCC's and clang's are not interchangeable).
add_test(NAME test_install COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(test_install PROPERTIES LABELS quick)
if(CNNRUN_SANITIZE)
  set_tests_properties(test_install PROPERTIES
    ENVIRONMENT "CNNRUN_CONSUMER_CC=${CMAKE_C_COMPILER};CNNRUN_CONSUMER_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer")
else()
  set_tests_properties(test_install PROPERTIES ENVIRONMENT "CNNRUN_CONSUMER_CC=${CMAKE_C_COMPILER}")
endif()
