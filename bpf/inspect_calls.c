/*
 * inspect_calls.c - bpf-to-bpf calls: every entry program's helpers, kfuncs
 * and tail calls include those of every function it can reach through
 * BPF_PSEUDO_CALL calls and BPF_PSEUDO_FUNC callback addresses
 * (docs/policy-format.md, "Subprograms").
 *
 * libbpf skips .text subprograms in bpf_object__for_each_program, and before
 * load an entry program's instructions are only its own, so a helper called
 * from a __noinline function would otherwise go unseen. This file reads the
 * raw executable sections with libelf and resolves call targets the way
 * libbpf's bpf_object__reloc_code does:
 *  - call, src_reg BPF_PSEUDO_CALL, relocated against a symbol defined in
 *    section T: instruction st_value / 8 + imm + 1 of T (a global function
 *    has imm -1; a static one is relocated against the section symbol);
 *  - the same call without relocation: insn index + imm + 1 in its section;
 *  - ld_imm64 relocated against a symbol in an executable section T (a
 *    callback address; libbpf marks it BPF_PSEUDO_FUNC): byte st_value + imm
 *    of T; already marked BPF_PSEUDO_FUNC without relocation: index + imm + 1.
 * Functions are the STT_FUNC symbols of executable sections plus offset 0 of
 * each section; a function runs to the next one, so every instruction is
 * owned by some function and a target inside a function takes the whole
 * function (fails closed). A target outside its section refuses the object.
 *
 * Security property: bounded and never quadratic without bound. Each
 * instruction is read once (EBPF_MAX_INSNS), relocations are looked up by
 * binary search, and the walks from the entry programs are capped at
 * EBPF_MAX_CALL_STEPS (visits + edges + merged facts) before L3AF_E_LIMIT.
 */
#define EBPF_INTERNAL_INSPECT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebpf.h"
#include "ebpf_internal.h"

#define EBPF_MAX_CALL_STEPS (16u << 20)
#define HELPER_TAIL_CALL 12u /* BPF_FUNC_tail_call */
#define LD_IMM64 (BPF_LD | BPF_IMM | BPF_DW)

struct func {
	size_t shndx;
	uint64_t start, end;    /* instruction indices in the section */
	struct ebpf_prog facts; /* helpers, kfuncs, tail calls made directly */
	size_t edge0, nedges;   /* its callees in graph.edges */
	uint32_t seen;          /* walk generation */
};

struct edge {
	size_t from, to;
};

struct graph {
	struct func *f;
	size_t nf;
	struct edge *edges;
	size_t nedges, cap;
	uint64_t *relocated;    /* (shndx << 32 | insn index), sorted */
	size_t nrelocated;
	size_t *queue;
	uint64_t steps;
};

/* ---- sections and functions --------------------------------------------- */

/* Instructions in section idx if it holds code, else 0. */
static uint64_t code_insns(const struct inspect *in, size_t idx)
{
	GElf_Shdr sh;

	if (!ebpf_get_shdr(in, idx, &sh) || sh.sh_type != SHT_PROGBITS ||
	    !(sh.sh_flags & SHF_EXECINSTR))
		return 0;
	return sh.sh_size / sizeof(struct bpf_insn);
}

static bool read_insn(const struct inspect *in, size_t shndx, uint64_t i, struct bpf_insn *out)
{
	Elf_Data *d = ebpf_sec_data(in, shndx);

	if (!d || !d->d_buf || i >= d->d_size / sizeof(*out))
		return false;
	memcpy(out, (const uint8_t *)d->d_buf + i * sizeof(*out), sizeof(*out));
	return true;
}

static int cmp_func(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	if (x->shndx != y->shndx)
		return (x->shndx > y->shndx) - (x->shndx < y->shndx);
	return (x->start > y->start) - (x->start < y->start);
}

static void push_func(struct graph *g, size_t shndx, uint64_t start)
{
	g->f[g->nf++] = (struct func){.shndx = shndx, .start = start};
}

/* Sorted, distinct, each running to the next start or its section's end. */
static void close_funcs(const struct inspect *in, struct graph *g)
{
	size_t n = 0;

	if (g->nf)
		qsort(g->f, g->nf, sizeof(*g->f), cmp_func);
	for (size_t i = 0; i < g->nf; i++)
		if (n == 0 || cmp_func(&g->f[n - 1], &g->f[i]) != 0)
			g->f[n++] = g->f[i];
	g->nf = n;
	for (size_t i = 0; i < n; i++)
		g->f[i].end = i + 1 < n && g->f[i + 1].shndx == g->f[i].shndx
				      ? g->f[i + 1].start : code_insns(in, g->f[i].shndx);
}

