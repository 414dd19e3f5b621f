/* (d) tracepoint that writes to user memory (a denied helper). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_write")
int poke_user(void *ctx)
{
	__u64 zero = 0;

	bpf_probe_write_user((void *)0x1000, &zero, sizeof(zero));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
