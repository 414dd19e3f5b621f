/*
 * package_write.c - build a byte-reproducible package tar.gz from a
 * directory (ebpf_pkg_create).
 *
 * Security property: the source folder is walked without following
 * symlinks: each entry is opened relative to its folder's descriptor with
 * O_NOFOLLOW|O_NONBLOCK (a FIFO cannot block it), checked through that
 * descriptor (type, hard links, mode) and read from it, whole, before it is
 * written, under the same rules and caps ebpf_pkg_read applies. The output
 * may not lie inside the source folder. The new archive is read back with
 * ebpf_pkg_read and replaces out_path atomically only if it passes.
 *
 * Reproducibility of writing: the archive depends only on the package name,
 * the file paths, contents and execute bits, and $SOURCE_DATE_EPOCH; never
 * on time, umask, owner, readdir order or locale (names are printable ASCII,
 * see ebpf_pkg_path_rule).
 */
#define _XOPEN_SOURCE 700 /* realpath (XSI), openat, fdopendir */
#include "ebpf.h"
#include "ebpf_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MTIME_MAX 077777777777ll      /* largest mtime a ustar header holds */

/* --- creating: the source tree -------------------------------------------
 * The folder is walked through descriptors (openat, fdopendir) without
 * following symlinks; each regular file is read whole into memory from the
 * descriptor it was checked on (so the archive holds what was checked),
 * then the list is sorted and written. */

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
			 ebpf_pkg_show(rel, buf), rule);
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

/* Reads exactly st->st_size bytes from fd (at most EBPF_PKG_MAX_FILE_BYTES),
 * and one more read to see that the file did not grow meanwhile. */
