/*
 * package.c - L3AF package archives: build a byte-reproducible tar.gz from a
 * directory, read a tar, tar.gz or zip package safely from memory, and the
 * file manifest.
 *
 * Package layout (shared/research/ebpf-signing.md 1.3 and 7.1):
 *
 *   l3af_<name>/              one top-level folder, name [a-z][a-z0-9_-]{0,63}
 *   l3af_<name>/x.bpf.o       files and sub-folders below it, nothing else
 *   l3af_<name>/docs/...
 *
 * Security properties of reading (ebpf_pkg_read):
 *  - only libarchive parses the bytes (tar, zip; gzip or no filter);
 *  - every count and size is capped, and bytes are counted as they are
 *    decompressed, against the size the entry's header declares, which is
 *    itself capped before anything is allocated: a zip bomb stops at the cap
 *    and a lying header is refused;
 *  - nothing is ever written to disk; only regular files and directories
 *    with clean relative ASCII names under the one folder are accepted.
 *
 * Reproducibility of writing (ebpf_pkg_create): the archive depends only on
 * the package name, the file paths, contents and execute bits, and
 * $SOURCE_DATE_EPOCH; never on time, umask, owner, readdir order or locale
 * (names are printable ASCII, see path_rule).
 */
#define _POSIX_C_SOURCE 200809L
#include "ebpf.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOP_PREFIX "l3af_"
#define TOP_PREFIX_LEN 5
/* "l3af_" name "/" path, NUL: the longest archive path we accept. */
#define ENTRY_PATH_MAX (TOP_PREFIX_LEN + EBPF_PKG_NAME_MAX + 1 + EBPF_PKG_MAX_PATH)
#define DIRS_MAX EBPF_PKG_MAX_FILES   /* sub-folders in a package */
#define SHOW_BYTES 128                /* an entry name as shown in messages */
#define EM_BPF_MACHINE 247            /* ELF e_machine of eBPF (EM_BPF) */
#define MTIME_MAX 077777777777ll      /* largest mtime a ustar header holds */
#define SPECIAL_BITS 07000            /* setuid, setgid, sticky */

/* --- small helpers ------------------------------------------------------ */

/* An untrusted name made printable for a message: printable ASCII stays,
 * everything else becomes \xNN; long names are cut with "...". */
static const char *show(const char *s, char out[static SHOW_BYTES])
{
	size_t o = 0;

	for (; s && *s && o + 8 < SHOW_BYTES; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, SHOW_BYTES - o, "\\x%02x", c);
	}
	if (s && *s)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = 0;
	return out;
}

static char *dup_mem(const char *s, size_t len)
{
	char *p = l3af_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static enum l3af_status sha256(const uint8_t *data, size_t len, uint8_t out[static 32],
			       struct l3af_err *err)
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !EVP_Digest(data, len, out, NULL, sha256_md, NULL))
		return l3af_fail(err, L3AF_E_CRYPTO, "ebpf: package: SHA-256: %s",
				 ERR_reason_error_string(ERR_get_error()));
	return L3AF_OK;
}

/* --- names and paths ---------------------------------------------------- */

/* The rule a '/'-separated relative path breaks, or NULL if it is clean:
 * printable ASCII only (see below), no backslash (a separator on Windows,
 * where native-sys packages are unpacked), not absolute, no empty, "." or
 * ".." component.
 *
 * Why ASCII and not any UTF-8: libarchive converts non-ASCII names through
 * the process locale, so whether such a name reads back, and the bytes
 * written for it, would depend on the caller's locale (and libarchive 3.6
 * crashes writing a UTF-8 name in the C locale). A verifier must decide the
 * same way everywhere, so such names are refused on both sides. */
static const char *path_rule(const char *path)
{
	size_t n = strlen(path), k;

	if (n == 0)
		return "empty name";
	if (path[0] == '/')
		return "absolute path";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c > 0x7e)
			return "name holds a control or non-ASCII byte";
		if (c == '\\')
			return "backslash in name";
	}
	for (const char *c = path; c; c = strchr(c, '/')) {
		c += *c == '/';
		k = strcspn(c, "/");
		if (k == 0)
			return "empty path component";
		if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return k == 1 ? "\".\" path component" : "\"..\" path component";
	}
	return NULL;
}

