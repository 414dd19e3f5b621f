/*
 * inspect_progs.c - each program's facts from libbpf (type, instructions,
 * helper and kfunc calls, instruction hash), and where each program lives in
 * its section, for the kfunc relocations and CO-RE records.
 *
 * Security property: the bytes are untrusted but have passed elf_check.c.
 * Names are accepted only as printable ASCII; every instruction index is
 * bounded by the program's libbpf instruction count; helper and kfunc sets
 * are sorted arrays and program lookups by place are binary searches, so no
 * input is quadratic.
 */
#define EBPF_INTERNAL_INSPECT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "ebpf.h"
#include "ebpf_internal.h"

#define HELPER_TAIL_CALL 12u /* BPF_FUNC_tail_call */

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

enum l3af_status ebpf_prog_add_helper(struct ebpf_prog *p, uint32_t id)
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

enum l3af_status ebpf_prog_add_kfunc(struct ebpf_prog *p, const char *name)
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
	copy = ebpf_dup_str(name);
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
 * found through their relocations (ebpf_collect_kfuncs). */
static enum l3af_status scan_calls(struct ebpf_prog *p, const struct bpf_insn *insns)
{
	enum l3af_status rc = L3AF_OK;
	char name[32];

	for (uint32_t i = 0; i < p->insn_cnt && rc == L3AF_OK; i++) {
		if (!is_call(&insns[i]))
			continue;
		if (insns[i].src_reg == 0) {
			rc = ebpf_prog_add_helper(p, (uint32_t)insns[i].imm);
			p->tail_calls += (uint32_t)insns[i].imm == HELPER_TAIL_CALL;
		} else if (insns[i].src_reg == BPF_PSEUDO_KFUNC_CALL) {
			snprintf(name, sizeof(name), "kfunc#%u", (uint32_t)insns[i].imm);
			rc = ebpf_prog_add_kfunc(p, name);
		}
	}
	return rc;
}

static enum l3af_status hash_insns(struct ebpf_prog *p, const struct bpf_insn *insns,
				   struct l3af_err *err)
{
	size_t len = (size_t)p->insn_cnt * sizeof(*insns);

	if (l3af_sha256(insns, len, p->insns_sha256) != L3AF_OK)
		return l3af_fail(err, L3AF_E_CRYPTO, "program %s: SHA-256 failed", p->name);
	return L3AF_OK;
}

static enum l3af_status fill_prog(struct inspect *in, const struct bpf_program *prog,
				  struct ebpf_prog *p, struct prog_range *r, struct l3af_err *err)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	const char *name = bpf_program__name(prog), *sec = bpf_program__section_name(prog);

	if (!name || !sec || !ebpf_text_ok(name, 255) || !ebpf_text_ok(sec, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: a program or section name is not "
				 "printable ASCII", in->file);
	p->name = ebpf_dup_str(name);
	p->section = ebpf_dup_str(sec);
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

enum l3af_status ebpf_collect_progs(struct inspect *in, struct l3af_err *err)
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
	key.sec = ebpf_sec_name(in, sym->st_shndx);
	if (!key.name || !key.sec)
		return;
	r = bsearch(&key, in->ranges, in->obj->nprogs, sizeof(key), cmp_by_name);
	if (!r || r->start != UINT64_MAX || sym->st_value % sizeof(struct bpf_insn) != 0)
		return;
	r->shndx = sym->st_shndx;
	r->start = sym->st_value;
	r->end = sym->st_value + (uint64_t)r->prog->insn_cnt * sizeof(struct bpf_insn);
}

/* Each program's byte range in its section, from its function symbol
 * (libbpf keeps that offset private), then sorted for ebpf_find_owner. */
enum l3af_status ebpf_locate_progs(struct inspect *in, struct l3af_err *err)
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
const struct prog_range *ebpf_find_owner(const struct inspect *in, const char *sec, uint64_t off)
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
	const struct prog_range *r = ebpf_find_owner(in, tsec, rel->r_offset);
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
	if (!name || !ebpf_text_ok(name, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: program %s calls an extern whose name "
				 "is not printable ASCII", in->file, r->name);
	if (ebpf_prog_add_kfunc(r->prog, name) != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

enum l3af_status ebpf_collect_kfuncs(struct inspect *in, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	GElf_Shdr sh;
	GElf_Rel rel;
	Elf_Data *d;
	const char *tsec;

	for (size_t i = 1; i < in->shnum && rc == L3AF_OK; i++) {
		if (!ebpf_get_shdr(in, i, &sh) || sh.sh_type != SHT_REL)
			continue;
		tsec = ebpf_sec_name(in, sh.sh_info);
		d = ebpf_sec_data(in, i);
		for (size_t k = 0; tsec && d && k < sh.sh_size / sizeof(Elf64_Rel) &&
				   rc == L3AF_OK; k++) {
			if (gelf_getrel(d, (int)k, &rel))
				rc = kfunc_reloc(in, tsec, &rel, err);
		}
	}
	return rc;
}