static enum l3af_status find_funcs(struct inspect *in, struct graph *g, struct l3af_err *err)
{
	GElf_Sym sym;

	g->f = l3af_calloc(in->nsyms + in->shnum, sizeof(*g->f));
	if (!g->f)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	for (size_t i = 1; i < in->shnum; i++)
		if (code_insns(in, i))
			push_func(g, i, 0);
	for (size_t i = 1; i < in->nsyms; i++) {
		if (!gelf_getsym(in->syms, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= in->shnum ||
		    sym.st_value % sizeof(struct bpf_insn) != 0 ||
		    sym.st_value / sizeof(struct bpf_insn) >= code_insns(in, sym.st_shndx))
			continue;
		push_func(g, sym.st_shndx, sym.st_value / sizeof(struct bpf_insn));
	}
	close_funcs(in, g);
	return L3AF_OK;
}

/* The function holding instruction i of section shndx, or SIZE_MAX. */
static size_t func_at(const struct graph *g, size_t shndx, uint64_t i)
{
	struct func key = {.shndx = shndx, .start = i};
	size_t lo = 0, hi = g->nf;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_func(&g->f[mid], &key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || g->f[lo - 1].shndx != shndx || i >= g->f[lo - 1].end)
		return SIZE_MAX;
	return lo - 1;
}

/* ---- edges -------------------------------------------------------------- */

static enum l3af_status add_edge(struct inspect *in, struct graph *g, size_t from,
				 size_t shndx, int64_t target, struct l3af_err *err)
{
	size_t to = target < 0 ? SIZE_MAX : func_at(g, shndx, (uint64_t)target);
	struct edge *grown;

	if (to == SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "%s: a call or callback in the function at instruction %llu of "
				 "section %s targets instruction %lld of section %s, outside "
				 "the code", in->file, (unsigned long long)g->f[from].start,
				 ebpf_sec_name(in, g->f[from].shndx), (long long)target,
				 ebpf_sec_name(in, shndx));
	if (g->nedges == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		grown = l3af_realloc(g->edges, g->cap * sizeof(*grown));
		if (!grown)
			return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
		g->edges = grown;
	}
	g->edges[g->nedges++] = (struct edge){.from = from, .to = to};
	return L3AF_OK;
}

static int cmp_edge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->from != y->from)
		return (x->from > y->from) - (x->from < y->from);
	return (x->to > y->to) - (x->to < y->to);
}

/* Sorted by caller, distinct; each function's callees as a slice. */
static void index_edges(struct graph *g)
{
	size_t n = 0;

	if (g->nedges)
		qsort(g->edges, g->nedges, sizeof(*g->edges), cmp_edge);
	for (size_t i = 0; i < g->nedges; i++)
		if (n == 0 || cmp_edge(&g->edges[n - 1], &g->edges[i]) != 0)
			g->edges[n++] = g->edges[i];
	g->nedges = n;
	for (size_t i = n; i-- > 0;) {
		g->f[g->edges[i].from].edge0 = i;
		g->f[g->edges[i].from].nedges++;
	}
}