/* Package name rule: 1..EBPF_PKG_NAME_MAX of [a-z0-9_-], starting a-z. */
static bool name_valid(const char *s, size_t len)
{
	if (len == 0 || len > EBPF_PKG_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* --- file kinds ---------------------------------------------------------- */

static const char *const kind_names[] = {
	[EBPF_KIND_BPF_ELF] = "bpf-elf",     [EBPF_KIND_NATIVE_SYS] = "native-sys",
	[EBPF_KIND_USER_EXE] = "user-exe",   [EBPF_KIND_DOC] = "doc",
	[EBPF_KIND_LICENSE] = "license",     [EBPF_KIND_CONFIG] = "config",
};

const char *ebpf_file_kind_name(enum ebpf_file_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

static bool is_elf(const uint8_t *d, size_t n)
{
	return n >= 20 && memcmp(d, "\177ELF", 4) == 0;
}

/* e_machine sits at byte 18 in both ELF classes, in the byte order that
 * e_ident[EI_DATA] names (2 = big endian, as bpfeb objects are). */
static unsigned elf_machine(const uint8_t *d)
{
	return d[5] == 2 ? (unsigned)d[18] << 8 | d[19] : (unsigned)d[19] << 8 | d[18];
}

/* A PE image: "MZ", and e_lfanew (at 0x3c) pointing at "PE\0\0". */
static bool is_pe(const uint8_t *d, size_t n)
{
	uint32_t off;

	if (n < 0x40 || d[0] != 'M' || d[1] != 'Z')
		return false;
	off = (uint32_t)d[0x3c] | (uint32_t)d[0x3d] << 8 | (uint32_t)d[0x3e] << 16 |
	      (uint32_t)d[0x3f] << 24;
	return off <= n - 4 && memcmp(d + off, "PE\0\0", 4) == 0;
}

static bool prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s == 0 || (*s | 0x20) != (*prefix | 0x20))
			return false;
	return true;
}

static bool suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && prefix_ci(s + n - k, suffix);
}

/* Kind by content first, then by mode, then by name (ebpf.h). */
static enum ebpf_file_kind classify(const char *path, const uint8_t *d, size_t n,
				    unsigned mode)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (is_elf(d, n) && elf_machine(d) == EM_BPF_MACHINE)
		return EBPF_KIND_BPF_ELF;
	if (is_pe(d, n) || suffix_ci(base, ".sys"))
		return EBPF_KIND_NATIVE_SYS;
	if (is_elf(d, n) || (mode & 0111))
		return EBPF_KIND_USER_EXE;
	if (prefix_ci(base, "README") || suffix_ci(base, ".md") || strncmp(path, "docs/", 5) == 0)
		return EBPF_KIND_DOC;
	if (prefix_ci(base, "LICENSE") || prefix_ci(base, "COPYING"))
		return EBPF_KIND_LICENSE;
	return EBPF_KIND_CONFIG;
}

/* --- the package object --------------------------------------------------- */

void ebpf_pkg_free(struct ebpf_pkg *pkg)
{
	if (!pkg)
		return;
	for (size_t i = 0; i < pkg->nfiles; i++) {
		l3af_free(pkg->files[i].path);
		l3af_free(pkg->files[i].data);
	}
	l3af_free(pkg->files);
	l3af_free(pkg->name);
	l3af_free(pkg);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ebpf_pkg_file *)a)->path,
		      ((const struct ebpf_pkg_file *)b)->path);
}

const struct ebpf_pkg_file *ebpf_pkg_find(const struct ebpf_pkg *pkg, const char *path)
{
	struct ebpf_pkg_file key = {.path = (char *)(uintptr_t)path};

	if (!pkg || !path || pkg->nfiles == 0)
		return NULL;
	return bsearch(&key, pkg->files, pkg->nfiles, sizeof(key), file_cmp);
}

/* --- manifest ------------------------------------------------------------- */

static json_t *manifest_row(const struct ebpf_pkg_file *f)
{
	char hex[65], mode[8];

	l3af_hex_encode(hex, f->sha256, sizeof(f->sha256));
	snprintf(mode, sizeof(mode), "%04o", f->mode);
	return json_pack("{s:s, s:s, s:s, s:s, s:I}", "kind", ebpf_file_kind_name(f->kind),
			 "mode", mode, "path", f->path, "sha256", hex, "size",
			 (json_int_t)f->size);
}

static json_t *manifest_build(const struct ebpf_pkg *pkg)
{
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < pkg->nfiles; i++) {
		if (json_array_append_new(rows, manifest_row(&pkg->files[i])) != 0) {
			json_decref(rows);
			return NULL;
		}
	}
	return rows;
}

enum l3af_status ebpf_pkg_manifest_json(const struct ebpf_pkg *pkg, char **json,
					struct l3af_err *err)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
	enum l3af_status rc = L3AF_OK;
	json_t *rows = NULL;
	size_t len;

	if (!pkg || !json)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf: manifest: no package or output");
	*json = NULL;
	rows = manifest_build(pkg);
	len = rows ? json_dumpb(rows, NULL, 0, flags) : 0;
	if (len == 0) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "ebpf: manifest: building the JSON failed");
		goto out;
	}
	*json = l3af_malloc(len + 1);
	if (!*json) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "ebpf: manifest: out of memory");
		goto out;
	}
	json_dumpb(rows, *json, len, flags);
	(*json)[len] = 0;
