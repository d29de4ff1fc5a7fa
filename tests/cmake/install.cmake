# The installed header, libraries, pkg-config and CMake package files work for a consumer.
add_test(NAME test_install COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(test_install PROPERTIES LABELS quick)
if(CNNRUN_SANITIZE)
  set_tests_properties(test_install PROPERTIES
    ENVIRONMENT "CNNRUN_CONSUMER_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer")
endif()
