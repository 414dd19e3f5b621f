/* (e) L3AF-style chaining: section names libbpf >= 1.0 does not know, a
 * pinned PROG_ARRAY, licence "Dual BSD/GPL". */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_rl_ingress_next_prog SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100);
	__type(key, __u32);
	__type(value, __u64);
} rl_window SEC(".maps");

SEC("xdp-root")
int xdp_root_prog(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &xdp_rl_ingress_next_prog, 0);
	return XDP_PASS;
}

SEC("xdp_ratelimiting")
int _xdp_ratelimiting(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&rl_window, &key, &now, BPF_ANY);
	bpf_tail_call(ctx, &xdp_rl_ingress_next_prog, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