out:
	json_decref(rows);
	return rc;
}

/* --- reading ----------------------------------------------------------------
 * One pass over the archive's entries; every entry is checked and either
 * refused or kept (files with their bytes, folders by path only). The
 * whole-package rules (duplicates, a file used as a folder) run at the end
 * over the sorted lists. */

struct reader {
	struct archive *a;
	struct ebpf_pkg *pkg;
	size_t files_cap;
	char **dirs;         /* sub-folder paths, relative, no trailing '/' */
	size_t ndirs, dirs_cap;
	bool top_seen;       /* the entry "l3af_<name>/" itself */
	size_t index;        /* entries read so far */
	uint64_t total;      /* file bytes, as read */
	struct l3af_err *err;
};

static enum l3af_status entry_fail(struct reader *r, enum l3af_status code, const char *path,
				   const char *rule)
{
	char buf[SHOW_BYTES];

	return l3af_fail(r->err, code, "ebpf: package: entry %zu \"%s\": %s", r->index,
			 show(path, buf), rule);
}

static const char *type_rule(struct archive_entry *e)
{
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
	case AE_IFDIR:
		return NULL;
	case AE_IFLNK:
		return "symbolic link";
	case AE_IFCHR:
	case AE_IFBLK:
		return "device";
	case AE_IFIFO:
		return "FIFO";
	case AE_IFSOCK:
		return "socket";
	default:
		return "not a regular file or directory";
	}
}

/* What kind of entry this is, and its metadata (ebpf.h's rules). */
static const char *meta_rule(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return "hard link";
	if (archive_entry_symlink(e))
		return "symbolic link";
	if (type_rule(e))
		return type_rule(e);
	if (archive_entry_perm(e) & SPECIAL_BITS)
		return "setuid, setgid or sticky bit";
	/* Data under a folder entry would be inflated and skipped unseen. (tar
	 * folders never get here: libarchive reads their size as 0.) */
	if (archive_entry_filetype(e) == AE_IFDIR && archive_entry_size(e) != 0)
		return "folder entry with data";
	if (archive_entry_is_encrypted(e))
		return "encrypted";
	if (archive_entry_sparse_count(e) > 0)
		return "sparse file";
	return NULL;
}

static enum l3af_status dir_add(struct reader *r, const char *rel, const char *path)
{
	if (r->ndirs == DIRS_MAX)
		return entry_fail(r, L3AF_E_LIMIT, path, "more than 1024 folders");
	if (r->ndirs == r->dirs_cap) {
		size_t cap = r->dirs_cap ? r->dirs_cap * 2 : 16;
		char **v = l3af_realloc(r->dirs, cap * sizeof(*v));
		if (!v)
			return entry_fail(r, L3AF_E_NOMEM, path, "out of memory");
		r->dirs = v, r->dirs_cap = cap;
	}
	r->dirs[r->ndirs] = dup_mem(rel, strlen(rel));
	if (!r->dirs[r->ndirs])
		return entry_fail(r, L3AF_E_NOMEM, path, "out of memory");
	r->ndirs++;
	return L3AF_OK;
}

/* The first entry names the package; every later one must share its folder. */
static enum l3af_status top_check(struct reader *r, const char *path, size_t toplen)
{
	const char *name = r->pkg->name;

	if (!name) {
		if (toplen <= TOP_PREFIX_LEN || strncmp(path, TOP_PREFIX, TOP_PREFIX_LEN) != 0 ||
		    !name_valid(path + TOP_PREFIX_LEN, toplen - TOP_PREFIX_LEN))
			return entry_fail(r, L3AF_E_INVALID, path,
					  "top-level folder is not l3af_<name> with name "
					  "[a-z][a-z0-9_-]{0,63}");
		r->pkg->name = dup_mem(path + TOP_PREFIX_LEN, toplen - TOP_PREFIX_LEN);
		return r->pkg->name ? L3AF_OK : entry_fail(r, L3AF_E_NOMEM, path, "out of memory");
	}
	if (toplen != TOP_PREFIX_LEN + strlen(name) ||
	    strncmp(path + TOP_PREFIX_LEN, name, toplen - TOP_PREFIX_LEN) != 0)
		return entry_fail(r, L3AF_E_INVALID, path,
				  "second top-level folder (only one l3af_<name>/ is allowed)");
	return L3AF_OK;
}

/* Splits "l3af_x/rel" into the folder check and *rel (NULL for the folder's
 * own entry). A file directly at the top is outside the folder. */
static enum l3af_status path_split(struct reader *r, const char *path, bool dir,
				   const char **rel)
{
	const char *slash = strchr(path, '/');
	enum l3af_status rc;

	*rel = slash ? slash + 1 : NULL;
	if (!slash && !dir)
		return entry_fail(r, L3AF_E_INVALID, path,
				  "file outside the top-level folder l3af_<name>/");
	rc = top_check(r, path, slash ? (size_t)(slash - path) : strlen(path));
	if (rc != L3AF_OK || slash)
		return rc;
	if (r->top_seen)
		return entry_fail(r, L3AF_E_INVALID, path, "duplicate path");
	r->top_seen = true;
	return L3AF_OK;
}

