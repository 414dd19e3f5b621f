/*
 * inspect.c - the facts a repository judges, read from one BPF ELF object
 * without loading it (docs/policy-format.md, "Inspection").
 *
 * Security property: the bytes are untrusted. Every structural fact libbpf
 * relies on (class, byte order, e_machine, section bounds, program section
 * sizes, symbol and relocation indices) is checked here with libelf before
 * the object reaches bpf_object__open_mem, and all our own parsing (the
 * .BTF.ext CO-RE records, relocations, the licence) is bounds-checked. Work
 * is bounded by EBPF_MAX_OBJECT_BYTES and EBPF_MAX_INSNS; lookups per
 * relocation or CO-RE record are binary searches, so no input is quadratic.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "ebpf.h"

/* ---- helper names ------------------------------------------------------ */

/* The kernel's __BPF_FUNC_MAPPER order (include/uapi/linux/bpf.h), IDs
 * 0..211 (Linux 6.2); 0 is BPF_FUNC_unspec, which has no name. */
static const char *const helper_names[] = {
	NULL, "bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem",
	"bpf_probe_read", "bpf_ktime_get_ns", "bpf_trace_printk", "bpf_get_prandom_u32",
	"bpf_get_smp_processor_id", "bpf_skb_store_bytes", "bpf_l3_csum_replace",
	"bpf_l4_csum_replace", "bpf_tail_call", "bpf_clone_redirect",
	"bpf_get_current_pid_tgid", "bpf_get_current_uid_gid", "bpf_get_current_comm",
	"bpf_get_cgroup_classid", "bpf_skb_vlan_push", "bpf_skb_vlan_pop",
	"bpf_skb_get_tunnel_key", "bpf_skb_set_tunnel_key", "bpf_perf_event_read",
	"bpf_redirect", "bpf_get_route_realm", "bpf_perf_event_output",
	"bpf_skb_load_bytes", "bpf_get_stackid", "bpf_csum_diff", "bpf_skb_get_tunnel_opt",
	"bpf_skb_set_tunnel_opt", "bpf_skb_change_proto", "bpf_skb_change_type",
	"bpf_skb_under_cgroup", "bpf_get_hash_recalc", "bpf_get_current_task",
	"bpf_probe_write_user", "bpf_current_task_under_cgroup", "bpf_skb_change_tail",
	"bpf_skb_pull_data", "bpf_csum_update", "bpf_set_hash_invalid",
	"bpf_get_numa_node_id", "bpf_skb_change_head", "bpf_xdp_adjust_head",
	"bpf_probe_read_str", "bpf_get_socket_cookie", "bpf_get_socket_uid",
	"bpf_set_hash", "bpf_setsockopt", "bpf_skb_adjust_room", "bpf_redirect_map",
	"bpf_sk_redirect_map", "bpf_sock_map_update", "bpf_xdp_adjust_meta",
	"bpf_perf_event_read_value", "bpf_perf_prog_read_value", "bpf_getsockopt",
	"bpf_override_return", "bpf_sock_ops_cb_flags_set", "bpf_msg_redirect_map",
	"bpf_msg_apply_bytes", "bpf_msg_cork_bytes", "bpf_msg_pull_data", "bpf_bind",
	"bpf_xdp_adjust_tail", "bpf_skb_get_xfrm_state", "bpf_get_stack",
	"bpf_skb_load_bytes_relative", "bpf_fib_lookup", "bpf_sock_hash_update",
	"bpf_msg_redirect_hash", "bpf_sk_redirect_hash", "bpf_lwt_push_encap",
	"bpf_lwt_seg6_store_bytes", "bpf_lwt_seg6_adjust_srh", "bpf_lwt_seg6_action",
	"bpf_rc_repeat", "bpf_rc_keydown", "bpf_skb_cgroup_id",
	"bpf_get_current_cgroup_id", "bpf_get_local_storage", "bpf_sk_select_reuseport",
	"bpf_skb_ancestor_cgroup_id", "bpf_sk_lookup_tcp", "bpf_sk_lookup_udp",
	"bpf_sk_release", "bpf_map_push_elem", "bpf_map_pop_elem", "bpf_map_peek_elem",
	"bpf_msg_push_data", "bpf_msg_pop_data", "bpf_rc_pointer_rel", "bpf_spin_lock",
	"bpf_spin_unlock", "bpf_sk_fullsock", "bpf_tcp_sock", "bpf_skb_ecn_set_ce",
	"bpf_get_listener_sock", "bpf_skc_lookup_tcp", "bpf_tcp_check_syncookie",
	"bpf_sysctl_get_name", "bpf_sysctl_get_current_value", "bpf_sysctl_get_new_value",
	"bpf_sysctl_set_new_value", "bpf_strtol", "bpf_strtoul", "bpf_sk_storage_get",
	"bpf_sk_storage_delete", "bpf_send_signal", "bpf_tcp_gen_syncookie",
	"bpf_skb_output", "bpf_probe_read_user", "bpf_probe_read_kernel",
	"bpf_probe_read_user_str", "bpf_probe_read_kernel_str", "bpf_tcp_send_ack",
	"bpf_send_signal_thread", "bpf_jiffies64", "bpf_read_branch_records",
	"bpf_get_ns_current_pid_tgid", "bpf_xdp_output", "bpf_get_netns_cookie",
	"bpf_get_current_ancestor_cgroup_id", "bpf_sk_assign", "bpf_ktime_get_boot_ns",
	"bpf_seq_printf", "bpf_seq_write", "bpf_sk_cgroup_id", "bpf_sk_ancestor_cgroup_id",
	"bpf_ringbuf_output", "bpf_ringbuf_reserve", "bpf_ringbuf_submit",
	"bpf_ringbuf_discard", "bpf_ringbuf_query", "bpf_csum_level",
	"bpf_skc_to_tcp6_sock", "bpf_skc_to_tcp_sock", "bpf_skc_to_tcp_timewait_sock",
	"bpf_skc_to_tcp_request_sock", "bpf_skc_to_udp6_sock", "bpf_get_task_stack",
	"bpf_load_hdr_opt", "bpf_store_hdr_opt", "bpf_reserve_hdr_opt",
	"bpf_inode_storage_get", "bpf_inode_storage_delete", "bpf_d_path",
	"bpf_copy_from_user", "bpf_snprintf_btf", "bpf_seq_printf_btf",
	"bpf_skb_cgroup_classid", "bpf_redirect_neigh", "bpf_per_cpu_ptr",
	"bpf_this_cpu_ptr", "bpf_redirect_peer", "bpf_task_storage_get",
	"bpf_task_storage_delete", "bpf_get_current_task_btf", "bpf_bprm_opts_set",
	"bpf_ktime_get_coarse_ns", "bpf_ima_inode_hash", "bpf_sock_from_file",
	"bpf_check_mtu", "bpf_for_each_map_elem", "bpf_snprintf", "bpf_sys_bpf",
	"bpf_btf_find_by_name_kind", "bpf_sys_close", "bpf_timer_init",
	"bpf_timer_set_callback", "bpf_timer_start", "bpf_timer_cancel", "bpf_get_func_ip",
	"bpf_get_attach_cookie", "bpf_task_pt_regs", "bpf_get_branch_snapshot",
	"bpf_trace_vprintk", "bpf_skc_to_unix_sock", "bpf_kallsyms_lookup_name",
	"bpf_find_vma", "bpf_loop", "bpf_strncmp", "bpf_get_func_arg", "bpf_get_func_ret",
	"bpf_get_func_arg_cnt", "bpf_get_retval", "bpf_set_retval", "bpf_xdp_get_buff_len",
	"bpf_xdp_load_bytes", "bpf_xdp_store_bytes", "bpf_copy_from_user_task",
	"bpf_skb_set_tstamp", "bpf_ima_file_hash", "bpf_kptr_xchg",
	"bpf_map_lookup_percpu_elem", "bpf_skc_to_mptcp_sock", "bpf_dynptr_from_mem",
	"bpf_ringbuf_reserve_dynptr", "bpf_ringbuf_submit_dynptr",
	"bpf_ringbuf_discard_dynptr", "bpf_dynptr_read", "bpf_dynptr_write",
	"bpf_dynptr_data", "bpf_tcp_raw_gen_syncookie_ipv4",
	"bpf_tcp_raw_gen_syncookie_ipv6", "bpf_tcp_raw_check_syncookie_ipv4",
	"bpf_tcp_raw_check_syncookie_ipv6", "bpf_ktime_get_tai_ns",
	"bpf_user_ringbuf_drain", "bpf_cgrp_storage_get", "bpf_cgrp_storage_delete",
};

