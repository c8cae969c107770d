# Corpus regression for the fuzz targets (fuzz/CMakeLists.txt): Fuzz.<Target>Corpus runs the
# target once on every file of tests/fuzz/<target>/ (seed files and the inputs fuzzing found,
# kept after their fix). Included from fuzz/CMakeLists.txt; a libFuzzer build (AFINAR_FUZZ=ON)
# replays the same way, since a libFuzzer binary given files runs each once.
set(AFINAR_FUZZ_CORPUS_DIR ${CMAKE_CURRENT_LIST_DIR})
foreach(name IN LISTS AFINAR_FUZZ_TARGETS)
  # zip -> Zip, torch_file -> TorchFile
  string(REPLACE "_" ";" parts ${name})
  set(camel "")
  foreach(part IN LISTS parts)
    string(SUBSTRING ${part} 0 1 first)
    string(TOUPPER ${first} first)
    string(SUBSTRING ${part} 1 -1 rest)
    string(APPEND camel ${first}${rest})
  endforeach()
  file(GLOB corpus_files CONFIGURE_DEPENDS ${AFINAR_FUZZ_CORPUS_DIR}/${name}/*)
  add_test(NAME Fuzz.${camel}Corpus COMMAND fuzz_${name} ${corpus_files})
  set_tests_properties(Fuzz.${camel}Corpus PROPERTIES TIMEOUT 120)
  if(AFINAR_TEST_ENVIRONMENT)  # a sanitized build: leaks inside libhdf5 are not ours to fix
    set_tests_properties(Fuzz.${camel}Corpus PROPERTIES ENVIRONMENT
      "${AFINAR_TEST_ENVIRONMENT};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/fuzz/lsan_suppressions.txt")
  endif()
endforeach()