/* Copies the entry's path into buf (dropping a folder's trailing '/'),
 * checks it and points *rel at the part below the top-level folder. */
static enum l3af_status path_check(struct reader *r, const char *raw, bool dir,
				   char buf[static ENTRY_PATH_MAX + 2], const char **rel)
{
	size_t len = raw ? strlen(raw) : 0;
	const char *rule;
	enum l3af_status rc;

	if (!raw)
		return entry_fail(r, L3AF_E_INVALID, "", "entry has no name");
	if (len > ENTRY_PATH_MAX + 1)
		return entry_fail(r, L3AF_E_LIMIT, raw, "name too long");
	memcpy(buf, raw, len + 1);
	if (dir && len > 1 && buf[len - 1] == '/')
		buf[--len] = 0;
	rule = path_rule(buf);
	if (rule)
		return entry_fail(r, L3AF_E_INVALID, raw, rule);
	rc = path_split(r, buf, dir, rel);
	if (rc != L3AF_OK)
		return rc;
	if (*rel && strlen(*rel) > EBPF_PKG_MAX_PATH)
		return entry_fail(r, L3AF_E_LIMIT, raw, "path longer than 255 bytes");
	return L3AF_OK;
}

/* Reads exactly the declared size, counting bytes as they are inflated:
 * more or fewer bytes than the header declares refuses the entry. */
static enum l3af_status data_read(struct reader *r, uint8_t *buf, uint64_t size,
				  const char *path)
{
	uint8_t probe[512];
	uint64_t got = 0;
	char rule[320];

	for (;;) {
		la_ssize_t n = got < size
				       ? archive_read_data(r->a, buf + got, (size_t)(size - got))
				       : archive_read_data(r->a, probe, sizeof(probe));
		if (n == 0)
			break;
		if (n < 0) {
			snprintf(rule, sizeof(rule),
				 "data does not match the %llu bytes its header declares "
				 "(%llu read): %s",
				 (unsigned long long)size, (unsigned long long)got,
				 archive_error_string(r->a));
			return entry_fail(r, L3AF_E_INVALID, path, rule);
		}
		if (got == size)
			return entry_fail(r, L3AF_E_INVALID, path,
					  "data is longer than its header declares");
		got += (uint64_t)n;
	}
	if (got == size)
		return L3AF_OK;
	snprintf(rule, sizeof(rule), "data is shorter than its header declares (%llu of %llu bytes)",
		 (unsigned long long)got, (unsigned long long)size);
	return entry_fail(r, L3AF_E_INVALID, path, rule);
}

/* Size rules, checked before anything is allocated. */
static enum l3af_status size_check(struct reader *r, struct archive_entry *e,
				   const char *path, uint64_t *size)
{
	la_int64_t s = archive_entry_size(e);

	if (r->pkg->nfiles == EBPF_PKG_MAX_FILES)
		return entry_fail(r, L3AF_E_LIMIT, path, "more than 1024 files");
	if (!archive_entry_size_is_set(e) || s < 0)
		return entry_fail(r, L3AF_E_INVALID, path, "header declares no size");
	if ((uint64_t)s > EBPF_PKG_MAX_FILE_BYTES)
		return entry_fail(r, L3AF_E_LIMIT, path,
				  "file larger than EBPF_PKG_MAX_FILE_BYTES (64 MiB)");
	if (r->total + (uint64_t)s > EBPF_PKG_MAX_TOTAL_BYTES)
		return entry_fail(r, L3AF_E_LIMIT, path,
				  "files larger than EBPF_PKG_MAX_TOTAL_BYTES (256 MiB) in all");
	*size = (uint64_t)s;
	return L3AF_OK;
}

static struct ebpf_pkg_file *file_slot(struct reader *r)
{
	struct ebpf_pkg *pkg = r->pkg;

	if (pkg->nfiles == r->files_cap) {
		size_t cap = r->files_cap ? r->files_cap * 2 : 16;
		struct ebpf_pkg_file *v = l3af_realloc(pkg->files, cap * sizeof(*v));
		if (!v)
			return NULL;
		pkg->files = v, r->files_cap = cap;
	}
	memset(&pkg->files[pkg->nfiles], 0, sizeof(pkg->files[0]));
	return &pkg->files[pkg->nfiles++];
}

