/*
 * ebpf.h - eBPF packages: deterministic package archives, ELF inspection
 * and repository policy.
 *
 * Two libraries are built from this module (docs/bpf.md):
 *  - ebpf_pkg: package archives (libarchive): build deterministic tar.gz,
 *    read tar.gz/zip safely, the file manifest. The agent's verifier links it.
 *  - ebpf: ELF inspection (libbpf, libelf) and policy; the server links it.
 *
 * Prefix ebpf_ (libbpf owns bpf_, btf_ and libbpf_).
 */
#ifndef L3AF_EBPF_H
#define L3AF_EBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l3af.h"

/* ==== package archives (bpf/package.c) ================================= */

#define EBPF_PKG_MAX_FILES 1024                        /* files in a package */
#define EBPF_PKG_MAX_PATH 255                          /* bytes in a file path */
#define EBPF_PKG_MAX_FILE_BYTES (64ull << 20)          /* one file */
#define EBPF_PKG_MAX_TOTAL_BYTES (256ull << 20)        /* all files, unpacked */
#define EBPF_PKG_MAX_ARCHIVE_BYTES (256ull << 20)      /* the archive itself */
#define EBPF_PKG_NAME_MAX 64                           /* package name bytes */

enum ebpf_file_kind {
	EBPF_KIND_BPF_ELF = 0, /* ELF with e_machine EM_BPF, or ET_REL with EM_NONE */
	EBPF_KIND_NATIVE_SYS,  /* PE image with Subsystem NATIVE (a driver, .sys) */
	EBPF_KIND_USER_EXE,    /* any other executable: any other PE or ELF, or an
				* execute bit */
	EBPF_KIND_DOC,         /* README*, *.md, docs/... */
	EBPF_KIND_LICENSE,     /* LICENSE*, COPYING* */
	EBPF_KIND_CONFIG,      /* anything else (a text file named x.sys too) */
};

/* Stable lowercase name: "bpf-elf", "native-sys", "user-exe", "doc",
 * "license", "config". */
const char *ebpf_file_kind_name(enum ebpf_file_kind kind);

/* One file of a package. path is relative to the package's top-level
 * folder l3af_<name>/ (e.g. "ratelimiting.bpf.o"), '/'-separated, no "..",
 * no leading '/'. data holds the file's bytes (size bytes). */
struct ebpf_pkg_file {
	char *path;
	uint8_t sha256[32];
	uint64_t size;
	unsigned mode; /* 0644 or 0755 */
	enum ebpf_file_kind kind;
	uint8_t *data;
};

/* A package read into memory (owned; free with ebpf_pkg_free). */
struct ebpf_pkg {
	char *name;           /* from the top-level folder l3af_<name>/ */
	size_t nfiles;
	struct ebpf_pkg_file *files; /* sorted by path (bytewise) */
};

/*
 * Build a deterministic package archive from the regular files under dir:
 * tar (ustar/pax) inside gzip, one top-level folder "l3af_<name>/", entries
 * sorted bytewise by path, directories included (empty sub-folders too),
 * mtime fixed (0, or $SOURCE_DATE_EPOCH if set), uid/gid 0 with empty owner
 * names, modes 0755 for files with any execute bit and directories, 0644
 * otherwise, gzip level 9 without name or time. Each entry is opened
 * relative to its folder with O_NOFOLLOW|O_NONBLOCK and checked and read
 * through that descriptor. Refused (L3AF_E_INVALID naming the path):
 * symlinks, devices, sockets, FIFOs, hard-linked files, setuid/setgid/sticky
 * bits, names ebpf_pkg_read refuses (not printable ASCII, a backslash or
 * ':', a component ending in '.' or ' ', a Windows device name such as NUL
 * or com1.txt, two paths differing only in case), a source folder holding
 * no file at all, an out_path whose folder lies inside dir (a second run
 * would pack the first's output), a malformed $SOURCE_DATE_EPOCH. The
 * archive is read back with ebpf_pkg_read before it is written, so it never
 * makes what it refuses. The same input gives the same bytes whatever the
 * time, umask or file order on disk, with the same libarchive and zlib
 * (docs/bpf.md). The archive is written to out_path atomically (temporary
 * file, fsync, rename); if pkg_out is not NULL it receives the package as
 * it was read back from the new archive.
 */
