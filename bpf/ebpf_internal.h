/*
 * ebpf_internal.h - declarations shared by the .c files of bpf/ and by
 * nothing outside it; ebpf.h stays the only public header (as libbpf keeps
 * libbpf_internal.h beside libbpf.h). Not installed, no stable API.
 *
 * Two parts, one per library:
 *  - package archives (ebpf_pkg: package.c, package_kind.c, package_read.c,
 *    package_write.c), which needs no libbpf or libelf: the agent's verifier
 *    links it alone;
 *  - ELF inspection (ebpf: inspect.c, elf_check.c, btf_check.c,
 *    inspect_progs.c, inspect_calls.c), whose declarations need libelf and
 *    libbpf types and so are seen only by files that define
 *    EBPF_INTERNAL_INSPECT first.
 *
 * Names with external linkage take the module prefix (ebpf_, ebpf_pkg_) so
 * that they cannot clash with a dependency's or another module's symbols.
 */
#ifndef L3AF_EBPF_INTERNAL_H
#define L3AF_EBPF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebpf.h"

/* ==== package archives ================================================== */

#define TOP_PREFIX "l3af_"
#define TOP_PREFIX_LEN 5
/* "l3af_" name "/" path, NUL: the longest archive path we accept. */
#define ENTRY_PATH_MAX (TOP_PREFIX_LEN + EBPF_PKG_NAME_MAX + 1 + EBPF_PKG_MAX_PATH)
#define DIRS_MAX EBPF_PKG_MAX_FILES   /* sub-folders in a package */
#define SHOW_BYTES 128                /* an entry name as shown in messages */
#define SPECIAL_BITS 07000            /* setuid, setgid, sticky */

/* package.c */

/* An untrusted name made printable for a message: printable ASCII stays,
 * everything else becomes \xNN; long names are cut with "...". */
const char *ebpf_pkg_show(const char *s, char out[static SHOW_BYTES]);
char *ebpf_pkg_dup_mem(const char *s, size_t len);

/* The rule a '/'-separated relative path breaks, or NULL if it is clean
 * (printable ASCII only, no backslash, not absolute, no empty, "." or ".."
 * component, no ':', no component ending in '.' or ' ', no Windows device
 * name such as NUL or com1.txt; package.c says why ASCII). */
const char *ebpf_pkg_path_rule(const char *path);

/* Whether two of the n paths (files, or folders with or without a trailing
 * '/'), or folders above them, differ only in ASCII case: *clash, and the
 * two names in a and b. L3AF_OK or L3AF_E_NOMEM. */
enum l3af_status ebpf_pkg_case_clash(const char *const *paths, size_t n,
				     char a[static EBPF_PKG_MAX_PATH + 1],
				     char b[static EBPF_PKG_MAX_PATH + 1],
				     bool *clash) L3AF_MUST_CHECK;

/* Package name rule: 1..EBPF_PKG_NAME_MAX of [a-z0-9_-], starting a-z. */
bool ebpf_pkg_name_valid(const char *s, size_t len);

/* qsort/bsearch order of struct ebpf_pkg_file: bytewise by path. */
int ebpf_pkg_file_cmp(const void *a, const void *b);

/* package_kind.c */

/* Kind by content first, then by mode, then by name (ebpf.h). */
enum ebpf_file_kind ebpf_pkg_classify(const char *path, const uint8_t *d, size_t n,
				      unsigned mode);

/* ==== ELF inspection ===================================================== */

#ifdef EBPF_INTERNAL_INSPECT

#include <gelf.h>
#include <libelf.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

/* ---- inspection state --------------------------------------------------- */

/* Where one program lives in its section: [start, end) in bytes. */
struct prog_range {
	const char *sec;
	const char *name;
	size_t shndx;           /* its section's index, once placed */
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

/* inspect.c */

/* The last warning libbpf printed on the calling thread (inspect.c installs
 * the callback that keeps it), for error texts. */
extern _Thread_local char ebpf_libbpf_last[256];

char *ebpf_dup_str(const char *s);

/* Names end up in JSON and in messages: printable ASCII only. */
bool ebpf_text_ok(const char *s, size_t max);

/* elf_check.c: section accessors and the structural checks. */

const char *ebpf_sec_name(const struct inspect *in, size_t idx);
bool ebpf_get_shdr(const struct inspect *in, size_t idx, GElf_Shdr *sh);
Elf_Data *ebpf_sec_data(const struct inspect *in, size_t idx);
size_t ebpf_find_sec(const struct inspect *in, const char *name); /* 0: none */
enum l3af_status ebpf_elf_check(struct inspect *in, struct l3af_err *err);

/* btf_check.c */

enum l3af_status ebpf_check_btf(struct inspect *in, struct l3af_err *err);
enum l3af_status ebpf_collect_core(struct inspect *in, struct l3af_err *err);

/* inspect_progs.c */

enum l3af_status ebpf_collect_progs(struct inspect *in, struct l3af_err *err);
enum l3af_status ebpf_locate_progs(struct inspect *in, struct l3af_err *err);
enum l3af_status ebpf_collect_kfuncs(struct inspect *in, struct l3af_err *err);

/* Add to a program's sorted, distinct helper IDs or kfunc names (copied);
 * L3AF_E_NOMEM without an error text. */
enum l3af_status ebpf_prog_add_helper(struct ebpf_prog *p, uint32_t id);
enum l3af_status ebpf_prog_add_kfunc(struct ebpf_prog *p, const char *name);

/* inspect_calls.c: helpers, kfuncs and tail calls of every function an
 * entry program reaches through bpf-to-bpf calls and callbacks, added to
 * the program's own (needs ebpf_locate_progs). */
enum l3af_status ebpf_collect_calls(struct inspect *in, struct l3af_err *err);

/* The program whose instructions hold byte off of section sec, or NULL. */
const struct prog_range *ebpf_find_owner(const struct inspect *in, const char *sec,
					 uint64_t off);

#endif /* EBPF_INTERNAL_INSPECT */

#endif /* L3AF_EBPF_INTERNAL_H */