static enum l3af_status file_add(struct reader *r, struct archive_entry *e, const char *rel,
				 const char *path)
{
	struct ebpf_pkg_file *f;
	uint64_t size = 0;
	enum l3af_status rc = size_check(r, e, path, &size);

	if (rc != L3AF_OK)
		return rc;
	f = file_slot(r);
	if (f) {
		f->path = dup_mem(rel, strlen(rel));
		f->data = l3af_malloc(size ? (size_t)size : 1);
	}
	if (!f || !f->path || !f->data)
		return entry_fail(r, L3AF_E_NOMEM, path, "out of memory");
	rc = data_read(r, f->data, size, path);
	if (rc != L3AF_OK)
		return rc;
	r->total += size;
	f->size = size;
	f->mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
	f->kind = classify(f->path, f->data, (size_t)size, f->mode);
	return sha256(f->data, (size_t)size, f->sha256, r->err);
}

static enum l3af_status entry_read(struct reader *r, struct archive_entry *e)
{
	char buf[ENTRY_PATH_MAX + 2];
	const char *raw = archive_entry_pathname(e), *rel = NULL, *rule = meta_rule(e);
	bool dir = archive_entry_filetype(e) == AE_IFDIR;
	enum l3af_status rc;

	if (rule)
		return entry_fail(r, L3AF_E_INVALID, raw ? raw : "", rule);
	rc = path_check(r, raw, dir, buf, &rel);
	if (rc != L3AF_OK)
		return rc;
	if (!dir)
		return file_add(r, e, rel, raw);
	return rel ? dir_add(r, rel, raw) : L3AF_OK;
}

static enum l3af_status entries_read(struct reader *r)
{
	struct archive_entry *e;
	enum l3af_status rc = L3AF_OK;
	int ar;

	while (rc == L3AF_OK) {
		ar = archive_read_next_header(r->a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		r->index++;
		if (ar != ARCHIVE_OK)
			return l3af_fail(r->err, L3AF_E_INVALID,
					 "ebpf: package: entry %zu: bad header: %s", r->index,
					 archive_error_string(r->a));
		rc = entry_read(r, e);
	}
	return rc;
}

/* --- whole-package rules --- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No path may lie below a path that is a file ("a" and "a/b"). */
static enum l3af_status parents_check(struct reader *r, const char *path)
{
	char parent[EBPF_PKG_MAX_PATH + 1], a[SHOW_BYTES], b[SHOW_BYTES];

	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		size_t len = (size_t)(s - path);
		memcpy(parent, path, len);
		parent[len] = 0;
		if (ebpf_pkg_find(r->pkg, parent))
			return l3af_fail(r->err, L3AF_E_INVALID,
					 "ebpf: package: \"%s\" lies inside \"%s\", which is a file",
					 show(path, a), show(parent, b));
	}
	return L3AF_OK;
}

static enum l3af_status dup_fail(struct reader *r, const char *path)
{
	char buf[SHOW_BYTES];

	return l3af_fail(r->err, L3AF_E_INVALID, "ebpf: package: \"%s\": duplicate path",
			 show(path, buf));
}

static enum l3af_status package_check(struct reader *r)
{
	struct ebpf_pkg *pkg = r->pkg;
	enum l3af_status rc = L3AF_OK;

	qsort(pkg->files, pkg->nfiles, sizeof(pkg->files[0]), file_cmp);
	if (r->ndirs > 0)
		qsort(r->dirs, r->ndirs, sizeof(r->dirs[0]), str_cmp);
	for (size_t i = 1; i < pkg->nfiles; i++)
		if (strcmp(pkg->files[i - 1].path, pkg->files[i].path) == 0)
			return dup_fail(r, pkg->files[i].path);
	for (size_t i = 0; i < r->ndirs; i++) {
		if ((i > 0 && strcmp(r->dirs[i - 1], r->dirs[i]) == 0) ||
		    ebpf_pkg_find(pkg, r->dirs[i]))
			return dup_fail(r, r->dirs[i]);
		rc = parents_check(r, r->dirs[i]);
		if (rc != L3AF_OK)
			return rc;
	}
	for (size_t i = 0; i < pkg->nfiles && rc == L3AF_OK; i++)
		rc = parents_check(r, pkg->files[i].path);
	return rc;
}

static enum l3af_status reader_finish(struct reader *r)
{
	if (!r->pkg->name)
		return l3af_fail(r->err, L3AF_E_INVALID, "ebpf: package: archive has no entries");
	if (r->pkg->nfiles == 0)
		return l3af_fail(r->err, L3AF_E_INVALID, "ebpf: package: l3af_%s/ holds no files",
				 r->pkg->name);
	return package_check(r);
}

