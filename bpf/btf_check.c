/*
 * btf_check.c - .BTF checked before libbpf trusts it, and the CO-RE
 * relocation records of .BTF.ext counted per program.
 *
 * Security property: the bytes are untrusted. libbpf 1.1 follows BTF type
 * IDs and name offsets without range checks, so every one is checked here
 * before bpf_object__open_mem sees the object; our own .BTF.ext parsing is
 * bounds-checked against the section, and each CO-RE record is matched to
 * its program by binary search (ebpf_find_owner), so no input is quadratic.
 */
#define EBPF_INTERNAL_INSPECT
#include <errno.h>
#include <string.h>

#include <bpf/btf.h>

#include "ebpf.h"
#include "ebpf_internal.h"

/* ---- BTF (before libbpf trusts it) ------------------------------------- */

/*
 * libbpf 1.1 parses .BTF layout (btf__new checks the header, kinds and that
 * each type fits) but not the graph: it follows type IDs and name offsets
 * without range checks (map definitions in .maps, for one), so a corrupt ID
 * crashes bpf_object__open_mem. libbpf 1.3 added btf_validate_type for this;
 * until then we check the same here: every referenced type ID is below the
 * type count and every name offset is inside the string section; and, below,
 * that no chain of references loops (btf_check_cycles).
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

/*
 * Reference cycles. libbpf 1.1 follows chains of modifiers without a depth
 * limit (skip_mods_and_typedefs, for one, on every map definition), so a
 * typedef naming itself hangs bpf_object__open_mem. The chain through a
 * type is the one "next" ID below; a chain ends at 0 or at any other kind.
 * Struct and union members are not followed: C recursion goes through a
 * pointer to the struct, and PTR -> STRUCT ends the chain there.
 */
static uint32_t btf_chain_next(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_TYPEDEF: case BTF_KIND_CONST: case BTF_KIND_VOLATILE:
	case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG: case BTF_KIND_PTR:
	case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: case BTF_KIND_FUNC:
	case BTF_KIND_FUNC_PROTO: /* its return type */
		return t->type;
	case BTF_KIND_ARRAY:
		return btf_array(t)->type;
	default:
		return 0;
	}
}

enum chain_state { CHAIN_NEW = 0, CHAIN_OPEN, CHAIN_DONE };

/* Walk the chain from id, marking it open; meeting an open type again is a
 * cycle. Every type is walked once overall (state), so this is linear. */
static uint32_t btf_chain_cycle(const struct btf *btf, uint8_t *state, uint32_t id)
{
	uint32_t at = id, next;

	while (at != 0 && state[at] == CHAIN_NEW) {
		state[at] = CHAIN_OPEN;
		next = btf_chain_next(btf__type_by_id(btf, at));
		if (next != 0 && state[next] == CHAIN_OPEN)
			return next;
		at = next;
	}
	for (at = id; at != 0 && state[at] == CHAIN_OPEN; at = next) {
		next = btf_chain_next(btf__type_by_id(btf, at));
		state[at] = CHAIN_DONE;
	}
	return 0;
}

/* Needs every reference in range (btf_type_ok) first. */
static enum l3af_status btf_check_cycles(struct inspect *in, const struct btf *btf,
					 struct l3af_err *err)
{
	uint32_t n = btf__type_cnt(btf), bad = 0;
	uint8_t *state = l3af_calloc(n, 1);

	if (!state)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	for (uint32_t id = 1; id < n && !bad; id++)
		bad = btf_chain_cycle(btf, state, id);
	l3af_free(state);
	if (bad)
		return l3af_fail(err, L3AF_E_INVALID, "%s: BTF type %u: reference cycle",
				 in->file, bad);
	return L3AF_OK;
}

enum l3af_status ebpf_check_btf(struct inspect *in, struct l3af_err *err)
{
	size_t idx = ebpf_find_sec(in, ".BTF");
	Elf_Data *d = idx ? ebpf_sec_data(in, idx) : NULL;
	enum l3af_status rc = L3AF_OK;
	struct btf *btf;

	if (!idx)
		return L3AF_OK;
	if (!d || !d->d_buf || d->d_size == 0 || d->d_size > UINT32_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF: empty or unreadable", in->file);
	ebpf_libbpf_last[0] = '\0';
	btf = btf__new(d->d_buf, (uint32_t)d->d_size);
	if (!btf)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF: libbpf cannot parse it: %s",
				 in->file,
				 ebpf_libbpf_last[0] ? ebpf_libbpf_last : strerror(errno));
	for (uint32_t id = 1; id < btf__type_cnt(btf) && rc == L3AF_OK; id++)
		if (!btf_type_ok(btf, btf__type_by_id(btf, id)))
			rc = l3af_fail(err, L3AF_E_INVALID,
				       "%s: .BTF: type %u refers to a type or name out of range",
				       in->file, id);
	if (rc == L3AF_OK)
		rc = btf_check_cycles(in, btf, err);
	btf__free(btf);
	return rc;
}

/* ---- .BTF.ext: CO-RE relocations ------------------------------------------ */

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
		r = ebpf_find_owner(in, sec, get_u32(v->p));
		if (r)
			r->prog->core_relos++;
	}
	in->obj->core_relos += num;
	return L3AF_OK;
}

/* Counted only when libbpf accepted .BTF: without it the section names
 * cannot be read, and no loader could apply the relocations either. */
enum l3af_status ebpf_collect_core(struct inspect *in, struct l3af_err *err)
{
	const struct btf *btf = bpf_object__btf(in->bpf);
	size_t idx = ebpf_find_sec(in, ".BTF.ext");
	struct ext_view v = {0};
	enum l3af_status rc;
	Elf_Data *d;

	in->obj->btf = btf != NULL;
	if (!btf || !idx)
		return L3AF_OK;
	d = ebpf_sec_data(in, idx);
	if (!d || !d->d_buf)
		return l3af_fail(err, L3AF_E_INVALID, "%s: .BTF.ext: %s", in->file, elf_errmsg(-1));
	rc = ext_core_view(in, d, &v, err);
	while (rc == L3AF_OK && v.len > 0)
		rc = count_core_sec(in, btf, &v, err);
	return rc;
}
