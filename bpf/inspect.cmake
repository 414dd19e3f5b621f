# bpf/inspect.cmake - library ebpf: ELF inspection (libbpf, libelf) and
# repository policy (jansson). Included by bpf/CMakeLists.txt.
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
pkg_check_modules(LIBELF REQUIRED IMPORTED_TARGET libelf)

add_library(ebpf STATIC ${CMAKE_CURRENT_SOURCE_DIR}/inspect.c
  ${CMAKE_CURRENT_SOURCE_DIR}/elf_check.c ${CMAKE_CURRENT_SOURCE_DIR}/btf_check.c
  ${CMAKE_CURRENT_SOURCE_DIR}/inspect_progs.c ${CMAKE_CURRENT_SOURCE_DIR}/inspect_calls.c
  ${CMAKE_CURRENT_SOURCE_DIR}/inspect_json.c
  ${CMAKE_CURRENT_SOURCE_DIR}/helpers.c ${CMAKE_CURRENT_SOURCE_DIR}/policy.c)
target_include_directories(ebpf PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ebpf PUBLIC l3af_common PkgConfig::LIBBPF PkgConfig::LIBELF
  PkgConfig::CRYPTO PkgConfig::JANSSON Threads::Threads)
set_target_properties(ebpf PROPERTIES POSITION_INDEPENDENT_CODE ON)