static enum l3af_status reader_open(struct reader *r, const uint8_t *archive, size_t len)
{
	r->pkg = l3af_calloc(1, sizeof(*r->pkg));
	r->a = archive_read_new();
	if (!r->pkg || !r->a)
		return l3af_fail(r->err, L3AF_E_NOMEM, "ebpf: package: out of memory");
	/* Only gzip or no filter, only tar and zip: the formats packages use. */
	if (archive_read_support_filter_gzip(r->a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(r->a) != ARCHIVE_OK)
		return l3af_fail(r->err, L3AF_E_INTERNAL, "ebpf: package: libarchive setup: %s",
				 archive_error_string(r->a));
	if (archive_read_open_memory(r->a, archive, len) != ARCHIVE_OK)
		return l3af_fail(r->err, L3AF_E_INVALID,
				 "ebpf: package: not a readable tar, tar.gz or zip archive: %s",
				 archive_error_string(r->a));
	return L3AF_OK;
}

static void reader_close(struct reader *r)
{
	for (size_t i = 0; i < r->ndirs; i++)
		l3af_free(r->dirs[i]);
	l3af_free(r->dirs);
	archive_read_free(r->a);
	ebpf_pkg_free(r->pkg);
}

enum l3af_status ebpf_pkg_read(const uint8_t *archive, size_t len, struct ebpf_pkg **out,
			       struct l3af_err *err)
{
	struct reader r = {.err = err};
	enum l3af_status rc;

	if (!out)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf: package: no output pointer");
	*out = NULL;
	if (!archive || len == 0)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf: package: empty archive");
	if (len > EBPF_PKG_MAX_ARCHIVE_BYTES)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "ebpf: package: archive of %zu bytes, limit %llu", len,
				 EBPF_PKG_MAX_ARCHIVE_BYTES);
	rc = reader_open(&r, archive, len);
	if (rc == L3AF_OK)
		rc = entries_read(&r);
	if (rc == L3AF_OK)
		rc = reader_finish(&r);
	if (rc == L3AF_OK)
		*out = r.pkg, r.pkg = NULL;
	reader_close(&r);
	return rc;
}

/* --- creating: the source tree -------------------------------------------
 * The folder is walked without following symlinks; each regular file is
 * read whole into memory (so the archive holds what was checked), then the
 * list is sorted and written. */

struct src_entry {
	char *path; /* relative; folders end in '/', which sorts them bytewise */
	bool dir;
	unsigned mode;
	char *data;
	size_t size;
};

struct src_tree {
	const char *root;
	struct src_entry *v;
	size_t n, cap, nfiles, ndirs;
	uint64_t total;
	struct l3af_err *err;
};

static enum l3af_status src_fail(struct src_tree *t, enum l3af_status code, const char *rel,
				 const char *rule)
{
	char buf[SHOW_BYTES];

	return l3af_fail(t->err, code, "ebpf: package: create: %s/%s: %s", t->root,
			 show(rel, buf), rule);
}

static void tree_free(struct src_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		l3af_free(t->v[i].path);
		l3af_free(t->v[i].data);
	}
	l3af_free(t->v);
}