_Static_assert(sizeof(helper_names) / sizeof(helper_names[0]) == EBPF_HELPER_MAX_ID + 1,
	       "helper table covers 0..EBPF_HELPER_MAX_ID");

#define HELPER_TAIL_CALL 12u /* BPF_FUNC_tail_call */

const char *ebpf_helper_name(uint32_t id)
{
	if (id > EBPF_HELPER_MAX_ID)
		return NULL;
	return helper_names[id];
}

const char *ebpf_helper_format(uint32_t id, char out[static EBPF_HELPER_NAME_BYTES])
{
	const char *name = ebpf_helper_name(id);

	if (name)
		snprintf(out, EBPF_HELPER_NAME_BYTES, "%s", name);
	else
		snprintf(out, EBPF_HELPER_NAME_BYTES, "helper#%u", id);
	return out;
}

bool ebpf_helper_lookup(const char *name, uint32_t *id_out)
{
	uint64_t id;

	if (!name)
		return false;
	if (strncmp(name, "helper#", 7) == 0) {
		if (l3af_parse_u64(name + 7, strlen(name + 7), UINT32_MAX, &id) != L3AF_OK)
			return false;
		*id_out = (uint32_t)id;
		return true;
	}
	for (uint32_t i = 1; i <= EBPF_HELPER_MAX_ID; i++) {
		if (strcmp(helper_names[i], name) == 0) {
			*id_out = i;
			return true;
		}
	}
	return false;
}

/* include/linux/license.h license_is_gpl_compatible(), exact match. */
bool ebpf_license_gpl_compatible(const char *license)
{
	static const char *const gpl[] = {
		"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
		"Dual MPL/GPL",
	};

	for (size_t i = 0; license && i < sizeof(gpl) / sizeof(gpl[0]); i++)
		if (strcmp(license, gpl[i]) == 0)
			return true;
	return false;
}

/* ---- libbpf's messages -------------------------------------------------- */

/* libbpf prints through one process-wide callback. Ours drops everything
 * but keeps the last warning of the calling thread, for error texts. */
static _Thread_local char libbpf_last[256];
static pthread_once_t libbpf_print_once = PTHREAD_ONCE_INIT;

__attribute__((format(printf, 2, 0)))
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
	n = strlen(libbpf_last);
	while (n > 0 && (libbpf_last[n - 1] == '\n' || libbpf_last[n - 1] == ' '))
		libbpf_last[--n] = '\0';
	return 0;
}

static void libbpf_print_install(void)
{
	libbpf_set_print(libbpf_quiet);
	elf_version(EV_CURRENT);
}

/* ---- inspection state --------------------------------------------------- */

/* Where one program lives in its section: [start, end) in bytes. */
struct prog_range {
	const char *sec;
	const char *name;
	uint64_t start;
	uint64_t end;
	const struct bpf_insn *insns;
	struct ebpf_prog *prog;
};

struct inspect {
	const char *file;       /* for messages */
	const uint8_t *buf;
	size_t len;
	Elf *elf;
	size_t shnum;
	size_t shstrndx;
	size_t symtab;          /* section index of .symtab */
	size_t strtab;          /* its string table */
	size_t nsyms;
	Elf_Data *syms;
	uint64_t ninsns;        /* in all program sections */
	struct bpf_object *bpf;
	struct ebpf_object *obj;
	struct prog_range *ranges; /* one per program */
};

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = l3af_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Names end up in JSON and in messages: printable ASCII only. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= max || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return n > 0;
}

static const char *sec_name(const struct inspect *in, size_t idx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	if (!scn || !gelf_getshdr(scn, &sh))
		return NULL;
	return elf_strptr(in->elf, in->shstrndx, sh.sh_name);
}

static bool get_shdr(const struct inspect *in, size_t idx, GElf_Shdr *sh)
{
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	return scn && gelf_getshdr(scn, sh);
}

static Elf_Data *sec_data(const struct inspect *in, size_t idx)
{
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	return scn ? elf_getdata(scn, NULL) : NULL;
}

static size_t find_sec(const struct inspect *in, const char *name)
{
	for (size_t i = 1; i < in->shnum; i++) {
		const char *s = sec_name(in, i);
		if (s && strcmp(s, name) == 0)
			return i;
	}
	return 0;
}

/* ---- structural checks (libelf) ----------------------------------------- */

static enum l3af_status check_ehdr(struct inspect *in, struct l3af_err *err)
{
	GElf_Ehdr eh;

	if (elf_kind(in->elf) != ELF_K_ELF)
		return l3af_fail(err, L3AF_E_INVALID, "%s: not an ELF object", in->file);
	if (gelf_getclass(in->elf) != ELFCLASS64)
		return l3af_fail(err, L3AF_E_INVALID, "%s: not a 64-bit ELF object", in->file);
	if (!gelf_getehdr(in->elf, &eh))
		return l3af_fail(err, L3AF_E_INVALID, "%s: ELF header: %s", in->file,
				 elf_errmsg(-1));
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: ELF byte order is not little-endian (the host's)", in->file);
	if (eh.e_type != ET_REL)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: e_type %u is not ET_REL (a BPF object file)", in->file,
				 (unsigned)eh.e_type);
	if (eh.e_machine != EM_BPF)
		return l3af_fail(err, L3AF_E_INVALID, "%s: e_machine %u is not EM_BPF (%u)",
				 in->file, (unsigned)eh.e_machine, (unsigned)EM_BPF);
	return L3AF_OK;
}