static enum l3af_status fd_read_all(struct src_tree *t, int fd, const char *rel,
				    const struct stat *st, struct src_entry *s)
{
	size_t size = (size_t)st->st_size, got = 0;
	char probe;
	ssize_t r;

	s->data = l3af_malloc(size ? size : 1);
	if (!s->data)
		return src_fail(t, L3AF_E_NOMEM, rel, "out of memory");
	while (got < size) {
		r = read(fd, s->data + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return src_fail(t, L3AF_E_IO, rel, strerror(errno));
		if (r == 0)
			return src_fail(t, L3AF_E_IO, rel, "changed while being read");
		got += (size_t)r;
	}
	do
		r = read(fd, &probe, 1);
	while (r < 0 && errno == EINTR);
	if (r != 0)
		return src_fail(t, L3AF_E_IO, rel, r < 0 ? strerror(errno) : "changed while being read");
	s->size = size;
	return L3AF_OK;
}

/* A regular file, read through the descriptor its checks were made on. */
static enum l3af_status src_file_add(struct src_tree *t, const char *rel, int fd,
				     const struct stat *st)
{
	struct src_entry *s;
	enum l3af_status rc;

	if (t->nfiles == EBPF_PKG_MAX_FILES)
		return src_fail(t, L3AF_E_LIMIT, rel, "more than 1024 files");
	if ((uint64_t)st->st_size > EBPF_PKG_MAX_FILE_BYTES)
		return src_fail(t, L3AF_E_LIMIT, rel, "file larger than 64 MiB");
	if ((uint64_t)st->st_size > EBPF_PKG_MAX_TOTAL_BYTES - t->total)
		return src_fail(t, L3AF_E_LIMIT, rel, "files larger than 256 MiB in all");
	s = tree_slot(t);
	if (!s || !(s->path = ebpf_pkg_dup_mem(rel, strlen(rel))))
		return src_fail(t, L3AF_E_NOMEM, rel, "out of memory");
	rc = fd_read_all(t, fd, rel, st, s);
	if (rc != L3AF_OK)
		return rc;
	s->mode = (st->st_mode & 0111) ? 0755 : 0644;
	t->nfiles++;
	t->total += s->size;
	return L3AF_OK;
}

static enum l3af_status tree_walk(struct src_tree *t, int dfd, const char *rel);

/* A folder; takes fd (open on it) and closes it. */
static enum l3af_status src_dir_add(struct src_tree *t, const char *rel, int fd)
{
	size_t len = strlen(rel);
	struct src_entry *s;

	if (t->ndirs == DIRS_MAX) {
		close(fd);
		return src_fail(t, L3AF_E_LIMIT, rel, "more than 1024 folders");
	}
	s = tree_slot(t);
	if (!s || !(s->path = l3af_malloc(len + 2))) {
		close(fd);
		return src_fail(t, L3AF_E_NOMEM, rel, "out of memory");
	}
	memcpy(s->path, rel, len);
	memcpy(s->path + len, "/", 2);
	s->dir = true;
	s->mode = 0755;
	t->ndirs++;
	return tree_walk(t, fd, rel);
}

/* Opens name in dfd without following a symlink or blocking (a FIFO swapped
 * in after the first look opens at once, and is then refused), and checks
 * the file it got, through its descriptor. *fd is -1 when refused. */
static enum l3af_status src_open(struct src_tree *t, int dfd, const char *name,
				 const char *rel, int *fd, struct stat *st)
{
	struct stat first;
	const char *rule;

	*fd = -1;
	/* A first look, so that devices and sockets are never opened. */
	if (fstatat(dfd, name, &first, AT_SYMLINK_NOFOLLOW) != 0)
		return src_fail(t, L3AF_E_IO, rel, strerror(errno));
	rule = src_rule(&first);
	if (rule)
		return src_fail(t, L3AF_E_INVALID, rel, rule);
	*fd = openat(dfd, name,
		     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
			     (S_ISDIR(first.st_mode) ? O_DIRECTORY : 0));
	if (*fd < 0)
		return src_fail(t, errno == ELOOP ? L3AF_E_INVALID : L3AF_E_IO, rel,
				errno == ELOOP ? "symbolic link" : strerror(errno));
	if (fstat(*fd, st) != 0)
		rule = strerror(errno);
	else if (!(rule = src_rule(st)) &&
		 (st->st_dev != first.st_dev || st->st_ino != first.st_ino ||
		  (st->st_mode & S_IFMT) != (first.st_mode & S_IFMT)))
		rule = "changed while being read";
	if (!rule)
		return L3AF_OK;
	close(*fd);
	*fd = -1;
	return src_fail(t, L3AF_E_INVALID, rel, rule);
}

/* One directory entry: its name rules, its type, then file or folder. */
static enum l3af_status src_add(struct src_tree *t, int dfd, const char *parent,
				const char *name)
{
	char rel[EBPF_PKG_MAX_PATH + 2];
	struct stat st;
	const char *rule;
	enum l3af_status rc;
	int fd, n = snprintf(rel, sizeof(rel), "%s%s%s", parent, *parent ? "/" : "", name);

	if (n < 0 || (size_t)n > EBPF_PKG_MAX_PATH)
		return src_fail(t, L3AF_E_LIMIT, name, "path longer than 255 bytes");
	rule = ebpf_pkg_path_rule(rel);
	if (rule)
		return src_fail(t, L3AF_E_INVALID, rel, rule);
	rc = src_open(t, dfd, name, rel, &fd, &st);
	if (rc != L3AF_OK)
		return rc;
	if (S_ISDIR(st.st_mode))
		return src_dir_add(t, rel, fd);
	rc = src_file_add(t, rel, fd, &st);
	close(fd);
	return rc;
}

/* Walks the folder open at fd (taken, and closed). */
static enum l3af_status tree_walk(struct src_tree *t, int fd, const char *rel)
{
	enum l3af_status rc = L3AF_OK;
	struct dirent *d;
	DIR *dir = fdopendir(fd);

	if (!dir) {
		rc = src_fail(t, L3AF_E_IO, rel, strerror(errno));
		close(fd);
		return rc;
	}
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
	if (!name || !ebpf_pkg_name_valid(name, strlen(name)))
		return l3af_fail(err, L3AF_E_INVALID,
				 "ebpf: package: create: package name \"%s\" is not 1 to 64 of "
				 "[a-z0-9_-] starting with a letter",
				 ebpf_pkg_show(name ? name : "", buf));
	return L3AF_OK;
}

/* No two paths may differ only in case (ebpf_pkg_case_clash). */
static enum l3af_status tree_case_check(struct src_tree *t)
{
	char a[EBPF_PKG_MAX_PATH + 1], b[EBPF_PKG_MAX_PATH + 1], sa[SHOW_BYTES], sb[SHOW_BYTES];
	const char **v = l3af_malloc((t->n ? t->n : 1) * sizeof(*v));
	enum l3af_status rc;
	bool clash = false;

	if (!v)
		return l3af_fail(t->err, L3AF_E_NOMEM, "ebpf: package: create: out of memory");
	for (size_t i = 0; i < t->n; i++)
		v[i] = t->v[i].path;
	rc = ebpf_pkg_case_clash(v, t->n, a, b, &clash);
	l3af_free(v);
	if (rc != L3AF_OK)
		return l3af_fail(t->err, rc, "ebpf: package: create: out of memory");
	if (clash)
		return l3af_fail(t->err, L3AF_E_INVALID,
				 "ebpf: package: create: %s: \"%s\" and \"%s\" differ only in case",
				 t->root, ebpf_pkg_show(a, sa), ebpf_pkg_show(b, sb));
	return L3AF_OK;
}

/* Sub-folders may be empty (they are written as folder entries); the
 * source folder as a whole must hold at least one file. */
static enum l3af_status tree_read(struct src_tree *t)
{
	enum l3af_status rc;
	int fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return l3af_fail(t->err, errno == ENOENT ? L3AF_E_NOTFOUND : L3AF_E_IO,
				 "ebpf: package: create: %s: %s", t->root, strerror(errno));
	rc = tree_walk(t, fd, "");
	if (rc != L3AF_OK)
		return rc;
	if (t->nfiles == 0)
		return l3af_fail(t->err, L3AF_E_INVALID, "ebpf: package: create: %s holds no files",
				 t->root);
	qsort(t->v, t->n, sizeof(t->v[0]), src_cmp);
	return tree_case_check(t);
}

/* The output must not lie inside the source folder: a second run would pack
 * the first run's archive (and its manifest, and temporary files). Compared
 * by the real paths of the source folder and of the output's folder. */
static enum l3af_status out_outside_check(const char *dir, const char *out_path,
					  struct l3af_err *err)
{
	char src[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(out_path, '/');
	size_t n;

	if (!realpath(dir, src))
		return l3af_fail(err, errno == ENOENT ? L3AF_E_NOTFOUND : L3AF_E_IO,
				 "ebpf: package: create: %s: %s", dir, strerror(errno));
	if (!slash)
		memcpy(parent, ".", 2);
	else if (slash == out_path)
		memcpy(parent, "/", 2);
	else if ((size_t)(slash - out_path) < sizeof(parent))
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - out_path), out_path);
	else
		return l3af_fail(err, L3AF_E_LIMIT, "ebpf: package: create: output path too long");
	if (!realpath(parent, real))
		return l3af_fail(err, errno == ENOENT ? L3AF_E_NOTFOUND : L3AF_E_IO,
				 "ebpf: package: create: output folder %s: %s", parent,
				 strerror(errno));
	n = strlen(src);
	if (strcmp(real, src) == 0 ||
	    (strncmp(real, src, n) == 0 && (real[n] == '/' || (n == 1 && src[0] == '/'))))
		return l3af_fail(err, L3AF_E_INVALID,
				 "ebpf: package: create: output %s lies inside the source directory %s",
				 out_path, dir);
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
		rc = out_outside_check(dir, out_path, err);
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
