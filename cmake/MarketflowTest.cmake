# Test registration helpers shared by common/ and every service.
#
#   mf_add_unit_test(<module> SOURCES <files...> LIBS <targets...>)
#     builds tests/unit/test_<module>.c (plus SOURCES) into test_<module>, linked with cmocka,
#     and registers it as CTest "unit.<module>" with label "unit".
#   mf_add_integration_test(<name> <script> [TIMEOUT s])
#     registers a shell script under tests/integration as "integration.<name>". The script
#     gets BUILD_DIR (where the marketflow-* binaries are) and SOURCE_DIR in its environment.
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)

function(mf_add_unit_test module)
  if(NOT MF_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/unit/test_${module}.c)
    message(WARNING "tests/unit/test_${module}.c is missing")
    return()
  endif()
  add_executable(test_${module} ${CMAKE_SOURCE_DIR}/tests/unit/test_${module}.c ${T_SOURCES})
  target_link_libraries(test_${module} PRIVATE ${T_LIBS} PkgConfig::CMOCKA mf_options)
  add_test(NAME unit.${module} COMMAND test_${module})
  set_tests_properties(unit.${module} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

function(mf_add_integration_test name script)
  if(NOT MF_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "" ${ARGN})
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/${script})
    message(WARNING "tests/integration/${script} is missing")
    return()
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME integration.${name} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${script})
  set_tests_properties(integration.${name} PROPERTIES LABELS integration TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "BUILD_DIR=${CMAKE_BINARY_DIR};SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

# mf_add_fuzz_target(<name> LIBS <targets...>): builds tests/fuzz/fuzz_<name>.c as a libFuzzer
# executable fuzz_<name> (only with -DMF_FUZZ=ON and clang). tests/fuzz/run.sh runs them.
function(mf_add_fuzz_target name)
  if(NOT MF_FUZZ)
    return()
  endif()
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  add_executable(fuzz_${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${name}.c)
  target_link_libraries(fuzz_${name} PRIVATE ${T_LIBS} mf_options)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
endfunction()