static enum l3af_status check_shdr_table(struct inspect *in, struct l3af_err *err)
{
	if (elf_getshdrnum(in->elf, &in->shnum) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "%s: section count: %s", in->file,
				 elf_errmsg(-1));
	if (in->shnum < 2)
		return l3af_fail(err, L3AF_E_INVALID, "%s: no sections", in->file);
	if (elf_getshdrstrndx(in->elf, &in->shstrndx) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "%s: section name table: %s", in->file,
				 elf_errmsg(-1));
	if (in->shstrndx == 0 || in->shstrndx >= in->shnum)
		return l3af_fail(err, L3AF_E_INVALID, "%s: section name table index %zu out of range",
				 in->file, in->shstrndx);
	return L3AF_OK;
}

static enum l3af_status check_bounds(struct inspect *in, size_t idx, const GElf_Shdr *sh,
				     const char *name, struct l3af_err *err)
{
	if (sh->sh_type == SHT_NOBITS || sh->sh_type == SHT_NULL)
		return L3AF_OK;
	if (sh->sh_offset > in->len || sh->sh_size > in->len - sh->sh_offset)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: section %zu (%s): offset %llu + size %llu is past the end "
				 "of the file (%zu bytes)", in->file, idx, name,
				 (unsigned long long)sh->sh_offset,
				 (unsigned long long)sh->sh_size, in->len);
	return L3AF_OK;
}

static enum l3af_status check_prog_sec(struct inspect *in, size_t idx, const GElf_Shdr *sh,
				       const char *name, struct l3af_err *err)
{
	if (sh->sh_type != SHT_PROGBITS || !(sh->sh_flags & SHF_EXECINSTR))
		return L3AF_OK;
	if (sh->sh_size % sizeof(struct bpf_insn) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: program section %zu (%s): size %llu is not a multiple of 8",
				 in->file, idx, name, (unsigned long long)sh->sh_size);
	in->ninsns += sh->sh_size / sizeof(struct bpf_insn);
	if (in->ninsns > EBPF_MAX_INSNS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: more than %u instructions", in->file,
				 EBPF_MAX_INSNS);
	return L3AF_OK;
}

static enum l3af_status check_symtab(struct inspect *in, size_t idx, const GElf_Shdr *sh,
				     struct l3af_err *err)
{
	if (sh->sh_type != SHT_SYMTAB)
		return L3AF_OK;
	if (in->symtab)
		return l3af_fail(err, L3AF_E_INVALID, "%s: more than one symbol table", in->file);
	if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_size % sizeof(Elf64_Sym) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "%s: symbol table entry size %llu is wrong",
				 in->file, (unsigned long long)sh->sh_entsize);
	if (sh->sh_link == 0 || sh->sh_link >= in->shnum)
		return l3af_fail(err, L3AF_E_INVALID, "%s: symbol table string table %u out of range",
				 in->file, (unsigned)sh->sh_link);
	in->symtab = idx;
	in->strtab = sh->sh_link;
	in->nsyms = sh->sh_size / sizeof(Elf64_Sym);
	in->syms = sec_data(in, idx);
	if (!in->syms || in->syms->d_size != sh->sh_size)
		return l3af_fail(err, L3AF_E_INVALID, "%s: symbol table: %s", in->file,
				 elf_errmsg(-1));
	return L3AF_OK;
}

/* Pass 1: every section's name, bounds and, for program sections, size. */
static enum l3af_status check_sections(struct inspect *in, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	GElf_Shdr sh;
	const char *name;

	for (size_t i = 1; i < in->shnum && rc == L3AF_OK; i++) {
		if (!get_shdr(in, i, &sh))
			return l3af_fail(err, L3AF_E_INVALID, "%s: section %zu header: %s",
					 in->file, i, elf_errmsg(-1));
		name = elf_strptr(in->elf, in->shstrndx, sh.sh_name);
		if (!name)
			return l3af_fail(err, L3AF_E_INVALID, "%s: section %zu has no valid name",
					 in->file, i);
		rc = check_bounds(in, i, &sh, name, err);
		if (rc == L3AF_OK)
			rc = check_prog_sec(in, i, &sh, name, err);
		if (rc == L3AF_OK)
			rc = check_symtab(in, i, &sh, err);
	}
	if (rc == L3AF_OK && !in->symtab)
		rc = l3af_fail(err, L3AF_E_INVALID, "%s: no symbol table", in->file);
	return rc;
}

static enum l3af_status check_symbols(struct inspect *in, struct l3af_err *err)
{
	GElf_Sym sym;

	for (size_t i = 1; i < in->nsyms; i++) {
		if (!gelf_getsym(in->syms, (int)i, &sym))
			return l3af_fail(err, L3AF_E_INVALID, "%s: symbol %zu: %s", in->file, i,
					 elf_errmsg(-1));
		if (sym.st_shndx >= in->shnum && sym.st_shndx < SHN_LORESERVE)
			return l3af_fail(err, L3AF_E_INVALID,
					 "%s: symbol %zu: section index %u out of range", in->file,
					 i, (unsigned)sym.st_shndx);
		if (!elf_strptr(in->elf, in->strtab, sym.st_name))
			return l3af_fail(err, L3AF_E_INVALID, "%s: symbol %zu has no valid name",
					 in->file, i);
	}
	return L3AF_OK;
}

static enum l3af_status check_rel_sec(struct inspect *in, size_t idx, const GElf_Shdr *sh,
				      struct l3af_err *err)
{
	Elf_Data *d = sec_data(in, idx);
	GElf_Rel rel;
	size_t n = sh->sh_size / sizeof(Elf64_Rel);

	if (sh->sh_entsize != sizeof(Elf64_Rel) || sh->sh_size % sizeof(Elf64_Rel) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "%s: relocation section %zu: entry size wrong",
				 in->file, idx);
	if (sh->sh_link != in->symtab || sh->sh_info == 0 || sh->sh_info >= in->shnum)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: relocation section %zu: symbol table or target out of range",
				 in->file, idx);
	if (!d || d->d_size != sh->sh_size)
		return l3af_fail(err, L3AF_E_INVALID, "%s: relocation section %zu: %s", in->file,
				 idx, elf_errmsg(-1));
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getrel(d, (int)i, &rel) || GELF_R_SYM(rel.r_info) >= in->nsyms)
			return l3af_fail(err, L3AF_E_INVALID,
					 "%s: relocation section %zu entry %zu: symbol out of range",
					 in->file, idx, i);
	}
	return L3AF_OK;
}

