/*
 * elf_check.c - the structural checks of a BPF ELF object (libelf) that run
 * before anything reaches libbpf, and the section accessors the other
 * inspection steps share.
 *
 * Security property: the bytes are untrusted. Every structural fact libbpf
 * relies on (class, byte order, e_machine, section bounds, program section
 * sizes, symbol and relocation indices) is checked here before the object
 * reaches bpf_object__open_mem. Work is bounded by EBPF_MAX_OBJECT_BYTES and
 * EBPF_MAX_INSNS and is linear in the number of sections, symbols and
 * relocations.
 */
#define EBPF_INTERNAL_INSPECT
#include <string.h>

#include "ebpf.h"
#include "ebpf_internal.h"

/* ---- section accessors ---------------------------------------------------- */

const char *ebpf_sec_name(const struct inspect *in, size_t idx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	if (!scn || !gelf_getshdr(scn, &sh))
		return NULL;
	return elf_strptr(in->elf, in->shstrndx, sh.sh_name);
}

bool ebpf_get_shdr(const struct inspect *in, size_t idx, GElf_Shdr *sh)
{
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	return scn && gelf_getshdr(scn, sh);
}

Elf_Data *ebpf_sec_data(const struct inspect *in, size_t idx)
{
	Elf_Scn *scn = elf_getscn(in->elf, idx);

	return scn ? elf_getdata(scn, NULL) : NULL;
}

size_t ebpf_find_sec(const struct inspect *in, const char *name)
{
	for (size_t i = 1; i < in->shnum; i++) {
		const char *s = ebpf_sec_name(in, i);
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
	if (eh.e_machine == EM_NONE)
		return l3af_fail(err, L3AF_E_INVALID, "%s: e_machine 0 (EM_NONE): not a BPF "
				 "object; rebuild with a current clang", in->file);
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
	in->syms = ebpf_sec_data(in, idx);
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
		if (!ebpf_get_shdr(in, i, &sh))
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
	Elf_Data *d = ebpf_sec_data(in, idx);
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
		if (ebpf_get_shdr(in, i, &sh) && sh.sh_type == SHT_REL)
			rc = check_rel_sec(in, i, &sh, err);
	}
	return rc;
}

enum l3af_status ebpf_elf_check(struct inspect *in, struct l3af_err *err)
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