/* ---- relocations: kfunc externs, calls and callbacks across sections ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static bool is_relocated(const struct graph *g, size_t shndx, uint64_t i)
{
	uint64_t key = (uint64_t)shndx << 32 | i;

	return g->nrelocated && bsearch(&key, g->relocated, g->nrelocated, sizeof(key), cmp_u64) != NULL;
}

static enum l3af_status reloc_kfunc(struct inspect *in, struct func *f, const GElf_Sym *sym,
				    struct l3af_err *err)
{
	const char *name = elf_strptr(in->elf, in->strtab, sym->st_name);

	if (!name || !ebpf_text_ok(name, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: a function calls an extern whose name "
				 "is not printable ASCII", in->file);
	if (ebpf_prog_add_kfunc(&f->facts, name) != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

/* One relocation at instruction i of code section shndx. */
static enum l3af_status reloc_one(struct inspect *in, struct graph *g, size_t shndx,
				  uint64_t i, const GElf_Rel *rel, struct l3af_err *err)
{
	size_t from = func_at(g, shndx, i);
	struct bpf_insn insn;
	GElf_Sym sym;

	if (from == SIZE_MAX || !read_insn(in, shndx, i, &insn) ||
	    !gelf_getsym(in->syms, (int)GELF_R_SYM(rel->r_info), &sym))
		return L3AF_OK;
	if (insn.code == (BPF_JMP | BPF_CALL) && sym.st_shndx == SHN_UNDEF)
		return reloc_kfunc(in, &g->f[from], &sym, err);
	if (sym.st_shndx >= in->shnum || !code_insns(in, sym.st_shndx))
		return L3AF_OK; /* maps, data: not code */
	if (insn.code == (BPF_JMP | BPF_CALL))
		return add_edge(in, g, from, sym.st_shndx,
				(int64_t)(sym.st_value / sizeof(insn)) + insn.imm + 1, err);
	if (insn.code == LD_IMM64 && (sym.st_value + (uint64_t)(int64_t)insn.imm) % 8 == 0)
		return add_edge(in, g, from, sym.st_shndx,
				((int64_t)sym.st_value + insn.imm) / (int64_t)sizeof(insn), err);
	if (insn.code == LD_IMM64)
		return l3af_fail(err, L3AF_E_INVALID, "%s: section %s: code address at "
				 "instruction %llu is not instruction-aligned", in->file,
				 ebpf_sec_name(in, shndx), (unsigned long long)i);
	return L3AF_OK;
}

static enum l3af_status reloc_sec(struct inspect *in, struct graph *g, size_t idx,
				  const GElf_Shdr *sh, struct l3af_err *err)
{
	Elf_Data *d = ebpf_sec_data(in, idx);
	enum l3af_status rc = L3AF_OK;
	GElf_Rel rel;
	uint64_t *grown, n = d ? sh->sh_size / sizeof(Elf64_Rel) : 0;

	grown = l3af_realloc(g->relocated, (g->nrelocated + n + 1) * sizeof(*grown));
	if (!grown)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	g->relocated = grown;
	for (uint64_t k = 0; k < n && rc == L3AF_OK; k++) {
		if (!gelf_getrel(d, (int)k, &rel) || rel.r_offset % sizeof(struct bpf_insn))
			continue;
		g->relocated[g->nrelocated++] =
			(uint64_t)sh->sh_info << 32 | rel.r_offset / sizeof(struct bpf_insn);
		rc = reloc_one(in, g, sh->sh_info, rel.r_offset / sizeof(struct bpf_insn), &rel,
			       err);
	}
	return rc;
}

static enum l3af_status scan_relocs(struct inspect *in, struct graph *g, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	GElf_Shdr sh;

	for (size_t i = 1; i < in->shnum && rc == L3AF_OK; i++)
		if (ebpf_get_shdr(in, i, &sh) && sh.sh_type == SHT_REL && code_insns(in, sh.sh_info))
			rc = reloc_sec(in, g, i, &sh, err);
	if (g->nrelocated)
		qsort(g->relocated, g->nrelocated, sizeof(*g->relocated), cmp_u64);
	return rc;
}

/* ---- instructions: helpers, tail calls, calls within a section ---------- */

