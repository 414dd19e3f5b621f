# tests for bpf/inspect.c and bpf/policy.c: real BPF objects compiled from
# tests/bpf/progs/ with clang -target bpf -O2 -g (so .BTF/.BTF.ext exist).
find_program(L3AF_BPF_CLANG NAMES clang clang-14 REQUIRED)
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(L3AF_BPF_ARCH_INC /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(L3AF_BPF_ARCH_INC /usr/include/x86_64-linux-gnu)
endif()

set(L3AF_BPF_OBJ_DIR ${CMAKE_CURRENT_BINARY_DIR}/progs)
set(L3AF_BPF_PROGS xdp_tail tc_count kprobe_core write_user l3af_root subprog)
set(L3AF_BPF_OBJS)
foreach(p ${L3AF_BPF_PROGS})
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/progs/${p}.bpf.c)
  set(obj ${L3AF_BPF_OBJ_DIR}/${p}.bpf.o)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${L3AF_BPF_OBJ_DIR}
    COMMAND ${L3AF_BPF_CLANG} -target bpf -O2 -g -Wall -Werror
            -I/usr/include -I${L3AF_BPF_ARCH_INC} -c ${src} -o ${obj}
    DEPENDS ${src}
    COMMENT "clang -target bpf ${p}.bpf.c"
    VERBATIM)
  list(APPEND L3AF_BPF_OBJS ${obj})
endforeach()
add_custom_target(bpf_test_progs DEPENDS ${L3AF_BPF_OBJS})

l3af_test(test_inspect SOURCES test_inspect.c LIBS ebpf tlog_proof)
target_include_directories(test_inspect PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(test_inspect PRIVATE L3AF_BPF_OBJ_DIR="${L3AF_BPF_OBJ_DIR}")
add_dependencies(test_inspect bpf_test_progs)