/* Pass 2 (needs the symbol table): relocation sections. */
static enum l3af_status check_relocs(struct inspect *in, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	GElf_Shdr sh;

	for (size_t i = 1; i < in->shnum && rc == L3AF_OK; i++) {
		if (get_shdr(in, i, &sh) && sh.sh_type == SHT_REL)
			rc = check_rel_sec(in, i, &sh, err);
	}
	return rc;
}

static enum l3af_status elf_check(struct inspect *in, struct l3af_err *err)
{
	enum l3af_status rc;

	if (in->len < EI_NIDENT || memcmp(in->buf, ELFMAG, SELFMAG) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "%s: not an ELF object (%zu bytes)", in->file,
				 in->len);
	if (in->len > EBPF_MAX_OBJECT_BYTES)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: %zu bytes, more than %llu", in->file,
				 in->len, (unsigned long long)EBPF_MAX_OBJECT_BYTES);
	/* libelf only reads an ELF_C_READ_MEMORY image; the cast drops const
	 * for its signature, as libbpf's bpf_object__open_mem does. */
	in->elf = elf_memory((char *)(uintptr_t)in->buf, in->len);
	if (!in->elf)
		return l3af_fail(err, L3AF_E_INVALID, "%s: libelf: %s", in->file, elf_errmsg(-1));
	rc = check_ehdr(in, err);
	if (rc == L3AF_OK)
		rc = check_shdr_table(in, err);
	if (rc == L3AF_OK)
		rc = check_sections(in, err);
	if (rc == L3AF_OK)
		rc = check_symbols(in, err);
	if (rc == L3AF_OK)
		rc = check_relocs(in, err);
	return rc;
}

/* ---- BTF (before libbpf trusts it) ------------------------------------- */

/*
 * libbpf 1.1 parses .BTF layout (btf__new checks the header, kinds and that
 * each type fits) but not the graph: it follows type IDs and name offsets
 * without range checks (map definitions in .maps, for one), so a corrupt ID
 * crashes bpf_object__open_mem. libbpf 1.3 added btf_validate_type for this;
 * until then we check the same here: every referenced type ID is below the
 * type count and every name offset is inside the string section.
 */
static bool btf_ref_ok(const struct btf *btf, uint32_t id)
{
	return id < btf__type_cnt(btf);
}

static bool btf_name_ok(const struct btf *btf, uint32_t off)
{
	return btf__name_by_offset(btf, off) != NULL;
}

static bool btf_members_ok(const struct btf *btf, const struct btf_type *t)
{
	const struct btf_member *m = btf_members(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++)
		if (!btf_ref_ok(btf, m[i].type) || !btf_name_ok(btf, m[i].name_off))
			return false;
	return true;
}

static bool btf_params_ok(const struct btf *btf, const struct btf_type *t)
{
	const struct btf_param *p = btf_params(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++)
		if (!btf_ref_ok(btf, p[i].type) || !btf_name_ok(btf, p[i].name_off))
			return false;
	return btf_ref_ok(btf, t->type);
}

static bool btf_secinfos_ok(const struct btf *btf, const struct btf_type *t)
{
	const struct btf_var_secinfo *v = btf_var_secinfos(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++)
		if (!btf_ref_ok(btf, v[i].type))
			return false;
	return true;
}

static bool btf_enum_names_ok(const struct btf *btf, const struct btf_type *t)
{
	const struct btf_enum *e = btf_enum(t);
	const struct btf_enum64 *e64 = btf_enum64(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++)
		if (!btf_name_ok(btf, btf_kind(t) == BTF_KIND_ENUM ? e[i].name_off
								    : e64[i].name_off))
			return false;
	return true;
}

static bool btf_type_ok(const struct btf *btf, const struct btf_type *t)
{
	if (!btf_name_ok(btf, t->name_off))
		return false;
	switch (btf_kind(t)) {
	case BTF_KIND_INT: case BTF_KIND_FLOAT: case BTF_KIND_FWD:
		return true;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		return btf_enum_names_ok(btf, t);
	case BTF_KIND_ARRAY:
		return btf_ref_ok(btf, btf_array(t)->type) &&
		       btf_ref_ok(btf, btf_array(t)->index_type);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return btf_members_ok(btf, t);
	case BTF_KIND_FUNC_PROTO:
		return btf_params_ok(btf, t);
	case BTF_KIND_DATASEC:
		return btf_secinfos_ok(btf, t);
	case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST: case BTF_KIND_RESTRICT: case BTF_KIND_FUNC:
	case BTF_KIND_VAR: case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG:
		return btf_ref_ok(btf, t->type);
	default:
		return false;
	}
}

static enum l3af_status check_btf(struct inspect *in, struct l3af_err *err)
{
	size_t idx = find_sec(in, ".BTF");
	Elf_Data *d = idx ? sec_data(in, idx) : NULL;
	enum l3af_status rc = L3AF_OK;
	struct btf *btf;

	if (!idx)
		return L3AF_OK;
	if (!d || !d->d_buf || d->d_size == 0 || d->d_size > UINT32_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF: empty or unreadable", in->file);
	libbpf_last[0] = '\0';
	btf = btf__new(d->d_buf, (uint32_t)d->d_size);
	if (!btf)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF: libbpf cannot parse it: %s",
				 in->file, libbpf_last[0] ? libbpf_last : strerror(errno));
	for (uint32_t id = 1; id < btf__type_cnt(btf) && rc == L3AF_OK; id++)
		if (!btf_type_ok(btf, btf__type_by_id(btf, id)))
			rc = l3af_fail(err, L3AF_E_INVALID,
				       "%s: .BTF: type %u refers to a type or name out of range",
				       in->file, id);
	btf__free(btf);
	return rc;
}

/* ---- program types ------------------------------------------------------ */

/* Section-name prefixes for names libbpf >= 1.0 does not know (it matches
 * "xdp" or "xdp/..." exactly; L3AF uses "xdp-root", "xdp_ratelimiting",
 * "tc-root"). This follows cilium/ebpf's prefix match (elf_reader.go,
 * matchSectionName before its pattern syntax): first match wins, so longer
 * prefixes come first. Used only when libbpf left the type unspec. */
struct sec_prefix {
	const char *prefix;
	enum bpf_prog_type type;
	enum bpf_attach_type attach; /* 0: none */
};