static struct src_entry *tree_slot(struct src_tree *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct src_entry *v = l3af_realloc(t->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v, t->cap = cap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

/* The rules for a source file's metadata, as ebpf_pkg_read applies them. */
static const char *src_rule(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "symbolic link";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "device";
	if (S_ISFIFO(st->st_mode))
		return "FIFO";
	if (S_ISSOCK(st->st_mode))
		return "socket";
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return "not a regular file or directory";
	if (st->st_mode & SPECIAL_BITS)
		return "setuid, setgid or sticky bit";
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		return "hard-linked file";
	return NULL;
}

static enum l3af_status src_file_add(struct src_tree *t, const char *rel, const char *full,
				     const struct stat *st)
{
	struct src_entry *s;
	enum l3af_status rc;

	if (t->nfiles == EBPF_PKG_MAX_FILES)
		return src_fail(t, L3AF_E_LIMIT, rel, "more than 1024 files");
	if ((uint64_t)st->st_size > EBPF_PKG_MAX_TOTAL_BYTES - t->total)
		return src_fail(t, L3AF_E_LIMIT, rel, "files larger than 256 MiB in all");
	s = tree_slot(t);
	if (!s || !(s->path = dup_mem(rel, strlen(rel))))
		return src_fail(t, L3AF_E_NOMEM, rel, "out of memory");
	rc = l3af_file_read(full, EBPF_PKG_MAX_FILE_BYTES, &s->data, &s->size, t->err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(t->err, "ebpf: package: create");
		return rc;
	}
	if (s->size != (size_t)st->st_size)
		return src_fail(t, L3AF_E_IO, rel, "changed while being read");
	s->mode = (st->st_mode & 0111) ? 0755 : 0644;
	t->nfiles++;
	t->total += s->size;
	return L3AF_OK;
}

static enum l3af_status tree_walk(struct src_tree *t, const char *rel);

static enum l3af_status src_dir_add(struct src_tree *t, const char *rel)
{
	size_t len = strlen(rel);
	struct src_entry *s;

	if (t->ndirs == DIRS_MAX)
		return src_fail(t, L3AF_E_LIMIT, rel, "more than 1024 folders");
	s = tree_slot(t);
	if (!s || !(s->path = l3af_malloc(len + 2)))
		return src_fail(t, L3AF_E_NOMEM, rel, "out of memory");
	memcpy(s->path, rel, len);
	memcpy(s->path + len, "/", 2);
	s->dir = true;
	s->mode = 0755;
	t->ndirs++;
	return tree_walk(t, rel);
}

/* One directory entry: its name rules, its type, then file or folder. */
static enum l3af_status src_add(struct src_tree *t, int dfd, const char *parent,
				const char *name)
{
	char rel[EBPF_PKG_MAX_PATH + 2], full[PATH_MAX];
	struct stat st;
	const char *rule;
	int n = snprintf(rel, sizeof(rel), "%s%s%s", parent, *parent ? "/" : "", name);

	if (n < 0 || (size_t)n > EBPF_PKG_MAX_PATH)
		return src_fail(t, L3AF_E_LIMIT, name, "path longer than 255 bytes");
	rule = path_rule(rel);
	if (rule)
		return src_fail(t, L3AF_E_INVALID, rel, rule);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return src_fail(t, L3AF_E_IO, rel, strerror(errno));
	rule = src_rule(&st);
	if (rule)
		return src_fail(t, L3AF_E_INVALID, rel, rule);
	if (S_ISDIR(st.st_mode))
		return src_dir_add(t, rel);
	n = snprintf(full, sizeof(full), "%s/%s", t->root, rel);
	if (n < 0 || (size_t)n >= sizeof(full))
		return src_fail(t, L3AF_E_LIMIT, rel, "path too long");
	return src_file_add(t, rel, full, &st);
}

static enum l3af_status tree_walk(struct src_tree *t, const char *rel)
{
	char full[PATH_MAX];
	enum l3af_status rc = L3AF_OK;
	struct dirent *d;
	DIR *dir;

	snprintf(full, sizeof(full), "%s%s%s", t->root, *rel ? "/" : "", rel);
	dir = opendir(full);
	if (!dir)
		return src_fail(t, L3AF_E_IO, rel, strerror(errno));
	errno = 0;
	while (rc == L3AF_OK && (d = readdir(dir))) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			rc = src_add(t, dirfd(dir), rel, d->d_name);
		errno = 0;
	}
	if (rc == L3AF_OK && errno != 0)
		rc = src_fail(t, L3AF_E_IO, rel, strerror(errno));
	closedir(dir);
	return rc;
}

static int src_cmp(const void *a, const void *b)
{
	return strcmp(((const struct src_entry *)a)->path, ((const struct src_entry *)b)->path);
}

/* --- creating: the archive --------------------------------------------- */

struct outbuf {
	uint8_t *buf;
	size_t len, cap;
	enum l3af_status status; /* why out_write refused, if it did */
};

static la_ssize_t out_write(struct archive *a, void *ctx, const void *data, size_t n)
{
	struct outbuf *o = ctx;

	if (n > EBPF_PKG_MAX_ARCHIVE_BYTES - o->len) {
		o->status = L3AF_E_LIMIT;
		archive_set_error(a, EFBIG, "archive larger than 256 MiB");
		return -1;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 65536;
		while (cap < o->len + n)
			cap *= 2;
		uint8_t *p = l3af_realloc(o->buf, cap);
		if (!p) {
			o->status = L3AF_E_NOMEM;
			archive_set_error(a, ENOMEM, "out of memory");
			return -1;
		}
		o->buf = p, o->cap = cap;
	}
	memcpy(o->buf + o->len, data, n);
	o->len += n;
	return (la_ssize_t)n;
}

static enum l3af_status write_fail(struct archive *a, const struct outbuf *o,
				   const char *step, struct l3af_err *err)
{
	enum l3af_status code = o->status ? o->status : L3AF_E_INTERNAL;

	if (!o->status && archive_errno(a) == ENOMEM)
		code = L3AF_E_NOMEM;
	return l3af_fail(err, code, "ebpf: package: create: %s: %s", step,
			 archive_error_string(a));
}

/* pax (restricted: plain ustar headers unless a field does not fit, e.g. a
 * path over 100 bytes that cannot be split) inside gzip without name or
 * time (gzip -n), level 9, no padding after the gzip stream. */
static enum l3af_status write_open(struct archive *a, struct outbuf *o, struct l3af_err *err)
{
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level", "9") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		return write_fail(a, o, "libarchive setup", err);
	if (archive_write_open2(a, o, NULL, out_write, NULL, NULL) != ARCHIVE_OK)
		return write_fail(a, o, "open", err);
	return L3AF_OK;
}

struct entry_meta {
	const char *name;
	int64_t mtime;
};

static enum l3af_status write_entry(struct archive *a, struct outbuf *o,
				    const struct entry_meta *m, const struct src_entry *s,
				    struct l3af_err *err)
{
	char path[ENTRY_PATH_MAX + 2];
	struct archive_entry *e = archive_entry_new();
	enum l3af_status rc = L3AF_OK;

	if (!e)
		return l3af_fail(err, L3AF_E_NOMEM, "ebpf: package: create: out of memory");
	snprintf(path, sizeof(path), TOP_PREFIX "%s/%s", m->name, s->path);
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, s->dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, (mode_t)s->mode);
	archive_entry_set_size(e, (la_int64_t)s->size);
	archive_entry_set_mtime(e, (time_t)m->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = write_fail(a, o, "write header", err);
	else if (s->size && archive_write_data(a, s->data, s->size) != (la_ssize_t)s->size)
		rc = write_fail(a, o, "write data", err);
	archive_entry_free(e);
	return rc;
}

static enum l3af_status archive_build(const struct src_tree *t, const struct entry_meta *m,
				      struct outbuf *o, struct l3af_err *err)
{
	struct archive *a = archive_write_new();
	const struct src_entry top = {.path = "", .dir = true, .mode = 0755};
	enum l3af_status rc;

	if (!a)
		return l3af_fail(err, L3AF_E_NOMEM, "ebpf: package: create: out of memory");
	rc = write_open(a, o, err);
	if (rc == L3AF_OK)
		rc = write_entry(a, o, m, &top, err);
	for (size_t i = 0; rc == L3AF_OK && i < t->n; i++)
		rc = write_entry(a, o, m, &t->v[i], err);
	if (rc == L3AF_OK && archive_write_close(a) != ARCHIVE_OK)
		rc = write_fail(a, o, "close", err);
	archive_write_free(a);
	return rc;
}

/* mtime: 0, or $SOURCE_DATE_EPOCH, which must then be a canonical decimal
 * (reproducible-builds.org: a malformed value is an error, not ignored). */
static enum l3af_status source_date_epoch(int64_t *mtime, struct l3af_err *err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	uint64_t v = 0;

	*mtime = 0;
	if (!s)
		return L3AF_OK;
	if (l3af_parse_u64(s, strlen(s), (uint64_t)MTIME_MAX, &v) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "ebpf: package: create: SOURCE_DATE_EPOCH \"%.32s\" is not a "
				 "decimal from 0 to %lld",
				 s, MTIME_MAX);
	*mtime = (int64_t)v;
	return L3AF_OK;
}

static enum l3af_status create_args_check(const char *dir, const char *name,
					  const char *out_path, struct l3af_err *err)
{
	char buf[SHOW_BYTES];

	if (!dir || !out_path)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf: package: create: no folder or output");
	if (!name || !name_valid(name, strlen(name)))
		return l3af_fail(err, L3AF_E_INVALID,
				 "ebpf: package: create: package name \"%s\" is not 1 to 64 of "
				 "[a-z0-9_-] starting with a letter",
				 show(name ? name : "", buf));
	return L3AF_OK;
}

static enum l3af_status tree_read(struct src_tree *t)
{
	enum l3af_status rc = tree_walk(t, "");

	if (rc != L3AF_OK)
		return rc;
	if (t->nfiles == 0)
		return l3af_fail(t->err, L3AF_E_INVALID, "ebpf: package: create: %s holds no files",
				 t->root);
	qsort(t->v, t->n, sizeof(t->v[0]), src_cmp);
	return L3AF_OK;
}

enum l3af_status ebpf_pkg_create(const char *dir, const char *name, const char *out_path,
				 struct ebpf_pkg **pkg_out, struct l3af_err *err)
{
	struct src_tree t = {.root = dir, .err = err};
	struct entry_meta m = {.name = name};
	struct outbuf o = {0};
	struct ebpf_pkg *pkg = NULL;
	enum l3af_status rc;

	if (pkg_out)
		*pkg_out = NULL;
	rc = create_args_check(dir, name, out_path, err);
	if (rc == L3AF_OK)
		rc = source_date_epoch(&m.mtime, err);
	if (rc == L3AF_OK)
		rc = tree_read(&t);
	if (rc == L3AF_OK)
		rc = archive_build(&t, &m, &o, err);
	/* Publish only what our own reader accepts. */
	if (rc == L3AF_OK && (rc = ebpf_pkg_read(o.buf, o.len, &pkg, err)) != L3AF_OK)
		l3af_err_prefix(err, "ebpf: package: create: reading back the new archive");
	if (rc == L3AF_OK)
		rc = l3af_file_replace(out_path, o.buf, o.len, 0644, err);
	if (rc == L3AF_OK && pkg_out)
		*pkg_out = pkg, pkg = NULL;
	ebpf_pkg_free(pkg);
	tree_free(&t);
	l3af_free(o.buf);
	return rc;
}