enum l3af_status ebpf_pkg_create(const char *dir, const char *name, const char *out_path,
				 struct ebpf_pkg **pkg_out,
				 struct l3af_err *err) L3AF_MUST_CHECK;

/*
 * Read a package archive (tar, tar.gz or zip, detected from its bytes) from
 * memory, safely (a zip through its central directory): every entry must
 * lie under one top-level folder l3af_<name>/; regular files and
 * directories only (no symlinks, hard links, devices, FIFOs, encrypted or
 * sparse entries); paths of printable ASCII without backslash or ':'; no
 * absolute paths, no ".." or "." components, no empty components, none
 * ending in '.' or ' ', no Windows device names (CON, PRN, AUX, NUL,
 * COM0-9, LPT0-9, CONIN$, CONOUT$, with or without an extension, any case);
 * no duplicate paths, no two paths (or folders) differing only in case, no
 * file used as a folder, no setuid/setgid/sticky bits; at least one file and at most
 * EBPF_PKG_MAX_FILES files, EBPF_PKG_MAX_FILE_BYTES each and
 * EBPF_PKG_MAX_TOTAL_BYTES in all, counted while decompressing (a zip bomb
 * stops at the cap); an entry whose data is shorter or longer than its
 * header declares is refused. Errors: L3AF_E_INVALID (naming the entry and
 * the rule), L3AF_E_LIMIT, L3AF_E_NOMEM. Never writes to disk.
 */
enum l3af_status ebpf_pkg_read(const uint8_t *archive, size_t len, struct ebpf_pkg **out,
			       struct l3af_err *err) L3AF_MUST_CHECK;

/* The package's file manifest as compact JSON with sorted keys:
 * [{"kind":"bpf-elf","mode":"0644","path":"x.bpf.o","sha256":"<hex>","size":N},...]
 * NUL-terminated, caller frees with l3af_free. */
enum l3af_status ebpf_pkg_manifest_json(const struct ebpf_pkg *pkg, char **json,
					struct l3af_err *err) L3AF_MUST_CHECK;

/* Find a file by path; NULL if absent. Borrowed. */
const struct ebpf_pkg_file *ebpf_pkg_find(const struct ebpf_pkg *pkg, const char *path);

/* Free, NULL is fine. */
void ebpf_pkg_free(struct ebpf_pkg *pkg);

/* ==== ELF inspection and policy (bpf/inspect.c, bpf/policy.c) ===========
 * Declared by the inspection work; see docs/bpf.md. */

/*
 * Inspection reads the facts a repository judges from one BPF ELF object in
 * memory, without loading anything: programs (type, instructions, helper and
 * kfunc calls, tail calls, CO-RE relocations), maps, licence and BTF. The
 * object is checked structurally with libelf first (class, byte order,
 * e_machine EM_BPF, every section inside the file, program sections a
 * multiple of 8 bytes, symbol and relocation indices in range) and only then
 * handed to libbpf (bpf_object__open_mem). docs/policy-format.md describes
 * the facts and the rules applied to them.
 */
#define EBPF_MAX_OBJECT_BYTES (64ull << 20) /* one ELF object */
#define EBPF_MAX_INSNS 1000000u             /* instructions in one object */
#define EBPF_MAX_PROGS 1024u                /* programs in one object */
#define EBPF_MAX_MAPS 1024u                 /* maps in one object */
#define EBPF_MAX_LICENSE_BYTES 127          /* bytes of the licence string */
#define EBPF_SHA256_BYTES 32
#define EBPF_HELPER_MAX_ID 211u             /* last helper in the name table */
#define EBPF_HELPER_NAME_BYTES 48           /* "bpf_..." or "helper#N", NUL */

