/*
 * package_read.c - read a tar, tar.gz or zip package safely from memory
 * (ebpf_pkg_read).
 *
 * Security properties of reading:
 *  - only libarchive parses the bytes (tar, zip; gzip or no filter); zip
 *    through its seekable reader, from the central directory;
 *  - every count and size is capped, and bytes are counted as they are
 *    decompressed, against the size the entry's header declares, which is
 *    itself capped before anything is allocated: a zip bomb stops at the cap
 *    and a lying header is refused;
 *  - nothing is ever written to disk; only regular files and directories
 *    with clean relative ASCII names under the one folder are accepted, and
 *    no two names Windows would take for one (differing only in case).
 */
#define _POSIX_C_SOURCE 200809L
#include "ebpf.h"
#include "ebpf_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/err.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
			 ebpf_pkg_show(path, buf), rule);
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
	r->dirs[r->ndirs] = ebpf_pkg_dup_mem(rel, strlen(rel));
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
		    !ebpf_pkg_name_valid(path + TOP_PREFIX_LEN, toplen - TOP_PREFIX_LEN))
			return entry_fail(r, L3AF_E_INVALID, path,
					  "top-level folder is not l3af_<name> with name "
					  "[a-z][a-z0-9_-]{0,63}");
		r->pkg->name = ebpf_pkg_dup_mem(path + TOP_PREFIX_LEN, toplen - TOP_PREFIX_LEN);
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
	rule = ebpf_pkg_path_rule(buf);
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
		f->path = ebpf_pkg_dup_mem(rel, strlen(rel));
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
	f->kind = ebpf_pkg_classify(f->path, f->data, (size_t)size, f->mode);
	if (l3af_sha256(f->data, (size_t)size, f->sha256) != L3AF_OK)
		return l3af_fail(r->err, L3AF_E_CRYPTO, "ebpf: package: SHA-256: %s",
				 ERR_reason_error_string(ERR_get_error()));
	return L3AF_OK;
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
					 ebpf_pkg_show(path, a), ebpf_pkg_show(parent, b));
	}
	return L3AF_OK;
}

static enum l3af_status dup_fail(struct reader *r, const char *path)
{
	char buf[SHOW_BYTES];

	return l3af_fail(r->err, L3AF_E_INVALID, "ebpf: package: \"%s\": duplicate path",
			 ebpf_pkg_show(path, buf));
}

/* No two paths (or folders above them) may differ only in case: Windows
 * would unpack them onto one file. */
static enum l3af_status case_check(struct reader *r)
{
	char a[EBPF_PKG_MAX_PATH + 1], b[EBPF_PKG_MAX_PATH + 1], sa[SHOW_BYTES], sb[SHOW_BYTES];
	size_t n = r->pkg->nfiles + r->ndirs;
	const char **v = l3af_malloc((n ? n : 1) * sizeof(*v));
	enum l3af_status rc;
	bool clash = false;

	if (!v)
		return l3af_fail(r->err, L3AF_E_NOMEM, "ebpf: package: out of memory");
	for (size_t i = 0; i < r->pkg->nfiles; i++)
		v[i] = r->pkg->files[i].path;
	for (size_t i = 0; i < r->ndirs; i++)
		v[r->pkg->nfiles + i] = r->dirs[i];
	rc = ebpf_pkg_case_clash(v, n, a, b, &clash);
	l3af_free(v);
	if (rc != L3AF_OK)
		return l3af_fail(r->err, rc, "ebpf: package: out of memory");
	if (clash)
		return l3af_fail(r->err, L3AF_E_INVALID,
				 "ebpf: package: \"%s\" and \"%s\" differ only in case",
				 ebpf_pkg_show(a, sa), ebpf_pkg_show(b, sb));
	return L3AF_OK;
}

static enum l3af_status package_check(struct reader *r)
{
	struct ebpf_pkg *pkg = r->pkg;
	enum l3af_status rc = L3AF_OK;

	qsort(pkg->files, pkg->nfiles, sizeof(pkg->files[0]), ebpf_pkg_file_cmp);
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
	return rc == L3AF_OK ? case_check(r) : rc;
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
	/* Only gzip or no filter, only tar and zip: the formats packages use.
	 * Zip only through the seekable reader, which walks the central
	 * directory (what Go's archive/zip in l3afd and Python read) and checks
	 * each local header's sizes against it; the streaming reader would
	 * follow local headers alone, and take a zip with no end-of-central-
	 * directory record. (libarchive 3.6 does not compare the names of the
	 * two; docs/bpf.md.) */
	if (archive_read_support_filter_gzip(r->a) != ARCHIVE_OK ||
	    archive_read_support_filter_none(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_zip_seekable(r->a) != ARCHIVE_OK)
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