static const struct sec_prefix sec_prefixes[] = {
	{"xdp", BPF_PROG_TYPE_XDP, BPF_XDP},
	{"classifier", BPF_PROG_TYPE_SCHED_CLS, 0},
	{"tc", BPF_PROG_TYPE_SCHED_CLS, 0},
	{"action", BPF_PROG_TYPE_SCHED_ACT, 0},
	{"kretprobe/", BPF_PROG_TYPE_KPROBE, 0},
	{"kprobe/", BPF_PROG_TYPE_KPROBE, 0},
	{"uretprobe/", BPF_PROG_TYPE_KPROBE, 0},
	{"uprobe/", BPF_PROG_TYPE_KPROBE, 0},
	{"tracepoint/", BPF_PROG_TYPE_TRACEPOINT, 0},
	{"raw_tracepoint/", BPF_PROG_TYPE_RAW_TRACEPOINT, 0},
	{"socket", BPF_PROG_TYPE_SOCKET_FILTER, 0},
	{"sockops", BPF_PROG_TYPE_SOCK_OPS, 0},
	{"sk_skb", BPF_PROG_TYPE_SK_SKB, 0},
	{"sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT},
	{"perf_event", BPF_PROG_TYPE_PERF_EVENT, 0},
	{"cgroup_skb/", BPF_PROG_TYPE_CGROUP_SKB, 0},
	{"fentry/", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY},
	{"fexit/", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT},
	{"lsm/", BPF_PROG_TYPE_LSM, BPF_LSM_MAC},
};

static const struct sec_prefix *match_prefix(const char *sec)
{
	for (size_t i = 0; i < sizeof(sec_prefixes) / sizeof(sec_prefixes[0]); i++)
		if (strncmp(sec, sec_prefixes[i].prefix, strlen(sec_prefixes[i].prefix)) == 0)
			return &sec_prefixes[i];
	return NULL;
}

static const char *type_str(enum bpf_prog_type t)
{
	const char *s = libbpf_bpf_prog_type_str(t);

	return s ? s : "unknown";
}

/* Attach type 0 is BPF_CGROUP_INET_INGRESS, but libbpf also leaves 0 for
 * every section that sets none, so 0 is reported only where it means
 * something (cgroup_skb). */
static const char *attach_str(enum bpf_prog_type t, enum bpf_attach_type a)
{
	if (a == 0 && t != BPF_PROG_TYPE_CGROUP_SKB)
		return NULL;
	return libbpf_bpf_attach_type_str(a);
}

static void set_type(struct ebpf_prog *p, const struct bpf_program *prog)
{
	enum bpf_prog_type t = bpf_program__type(prog);
	const struct sec_prefix *m;

	p->type_source = EBPF_TYPE_LIBBPF;
	p->prog_type = type_str(t);
	p->attach_type = attach_str(t, bpf_program__expected_attach_type(prog));
	if (t != BPF_PROG_TYPE_UNSPEC)
		return;
	m = match_prefix(p->section);
	p->type_source = m ? EBPF_TYPE_PREFIX : EBPF_TYPE_UNKNOWN;
	if (!m)
		return;
	p->prog_type = type_str(m->type);
	p->attach_type = attach_str(m->type, m->attach);
}

/* ---- sorted sets -------------------------------------------------------- */

static enum l3af_status id_set_add(struct ebpf_prog *p, uint32_t id)
{
	size_t lo = 0, hi = p->nhelpers;
	uint32_t *grown;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->helpers[mid] == id)
			return L3AF_OK;
		if (p->helpers[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	grown = l3af_realloc(p->helpers, (p->nhelpers + 1) * sizeof(*grown));
	if (!grown)
		return L3AF_E_NOMEM;
	p->helpers = grown;
	memmove(&grown[lo + 1], &grown[lo], (p->nhelpers - lo) * sizeof(*grown));
	grown[lo] = id;
	p->nhelpers++;
	return L3AF_OK;
}

static enum l3af_status name_set_add(struct ebpf_prog *p, const char *name)
{
	size_t lo = 0, hi = p->nkfuncs;
	char **grown, *copy;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->kfuncs[mid], name);
		if (c == 0)
			return L3AF_OK;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	copy = dup_str(name);
	grown = copy ? l3af_realloc(p->kfuncs, (p->nkfuncs + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		l3af_free(copy);
		return L3AF_E_NOMEM;
	}
	p->kfuncs = grown;
	memmove(&grown[lo + 1], &grown[lo], (p->nkfuncs - lo) * sizeof(*grown));
	grown[lo] = copy;
	p->nkfuncs++;
	return L3AF_OK;
}

/* ---- programs ----------------------------------------------------------- */

static bool is_call(const struct bpf_insn *insn)
{
	return insn->code == (BPF_JMP | BPF_CALL);
}

/* Helper calls (src_reg 0: imm is the helper ID) and calls already in
 * kfunc form (src_reg BPF_PSEUDO_KFUNC_CALL: imm is a kernel BTF ID, so
 * only "kfunc#<id>" can be said). Calls to externs as clang emits them are
 * found through their relocations (collect_kfuncs). */
static enum l3af_status scan_calls(struct ebpf_prog *p, const struct bpf_insn *insns)
{
	enum l3af_status rc = L3AF_OK;
	char name[32];

	for (uint32_t i = 0; i < p->insn_cnt && rc == L3AF_OK; i++) {
		if (!is_call(&insns[i]))
			continue;
		if (insns[i].src_reg == 0) {
			rc = id_set_add(p, (uint32_t)insns[i].imm);
			p->tail_calls += (uint32_t)insns[i].imm == HELPER_TAIL_CALL;
		} else if (insns[i].src_reg == BPF_PSEUDO_KFUNC_CALL) {
			snprintf(name, sizeof(name), "kfunc#%u", (uint32_t)insns[i].imm);
			rc = name_set_add(p, name);
		}
	}
	return rc;
}

static enum l3af_status hash_insns(struct ebpf_prog *p, const struct bpf_insn *insns,
				   struct l3af_err *err)
{
	unsigned int n = 0;
	size_t len = (size_t)p->insn_cnt * sizeof(*insns);

	if (!EVP_Digest(len ? (const void *)insns : "", len, p->insns_sha256, &n, EVP_sha256(),
			NULL) || n != EBPF_SHA256_BYTES)
		return l3af_fail(err, L3AF_E_CRYPTO, "program %s: SHA-256 failed", p->name);
	return L3AF_OK;
}

static enum l3af_status fill_prog(struct inspect *in, const struct bpf_program *prog,
				  struct ebpf_prog *p, struct prog_range *r, struct l3af_err *err)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	const char *name = bpf_program__name(prog), *sec = bpf_program__section_name(prog);

	if (!name || !sec || !text_ok(name, 255) || !text_ok(sec, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: a program or section name is not "
				 "printable ASCII", in->file);
	p->name = dup_str(name);
	p->section = dup_str(sec);
	if (!p->name || !p->section)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	set_type(p, prog);
	p->insn_cnt = (uint32_t)bpf_program__insn_cnt(prog);
	if (p->insn_cnt && !insns)
		return l3af_fail(err, L3AF_E_INTERNAL, "%s: program %s: no instructions", in->file,
				 name);
	*r = (struct prog_range){.sec = p->section, .name = p->name, .start = UINT64_MAX,
				 .insns = insns, .prog = p};
	if (scan_calls(p, insns) != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return hash_insns(p, insns, err);
}

static enum l3af_status collect_progs(struct inspect *in, struct l3af_err *err)
{
	struct bpf_program *prog;
	enum l3af_status rc = L3AF_OK;
	size_t n = 0;

	bpf_object__for_each_program(prog, in->bpf)
		n++;
	if (n > EBPF_MAX_PROGS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: %zu programs, more than %u", in->file, n,
				 EBPF_MAX_PROGS);
	in->obj->progs = l3af_calloc(n ? n : 1, sizeof(*in->obj->progs));
	in->ranges = l3af_calloc(n ? n : 1, sizeof(*in->ranges));
	if (!in->obj->progs || !in->ranges)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	bpf_object__for_each_program(prog, in->bpf) {
		rc = fill_prog(in, prog, &in->obj->progs[in->obj->nprogs],
			       &in->ranges[in->obj->nprogs], err);
		in->obj->nprogs++;
		if (rc != L3AF_OK)
			break;
	}
	return rc;
}

/* ---- where programs live: symbols, relocations, CO-RE -------------------- */

static int cmp_by_name(const void *a, const void *b)
{
	const struct prog_range *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->sec, y->sec);
}

static int cmp_by_place(const void *a, const void *b)
{
	const struct prog_range *x = a, *y = b;
	int c = strcmp(x->sec, y->sec);

	if (c)
		return c;
	return (x->start > y->start) - (x->start < y->start);
}

static void place_prog(struct inspect *in, const GElf_Sym *sym)
{
	struct prog_range key = {0}, *r;

	key.name = elf_strptr(in->elf, in->strtab, sym->st_name);
	key.sec = sec_name(in, sym->st_shndx);
	if (!key.name || !key.sec)
		return;
	r = bsearch(&key, in->ranges, in->obj->nprogs, sizeof(key), cmp_by_name);
	if (!r || r->start != UINT64_MAX || sym->st_value % sizeof(struct bpf_insn) != 0)
		return;
	r->start = sym->st_value;
	r->end = sym->st_value + (uint64_t)r->prog->insn_cnt * sizeof(struct bpf_insn);
}

/* Each program's byte range in its section, from its function symbol
 * (libbpf keeps that offset private), then sorted for find_owner. */
static enum l3af_status locate_progs(struct inspect *in, struct l3af_err *err)
{
	GElf_Sym sym;

	qsort(in->ranges, in->obj->nprogs, sizeof(*in->ranges), cmp_by_name);
	for (size_t i = 1; i < in->nsyms; i++) {
		if (!gelf_getsym(in->syms, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= in->shnum)
			continue;
		place_prog(in, &sym);
	}
	qsort(in->ranges, in->obj->nprogs, sizeof(*in->ranges), cmp_by_place);
	return L3AF_OK;
}

/* The program whose instructions hold byte off of section sec, or NULL. */
static const struct prog_range *find_owner(const struct inspect *in, const char *sec,
					   uint64_t off)
{
	struct prog_range key = {.sec = sec, .start = off};
	size_t lo = 0, hi = in->obj->nprogs;
	const struct prog_range *r;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_by_place(&in->ranges[mid], &key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	r = &in->ranges[lo - 1];
	if (strcmp(r->sec, sec) != 0 || r->start == UINT64_MAX || off >= r->end)
		return NULL;
	return r;
}

/* A call instruction relocated against an undefined symbol is a call to a
 * __ksym extern, i.e. a kfunc: clang emits it as a BPF_PSEUDO_CALL with imm
 * -1 and libbpf turns it into BPF_PSEUDO_KFUNC_CALL only at load, when it
 * resolves the name against the kernel's BTF. */
static enum l3af_status kfunc_reloc(struct inspect *in, const char *tsec, const GElf_Rel *rel,
				    struct l3af_err *err)
{
	const struct prog_range *r = find_owner(in, tsec, rel->r_offset);
	GElf_Sym sym;
	const char *name;

	if (!r || (rel->r_offset - r->start) % sizeof(struct bpf_insn) != 0)
		return L3AF_OK;
	if (!is_call(&r->insns[(rel->r_offset - r->start) / sizeof(struct bpf_insn)]))
		return L3AF_OK;
	if (!gelf_getsym(in->syms, (int)GELF_R_SYM(rel->r_info), &sym) ||
	    sym.st_shndx != SHN_UNDEF)
		return L3AF_OK;
	name = elf_strptr(in->elf, in->strtab, sym.st_name);
	if (!name || !text_ok(name, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: program %s calls an extern whose name "
				 "is not printable ASCII", in->file, r->name);
	if (name_set_add(r->prog, name) != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

static enum l3af_status collect_kfuncs(struct inspect *in, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	GElf_Shdr sh;
	GElf_Rel rel;
	Elf_Data *d;
	const char *tsec;

	for (size_t i = 1; i < in->shnum && rc == L3AF_OK; i++) {
		if (!get_shdr(in, i, &sh) || sh.sh_type != SHT_REL)
			continue;
		tsec = sec_name(in, sh.sh_info);
		d = sec_data(in, i);
		for (size_t k = 0; tsec && d && k < sh.sh_size / sizeof(Elf64_Rel) &&
				   rc == L3AF_OK; k++) {
			if (gelf_getrel(d, (int)k, &rel))
				rc = kfunc_reloc(in, tsec, &rel, err);
		}
	}
	return rc;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The CO-RE part of .BTF.ext (kernel include/uapi/linux/btf.h and libbpf
 * btf.h/libbpf_internal.h struct btf_ext_header; libbpf 1.1 has no public
 * accessor for it):
 *   header: u16 magic 0xeB9F | u8 version 1 | u8 flags | u32 hdr_len |
 *           u32 func_info_off, func_info_len, line_info_off, line_info_len |
 *           u32 core_relo_off, core_relo_len       (only if hdr_len >= 32)
 *   core_relo (offsets from the end of the header):
 *           u32 record_size (>= 16) | { u32 sec_name_off | u32 num_info |
 *           num_info records of record_size, the first u32 being insn_off }...
 * sec_name_off is a string in .BTF naming the ELF section.
 */
struct ext_view {
	const uint8_t *p;
	size_t len;
	uint32_t rec_size;
};

static enum l3af_status ext_core_view(struct inspect *in, const Elf_Data *d, struct ext_view *v,
				      struct l3af_err *err)
{
	const uint8_t *b = d->d_buf;
	uint32_t hdr_len, off, len;

	if (d->d_size < 8 || b[0] != 0x9f || b[1] != 0xeb || b[2] != 1)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: bad magic or version",
				 in->file);
	hdr_len = get_u32(b + 4);
	if (hdr_len < 8 || hdr_len > d->d_size)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: header length %u out of range",
				 in->file, hdr_len);
	if (hdr_len < 32)
		return L3AF_OK; /* written before CO-RE existed: none */
	off = get_u32(b + 24);
	len = get_u32(b + 28);
	if (off > d->d_size - hdr_len || len > d->d_size - hdr_len - off)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: CO-RE part past its end",
				 in->file);
	if (len == 0)
		return L3AF_OK;
	if (len < 4 || get_u32(b + hdr_len + off) < 16)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: CO-RE record size too small",
				 in->file);
	*v = (struct ext_view){.p = b + hdr_len + off + 4, .len = len - 4,
			       .rec_size = get_u32(b + hdr_len + off)};
	return L3AF_OK;
}

static enum l3af_status count_core_sec(struct inspect *in, const struct btf *btf,
				       struct ext_view *v, struct l3af_err *err)
{
	uint32_t num;
	const char *sec;
	const struct prog_range *r;

	if (v->len < 8)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: truncated CO-RE section",
				 in->file);
	sec = btf__name_by_offset(btf, get_u32(v->p));
	num = get_u32(v->p + 4);
	v->p += 8, v->len -= 8;
	if (!sec || num > v->len / v->rec_size)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: bad CO-RE section entry",
				 in->file);
	if (in->obj->core_relos + (uint64_t)num > EBPF_MAX_INSNS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: more than %u CO-RE relocations",
				 in->file, EBPF_MAX_INSNS);
	for (uint32_t i = 0; i < num; i++, v->p += v->rec_size, v->len -= v->rec_size) {
		r = find_owner(in, sec, get_u32(v->p));
		if (r)
			r->prog->core_relos++;
	}
	in->obj->core_relos += num;
	return L3AF_OK;
}

/* Counted only when libbpf accepted .BTF: without it the section names
 * cannot be read, and no loader could apply the relocations either. */
static enum l3af_status collect_core(struct inspect *in, struct l3af_err *err)
{
	const struct btf *btf = bpf_object__btf(in->bpf);
	size_t idx = find_sec(in, ".BTF.ext");
	struct ext_view v = {0};
	enum l3af_status rc;
	Elf_Data *d;

	in->obj->btf = btf != NULL;
	if (!btf || !idx)
		return L3AF_OK;
	d = sec_data(in, idx);
	if (!d || !d->d_buf)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: %s", in->file, elf_errmsg(-1));
	rc = ext_core_view(in, d, &v, err);
	while (rc == L3AF_OK && v.len > 0)
		rc = count_core_sec(in, btf, &v, err);
	return rc;
}

/* ---- maps, licence -------------------------------------------------------- */

static enum l3af_status fill_map(struct inspect *in, const struct bpf_map *map,
				 struct ebpf_map *m, struct l3af_err *err)
{
	const char *name = bpf_map__name(map);
	const char *type = libbpf_bpf_map_type_str(bpf_map__type(map));

	if (!name || !text_ok(name, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: a map name is not printable ASCII",
				 in->file);
	m->name = dup_str(name);
	if (!m->name)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	m->type = type ? type : "unknown";
	m->key_size = bpf_map__key_size(map);
	m->value_size = bpf_map__value_size(map);
	m->max_entries = bpf_map__max_entries(map);
	/* libbpf sets a pin path at open exactly for LIBBPF_PIN_BY_NAME. */
	m->pinned_by_name = bpf_map__pin_path(map) != NULL;
	m->internal = bpf_map__is_internal(map);
	return L3AF_OK;
}

static enum l3af_status collect_maps(struct inspect *in, struct l3af_err *err)
{
	struct bpf_map *map;
	enum l3af_status rc = L3AF_OK;
	size_t n = 0;

	bpf_object__for_each_map(map, in->bpf)
		n++;
	if (n > EBPF_MAX_MAPS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: %zu maps, more than %u", in->file, n,
				 EBPF_MAX_MAPS);
	in->obj->maps = l3af_calloc(n ? n : 1, sizeof(*in->obj->maps));
	if (!in->obj->maps)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	bpf_object__for_each_map(map, in->bpf) {
		rc = fill_map(in, map, &in->obj->maps[in->obj->nmaps++], err);
		if (rc != L3AF_OK)
			break;
	}
	return rc;
}

/* The "license" section holds a NUL-terminated string (the kernel reads it
 * up to the NUL). Absent or empty: no licence. */
static enum l3af_status collect_license(struct inspect *in, struct l3af_err *err)
{
	size_t idx = find_sec(in, "license");
	Elf_Data *d = idx ? sec_data(in, idx) : NULL;
	char text[EBPF_MAX_LICENSE_BYTES + 1];
	size_t n;

	if (!d || !d->d_buf || d->d_size == 0)
		return L3AF_OK;
	n = strnlen(d->d_buf, d->d_size);
	if (n == 0)
		return L3AF_OK;
	if (n > EBPF_MAX_LICENSE_BYTES)
		return l3af_fail(err, L3AF_E_INVALID, "%s: licence string longer than %d bytes",
				 in->file, EBPF_MAX_LICENSE_BYTES);
	memcpy(text, d->d_buf, n);
	text[n] = '\0';
	if (!text_ok(text, EBPF_MAX_LICENSE_BYTES))
		return l3af_fail(err, L3AF_E_INVALID, "%s: licence string is not printable ASCII",
				 in->file);
	in->obj->license = dup_str(text);
	if (!in->obj->license)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	in->obj->gpl_compatible = ebpf_license_gpl_compatible(text);
	return L3AF_OK;
}

/* ---- open and drive ------------------------------------------------------- */

static enum l3af_status new_object(struct inspect *in, struct l3af_err *err)
{
	json_t *utf8 = json_string(in->file); /* NULL: not UTF-8 (or no memory) */

	if (!utf8)
		return l3af_fail(err, L3AF_E_INVALID, "inspect: file name is not UTF-8");
	json_decref(utf8);
	in->obj = l3af_calloc(1, sizeof(*in->obj));
	if (!in->obj || !(in->obj->file = dup_str(in->file)))
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

/* libbpf names internal maps after the object ("<name>.rodata"); without a
 * name it would use the buffer's address, so always give one. */
static enum l3af_status open_bpf(struct inspect *in, struct l3af_err *err)
{
	const char *base = strrchr(in->file, '/');
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = base ? base + 1 : in->file);
	int e;

	libbpf_last[0] = '\0';
	in->bpf = bpf_object__open_mem(in->buf, in->len, &opts);
	e = errno;
	if (in->bpf)
		return L3AF_OK;
	if (e == ENOMEM)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: libbpf: out of memory", in->file);
	return l3af_fail(err, L3AF_E_INVALID, "%s: libbpf refused the object: %s", in->file,
			 libbpf_last[0] ? libbpf_last : strerror(e));
}

typedef enum l3af_status (*inspect_step)(struct inspect *in, struct l3af_err *err);

/* In order: nothing reaches libbpf before elf_check passed. */
static const inspect_step inspect_steps[] = {
	elf_check, check_btf, new_object, open_bpf, collect_progs, locate_progs, collect_kfuncs,
	collect_core, collect_maps, collect_license,
};

enum l3af_status ebpf_inspect(const uint8_t *elf, size_t len, const char *file_name,
			      struct ebpf_object **out, struct l3af_err *err)
{
	struct inspect in = {.file = file_name ? file_name : "<memory>", .buf = elf, .len = len};
	enum l3af_status rc = L3AF_OK;

	if (!out)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf_inspect: no output");
	*out = NULL;
	if (!elf && len)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf_inspect: no input");
	pthread_once(&libbpf_print_once, libbpf_print_install);
	if (!elf)
		in.buf = (const uint8_t *)"";
	for (size_t i = 0; i < sizeof(inspect_steps) / sizeof(inspect_steps[0]); i++) {
		rc = inspect_steps[i](&in, err);
		if (rc != L3AF_OK)
			goto out;
	}
	*out = in.obj;
	in.obj = NULL;
out:
	ebpf_object_free(in.obj);
	l3af_free(in.ranges);
	bpf_object__close(in.bpf);
	if (in.elf)
		elf_end(in.elf);
	return rc;
}

static void prog_free(struct ebpf_prog *p)
{
	l3af_free(p->name);
	l3af_free(p->section);
	l3af_free(p->helpers);
	for (size_t i = 0; i < p->nkfuncs; i++)
		l3af_free(p->kfuncs[i]);
	l3af_free(p->kfuncs);
}

void ebpf_object_free(struct ebpf_object *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; obj->progs && i < obj->nprogs; i++)
		prog_free(&obj->progs[i]);
	for (size_t i = 0; obj->maps && i < obj->nmaps; i++)
		l3af_free(obj->maps[i].name);
	l3af_free(obj->progs);
	l3af_free(obj->maps);
	l3af_free(obj->license);
	l3af_free(obj->file);
	l3af_free(obj);
}

/* ---- JSON (docs/policy-format.md, "Inspection JSON") ---------------------- */

static const char *const type_source_names[] = {
	[EBPF_TYPE_LIBBPF] = "libbpf", [EBPF_TYPE_PREFIX] = "prefix",
	[EBPF_TYPE_UNKNOWN] = "unknown",
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* json_object_set_new and json_array_append_new take NULL as failure and
 * return -1, so a chain of them reports any allocation failure at the end. */
static json_t *helpers_json(const struct ebpf_prog *p)
{
	json_t *a = json_array(), *h;
	char name[EBPF_HELPER_NAME_BYTES];
	int bad = !a;

	for (size_t i = 0; a && i < p->nhelpers; i++) {
		h = json_object();
		bad |= !h;
		bad |= json_object_set_new(h, "id", json_integer(p->helpers[i]));
		bad |= json_object_set_new(h, "name",
					   json_string(ebpf_helper_format(p->helpers[i], name)));
		bad |= json_array_append_new(a, h);
	}
	if (bad)
		json_decref(a);
	return bad ? NULL : a;
}

static json_t *kfuncs_json(const struct ebpf_prog *p)
{
	json_t *a = json_array();
	int bad = !a;

	for (size_t i = 0; a && i < p->nkfuncs; i++)
		bad |= json_array_append_new(a, json_string(p->kfuncs[i]));
	if (bad)
		json_decref(a);
	return bad ? NULL : a;
}

static json_t *prog_json(const struct ebpf_prog *p)
{
	char hex[2 * EBPF_SHA256_BYTES + 1];
	json_t *o = json_object();
	int bad = !o;

	l3af_hex_encode(hex, p->insns_sha256, EBPF_SHA256_BYTES);
	bad |= json_object_set_new(o, "name", json_string(p->name));
	bad |= json_object_set_new(o, "section", json_string(p->section));
	bad |= json_object_set_new(o, "prog_type", json_string(p->prog_type));
	bad |= json_object_set_new(o, "type_source",
				   json_string(type_source_names[p->type_source]));
	bad |= json_object_set_new(o, "attach_type", str_or_null(p->attach_type));
	bad |= json_object_set_new(o, "insn_cnt", json_integer(p->insn_cnt));
	bad |= json_object_set_new(o, "insns_sha256", json_string(hex));
	bad |= json_object_set_new(o, "helpers", helpers_json(p));
	bad |= json_object_set_new(o, "kfuncs", kfuncs_json(p));
	bad |= json_object_set_new(o, "tail_calls", json_integer(p->tail_calls));
	bad |= json_object_set_new(o, "core_relos", json_integer(p->core_relos));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

static json_t *map_json(const struct ebpf_map *m)
{
	json_t *o = json_object();
	int bad = !o;

	bad |= json_object_set_new(o, "name", json_string(m->name));
	bad |= json_object_set_new(o, "type", json_string(m->type));
	bad |= json_object_set_new(o, "key_size", json_integer(m->key_size));
	bad |= json_object_set_new(o, "value_size", json_integer(m->value_size));
	bad |= json_object_set_new(o, "max_entries", json_integer(m->max_entries));
	bad |= json_object_set_new(o, "pinning",
				   json_string(m->pinned_by_name ? "by_name" : "none"));
	bad |= json_object_set_new(o, "internal", json_boolean(m->internal));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

static json_t *object_json(const struct ebpf_object *obj)
{
	json_t *o = json_object(), *progs = json_array(), *maps = json_array();
	int bad = !o || !progs || !maps;

	for (size_t i = 0; progs && i < obj->nprogs; i++)
		bad |= json_array_append_new(progs, prog_json(&obj->progs[i]));
	for (size_t i = 0; maps && i < obj->nmaps; i++)
		bad |= json_array_append_new(maps, map_json(&obj->maps[i]));
	bad |= json_object_set_new(o, "programs", progs);
	bad |= json_object_set_new(o, "maps", maps);
	bad |= json_object_set_new(o, "file", json_string(obj->file));
	bad |= json_object_set_new(o, "license", str_or_null(obj->license));
	bad |= json_object_set_new(o, "gpl_compatible", json_boolean(obj->gpl_compatible));
	bad |= json_object_set_new(o, "btf", json_boolean(obj->btf));
	bad |= json_object_set_new(o, "core_relos", json_integer(obj->core_relos));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

enum l3af_status ebpf_object_to_json(const struct ebpf_object *obj, char **json,
				     struct l3af_err *err)
{
	json_t *root = NULL;
	char *text = NULL;
	enum l3af_status rc = L3AF_OK;
	size_t n;

	*json = NULL;
	root = object_json(obj);
	text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		/* every string was checked at inspection (new_object,
		 * text_ok), so only memory can be short here */
		rc = l3af_fail(err, L3AF_E_NOMEM, "%s: JSON: out of memory", obj->file);
		goto out;
	}
	n = strlen(text) + 1;
	*json = l3af_malloc(n);
	if (!*json) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "%s: JSON: out of memory", obj->file);
		goto out;
	}
	memcpy(*json, text, n);
out:
	free(text);
	json_decref(root);
	return rc;
}