/* Where a program's type came from. */
enum ebpf_type_source {
	EBPF_TYPE_LIBBPF = 0, /* libbpf knows the section name */
	EBPF_TYPE_PREFIX,     /* section-name prefix rule (L3AF's "xdp-root"...) */
	EBPF_TYPE_UNKNOWN,    /* neither: prog_type is "unspec" */
};

/* One program. Strings are owned by the object, except prog_type and
 * attach_type, which are static strings (libbpf's names). */
struct ebpf_prog {
	char *name;                 /* function name */
	char *section;              /* ELF section name */
	const char *prog_type;      /* "xdp", "sched_cls", "kprobe", ... "unspec" */
	const char *attach_type;    /* expected attach type, or NULL if none */
	enum ebpf_type_source type_source;
	uint32_t insn_cnt;          /* 8-byte instructions, as stored in the ELF */
	uint8_t insns_sha256[EBPF_SHA256_BYTES]; /* of those insn_cnt * 8 bytes */
	size_t nhelpers;
	uint32_t *helpers;          /* distinct helper IDs called, ascending */
	size_t nkfuncs;
	char **kfuncs;              /* distinct kfunc names called, bytewise ascending */
	uint32_t tail_calls;        /* call sites of bpf_tail_call (helper 12) */
	uint32_t core_relos;        /* CO-RE relocation records in this program */
};

/* One map, as declared (libbpf's view before load, internal maps such as
 * .rodata included and marked). type is a static string. */
struct ebpf_map {
	char *name;
	const char *type;           /* "prog_array", "hash", ..., "unknown" */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	bool pinned_by_name;        /* LIBBPF_PIN_BY_NAME */
	bool internal;              /* .rodata, .data, .bss, .kconfig */
};

/* One inspected object (owned; free with ebpf_object_free). */
struct ebpf_object {
	char *file;                 /* the file_name given to ebpf_inspect */
	char *license;              /* the "license" section's string, or NULL */
	bool gpl_compatible;        /* license is on the kernel's GPL list */
	bool btf;                   /* .BTF present and parsed by libbpf */
	uint32_t core_relos;        /* CO-RE records in .BTF.ext, all sections */
	size_t nprogs;
	struct ebpf_prog *progs;    /* in libbpf's order (section, offset) */
	size_t nmaps;
	struct ebpf_map *maps;      /* in libbpf's order */
};

/*
 * Inspect the ELF object elf[len]; file_name (may be NULL) names it in
 * messages and in the result. On success *out receives a new object.
 * Errors: L3AF_E_INVALID (not an ELF object, wrong class/byte order/machine,
 * a section past the end of the file, a program section whose size is not a
 * multiple of 8, bad symbol or relocation indices, or libbpf refused it: the
 * message names the file, the check and libbpf's or libelf's text),
 * L3AF_E_LIMIT (more than EBPF_MAX_OBJECT_BYTES, EBPF_MAX_INSNS,
 * EBPF_MAX_PROGS or EBPF_MAX_MAPS), L3AF_E_NOMEM, L3AF_E_CRYPTO.
 * Thread safety: safe to call from several threads. It installs, once, a
 * libbpf print callback that drops libbpf's messages (keeping the last
 * warning per thread for error texts); that replaces any callback the
 * process had set through libbpf_set_print.
 */
enum l3af_status ebpf_inspect(const uint8_t *elf, size_t len, const char *file_name,
			      struct ebpf_object **out, struct l3af_err *err) L3AF_MUST_CHECK;

/* Free, NULL is fine. */
void ebpf_object_free(struct ebpf_object *obj);

/*
 * The object as compact JSON with sorted keys (docs/policy-format.md gives
 * the shape), NUL-terminated; the caller frees *json with l3af_free.
 * Errors: L3AF_E_NOMEM.
 */
