# tests for bpf/package.c: deterministic package archives and safe reading.
l3af_test(test_package SOURCES test_package.c LIBS ebpf_pkg tlog_proof)
target_include_directories(test_package PRIVATE ${CMAKE_SOURCE_DIR}/tests)