static enum l3af_status scan_insn(struct inspect *in, struct graph *g, size_t fi, uint64_t i,
				  const struct bpf_insn *insn, struct l3af_err *err)
{
	struct func *f = &g->f[fi];
	char name[32];
	bool local = !is_relocated(g, f->shndx, i);
	enum l3af_status rc = L3AF_OK;

	if (insn->code == (BPF_JMP | BPF_CALL) && insn->src_reg == 0) {
		rc = ebpf_prog_add_helper(&f->facts, (uint32_t)insn->imm);
		f->facts.tail_calls += (uint32_t)insn->imm == HELPER_TAIL_CALL;
	} else if (insn->code == (BPF_JMP | BPF_CALL) && insn->src_reg == BPF_PSEUDO_KFUNC_CALL) {
		snprintf(name, sizeof(name), "kfunc#%u", (uint32_t)insn->imm);
		rc = ebpf_prog_add_kfunc(&f->facts, name);
	} else if (local && ((insn->code == (BPF_JMP | BPF_CALL) &&
			      insn->src_reg == BPF_PSEUDO_CALL) ||
			     (insn->code == LD_IMM64 && insn->src_reg == BPF_PSEUDO_FUNC))) {
		return add_edge(in, g, fi, f->shndx, (int64_t)i + insn->imm + 1, err);
	}
	if (rc != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

static enum l3af_status scan_func(struct inspect *in, struct graph *g, size_t fi,
				  struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	struct bpf_insn insn;

	for (uint64_t i = g->f[fi].start; i < g->f[fi].end && rc == L3AF_OK; i++) {
		if (!read_insn(in, g->f[fi].shndx, i, &insn))
			return l3af_fail(err, L3AF_E_INVALID, "%s: section %s: unreadable code",
					 in->file, ebpf_sec_name(in, g->f[fi].shndx));
		rc = scan_insn(in, g, fi, i, &insn, err);
		i += insn.code == LD_IMM64; /* its second half is no instruction */
	}
	return rc;
}

/* ---- walks from the entry programs --------------------------------------- */

static enum l3af_status merge(struct inspect *in, struct graph *g, struct ebpf_prog *p,
			      const struct func *f, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;

	g->steps += 1 + f->nedges + f->facts.nhelpers + f->facts.nkfuncs;
	if (g->steps > EBPF_MAX_CALL_STEPS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: call graph: more than %u steps to walk",
				 in->file, EBPF_MAX_CALL_STEPS);
	for (size_t i = 0; i < f->facts.nhelpers && rc == L3AF_OK; i++)
		rc = ebpf_prog_add_helper(p, f->facts.helpers[i]);
	for (size_t i = 0; i < f->facts.nkfuncs && rc == L3AF_OK; i++)
		rc = ebpf_prog_add_kfunc(p, f->facts.kfuncs[i]);
	if (rc != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	p->tail_calls += f->facts.tail_calls;
	return L3AF_OK;
}

/* Breadth-first from the entry's own function, itself included, so its
 * tail calls are counted once, here. */
static enum l3af_status walk(struct inspect *in, struct graph *g, const struct prog_range *r,
			     uint32_t gen, struct l3af_err *err)
{
	size_t head = 0, tail = 0, fi = func_at(g, r->shndx, r->start / sizeof(struct bpf_insn));
	enum l3af_status rc = L3AF_OK;
	const struct func *f;

	if (fi == SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "%s: program %s is not in a code section",
				 in->file, r->name);
	r->prog->tail_calls = 0;
	g->f[fi].seen = gen;
	g->queue[tail++] = fi;
	while (head < tail && rc == L3AF_OK) {
		f = &g->f[g->queue[head++]];
		rc = merge(in, g, r->prog, f, err);
		for (size_t e = f->edge0; e < f->edge0 + f->nedges; e++) {
			if (g->f[g->edges[e].to].seen == gen)
				continue;
			g->f[g->edges[e].to].seen = gen;
			g->queue[tail++] = g->edges[e].to;
		}
	}
	return rc;
}

static enum l3af_status walk_all(struct inspect *in, struct graph *g, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;

	g->queue = l3af_calloc(g->nf ? g->nf : 1, sizeof(*g->queue));
	if (!g->queue)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	for (size_t i = 0; i < in->obj->nprogs && rc == L3AF_OK; i++) {
		if (in->ranges[i].start == UINT64_MAX)
			return l3af_fail(err, L3AF_E_INVALID, "%s: program %s has no function "
					 "symbol in its section", in->file, in->ranges[i].name);
		rc = walk(in, g, &in->ranges[i], (uint32_t)i + 1, err);
	}
	return rc;
}

static void graph_free(struct graph *g)
{
	for (size_t i = 0; g->f && i < g->nf; i++) {
		l3af_free(g->f[i].facts.helpers);
		for (size_t k = 0; k < g->f[i].facts.nkfuncs; k++)
			l3af_free(g->f[i].facts.kfuncs[k]);
		l3af_free(g->f[i].facts.kfuncs);
	}
	l3af_free(g->f);
	l3af_free(g->edges);
	l3af_free(g->relocated);
	l3af_free(g->queue);
}

enum l3af_status ebpf_collect_calls(struct inspect *in, struct l3af_err *err)
{
	struct graph g = {0};
	enum l3af_status rc = find_funcs(in, &g, err);

	if (rc == L3AF_OK)
		rc = scan_relocs(in, &g, err);
	for (size_t i = 0; i < g.nf && rc == L3AF_OK; i++)
		rc = scan_func(in, &g, i, err);
	if (rc == L3AF_OK) {
		index_edges(&g);
		rc = walk_all(in, &g, err);
	}
	graph_free(&g);
	return rc;
}