enum l3af_status ebpf_object_to_json(const struct ebpf_object *obj, char **json,
				     struct l3af_err *err) L3AF_MUST_CHECK;
struct json_t;
/* The same facts as a jansson object (a new reference; NULL when out of
 * memory), for callers that go on working on the tree. */
struct json_t *ebpf_object_json(const struct ebpf_object *obj);

/* The kernel's name of helper id ("bpf_map_lookup_elem"), or NULL if id is
 * 0 or beyond EBPF_HELPER_MAX_ID. Static string. */
const char *ebpf_helper_name(uint32_t id);
/* The name of id, or "helper#<id>" for an unknown one, into out. */
const char *ebpf_helper_format(uint32_t id, char out[static EBPF_HELPER_NAME_BYTES]);
/* The helper called name ("bpf_probe_write_user" or "helper#36"); false if
 * no such helper. */
bool ebpf_helper_lookup(const char *name, uint32_t *id_out);
/* The kernel's license_is_gpl_compatible() list, exact match. */
bool ebpf_license_gpl_compatible(const char *license);

/*
 * Repository policy (docs/policy-format.md): a JSON document of rules that
 * every package published to a repository must meet. Opaque.
 */
struct ebpf_policy;

/*
 * Parse a policy document json[len] (UTF-8 JSON object; duplicate keys,
 * unknown keys, wrong types and unknown helper names are refused). Keys left
 * out take the defaults of ebpf_policy_default. Errors: L3AF_E_INVALID
 * (naming the key and jansson's text), L3AF_E_LIMIT (over 64 KiB or more than
 * 1024 list items), L3AF_E_NOMEM. Free *out with ebpf_policy_free.
 */
enum l3af_status ebpf_policy_parse(const char *json, size_t len, struct ebpf_policy **out,
				   struct l3af_err *err) L3AF_MUST_CHECK;

/* The default policy: documentation and licence required, any program type,
 * denied helpers bpf_probe_write_user, bpf_override_return, bpf_send_signal,
 * bpf_send_signal_thread, no denied kfuncs, tail calls, user-space binaries
 * and Windows native images allowed. NULL if out of memory. */
struct ebpf_policy *ebpf_policy_default(void);

/* Free, NULL is fine. */
void ebpf_policy_free(struct ebpf_policy *policy);

/* Called once per violation. file and program are "" when the rule is about
 * the package (documentation, licence file, user binaries, native images) or
 * the whole object (licence string); rule is the policy key that was broken
 * (e.g. "denied_helpers"); message says what was found. All strings are
 * borrowed for the duration of the call. */
typedef void (*ebpf_violation_fn)(void *ctx, const char *file, const char *program,
				  const char *rule, const char *message);

/* What a package holds besides its BPF objects, for the package rules. */
struct ebpf_pkg_facts {
	bool has_doc;      /* a file of kind doc */
	bool has_license;  /* a file of kind license */
	bool has_user_exe; /* a file of kind user-exe (also a PE image whose
			    * subsystem is not NATIVE, i.e. a Windows .exe) */
	bool has_native;   /* a file of kind native-sys (Windows native image) */
};

/* The package facts of pkg, from its files' kinds. */
struct ebpf_pkg_facts ebpf_pkg_facts_of(const struct ebpf_pkg *pkg);

/*
 * Check n inspected objects of one package, plus the package facts, against
 * policy. Calls on_violation (may be NULL) for each violation, in a stable
 * order (package rules, then objects in order, programs in order, rules in
 * document order). Returns the number of violations (0 = the package meets
 * the policy); a NULL policy or NULL facts is itself a violation (fails
 * closed). Pure: no allocation, no state; thread safe.
 */
size_t ebpf_policy_check(const struct ebpf_policy *policy, const struct ebpf_object *const *objs,
			 size_t n, const struct ebpf_pkg_facts *facts,
			 ebpf_violation_fn on_violation, void *ctx);

#endif
