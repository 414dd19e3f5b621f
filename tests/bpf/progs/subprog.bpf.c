/* (f) XDP program whose denied helper and tail call sit in a bpf-to-bpf
 * subprogram (.text), not in the entry program's own instructions. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jump_table SEC(".maps");

static __attribute__((noinline)) int poke(struct xdp_md *ctx)
{
	__u32 v = 0;

	bpf_probe_write_user((void *)(long)ctx->data, &v, sizeof(v));
	bpf_tail_call(ctx, &jump_table, 0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_sub(struct xdp_md *ctx)
{
	return poke(ctx);
}

char LICENSE[] SEC("license") = "GPL";
