/* (c) kprobe reading a kernel struct field through CO-RE, and a kfunc call. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

SEC("kprobe/do_nanosleep")
int probe_sleep(void *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	int pid = BPF_CORE_READ(t, pid);
	int tgid = BPF_CORE_READ(t, tgid);

	return pid == tgid;
}

SEC("tp_btf/task_newtask")
int on_newtask(__u64 *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx[0];
	struct task_struct *held = bpf_task_acquire(t);

	if (held)
		bpf_task_release(held);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
