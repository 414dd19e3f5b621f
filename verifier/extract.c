/*
 * extract.c - l3af_verify_extract: unpack the verified in-memory package
 * into a new directory (built beside it under an unpredictable mkdtemp
 * name, every step relative to directory descriptors with O_NOFOLLOW,
 * renamed into place with RENAME_NOREPLACE), and write .l3af-verified.json
 * for l3af_verify_file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verify_internal.h"


static enum l3af_status write_all(int fd, const uint8_t *p, size_t n, const char *path,
				  struct l3af_err *err)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return l3af_fail(err, L3AF_E_IO, "write %s: %s", path, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return L3AF_OK;
}

/* Create path (relative, '/'-separated, checked by ebpf_pkg_read) under
 * root: folders 0755 as needed (never through a symlink), then the file,
 * exclusively, with mode, written and fsynced. */
static enum l3af_status put_file(int root, const char *path, const uint8_t *data, size_t len,
				 unsigned mode, struct l3af_err *err)
{
	char comp[EBPF_PKG_MAX_PATH + 1];
	const char *p = path, *slash;
	int dfd = dup(root), fd;
	enum l3af_status rc = L3AF_OK;

	if (dfd < 0)
		return l3af_fail(err, L3AF_E_IO, "dup: %s", strerror(errno));
	while ((slash = strchr(p, '/'))) {
		size_t n = (size_t)(slash - p);
		int next;

		if (n == 0 || n > EBPF_PKG_MAX_PATH) {
			close(dfd);
			return l3af_fail(err, L3AF_E_INVALID, "%s: bad path", path);
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (mkdirat(dfd, comp, 0755) != 0 && errno != EEXIST) {
			close(dfd);
			return l3af_fail(err, L3AF_E_IO, "mkdir %s in %s: %s", comp, path,
					 strerror(errno));
		}
		next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (next < 0)
			return l3af_fail(err, L3AF_E_IO, "open folder %s of %s: %s", comp, path,
					 strerror(errno));
		dfd = next;
		p = slash + 1;
	}
	fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = l3af_fail(err, L3AF_E_IO, "create %s: %s", path, strerror(errno));
	if (rc == L3AF_OK)
		rc = write_all(fd, data, len, path, err);
	if (rc == L3AF_OK && fchmod(fd, (mode_t)mode) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "chmod %s: %s", path, strerror(errno));
	if (rc == L3AF_OK && fsync(fd) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc == L3AF_OK && fsync(dfd) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync folder of %s: %s", path, strerror(errno));
	close(dfd);
	return rc;
}

/* Remove name under dfd and everything beneath it, fd-relative, never
 * following a symlink (best effort: cleanup of a failed extract). */
static void rm_at(int dfd, const char *name, int depth)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dfd, name, 0) == 0 || errno != EISDIR || depth > EBPF_PKG_MAX_PATH)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static enum l3af_status extract_into(const struct l3af_verify_result *res, int root,
				     const char *tmp, struct l3af_err *err)
{
	size_t i;
	json_t *item;
	enum l3af_status rc = L3AF_OK;

	json_array_foreach(res->manifest, i, item) {
		const char *path = json_string_value(json_object_get(item, "path"));
		const char *mode = json_string_value(json_object_get(item, "mode"));
		const struct ebpf_pkg_file *f = path ? ebpf_pkg_find(res->pkg, path) : NULL;
		unsigned long m = mode ? strtoul(mode, NULL, 8) : 0;

		if (!f || (m != 0644 && m != 0755))
			return l3af_fail(err, L3AF_E_INTERNAL, "manifest item %zu does not match the "
					 "verified package", i);
		if (!strcmp(path, LV_VERIFIED_NAME))
			return l3af_fail(err, L3AF_E_INVALID, "the package holds %s, a name "
					 "reserved for the verified manifest", LV_VERIFIED_NAME);
		rc = put_file(root, path, f->data, (size_t)f->size, (unsigned)m, err);
		if (rc != L3AF_OK)
			return rc;
	}
	rc = put_file(root, LV_VERIFIED_NAME, (const uint8_t *)res->json, strlen(res->json), 0400, err);
	if (rc == L3AF_OK && fsync(root) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync %s: %s", tmp, strerror(errno));
	return rc;
}

/* Split dir into its parent (opened) and last component; clean is dir
 * without trailing slashes. */
static enum l3af_status open_parent(const char *dir, int *pfd, char base[static NAME_MAX + 1],
				    char clean[static PATH_MAX], struct l3af_err *err)
{
	char parent[PATH_MAX];
	size_t len = strlen(dir);
	const char *slash, *last;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len >= sizeof(parent))
		return l3af_fail(err, L3AF_E_INVALID, "extract: path too long");
	memcpy(parent, dir, len);
	parent[len] = '\0';
	memcpy(clean, parent, len + 1);
	slash = strrchr(parent, '/');
	last = slash ? slash + 1 : parent;
	if (!last[0] || !strcmp(last, ".") || !strcmp(last, "..") ||
	    strlen(last) > NAME_MAX - 16)
		return l3af_fail(err, L3AF_E_INVALID, "extract: %s does not end in a new name", dir);
	memcpy(base, last, strlen(last) + 1);
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		parent[slash - parent] = '\0';
	*pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*pfd < 0)
		return l3af_fail(err, L3AF_E_IO, "extract: open %s: %s", parent, strerror(errno));
	return L3AF_OK;
}

/* A new directory beside the target with an unpredictable name (mkdtemp),
 * opened without following a symlink and checked (ours, 0700). */
static enum l3af_status make_partial(const char *dir, int pfd, const char *base,
				     char tmpbase[static NAME_MAX + 1], int *root,
				     struct l3af_err *err)
{
	char tmp[PATH_MAX];
	const char *tb;
	struct stat st;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial-XXXXXX", dir) >= sizeof(tmp))
		return l3af_fail(err, L3AF_E_INVALID, "extract: path too long");
	if (!mkdtemp(tmp))
		return l3af_fail(err, L3AF_E_IO, "extract: mkdtemp %s: %s", tmp, strerror(errno));
	tb = tmp + strlen(tmp) - strlen(base) - strlen(".partial-XXXXXX");
	memcpy(tmpbase, tb, strlen(tb) + 1); /* base is at most NAME_MAX - 16 */
	*root = openat(pfd, tmpbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*root < 0 || fstat(*root, &st) != 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || fchmod(*root, 0700) != 0) {
		if (*root >= 0)
			close(*root);
		*root = -1;
		return l3af_fail(err, L3AF_E_IO, "extract: %s changed under us", tmp);
	}
	return L3AF_OK;
}

enum l3af_verify_status l3af_verify_extract(const struct l3af_verify_result *res,
					    const char *dir, char *errbuf)
{
	char base[NAME_MAX + 1], tmpbase[NAME_MAX + 1] = "", clean[PATH_MAX];
	struct l3af_err e = { 0 };
	struct stat st;
	enum l3af_status rc;
	int pfd = -1, root = -1;

	if (!res || !dir || !dir[0])
		return lv_status(L3AF_E_INVALID, NULL, errbuf);
	if (res->verdict != L3AF_VERIFY_ALLOW || !res->pkg || !json_is_array(res->manifest)) {
		if (errbuf)
			snprintf(errbuf, L3AF_VERIFY_ERR_BYTES,
				 "extract: the verification did not allow this package");
		return L3AF_VERIFY_E_REFUSED;
	}
	rc = open_parent(dir, &pfd, base, clean, &e);
	if (rc == L3AF_OK && (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT))
		rc = l3af_fail(&e, L3AF_E_INVALID, "extract: %s already exists (or cannot be "
			       "checked)", dir);
	if (rc == L3AF_OK)
		rc = make_partial(clean, pfd, base, tmpbase, &root, &e);
	if (rc == L3AF_OK)
		rc = extract_into(res, root, tmpbase, &e);
	if (root >= 0)
		close(root);
	if (rc == L3AF_OK && renameat2(pfd, tmpbase, pfd, base, RENAME_NOREPLACE) != 0)
		rc = l3af_fail(&e, errno == EEXIST ? L3AF_E_INVALID : L3AF_E_IO,
			       "extract: rename %s to %s: %s", tmpbase, dir, strerror(errno));
	if (rc == L3AF_OK && fsync(pfd) != 0)
		rc = l3af_fail(&e, L3AF_E_IO, "extract: fsync the folder of %s: %s", dir,
			       strerror(errno));
	if (rc != L3AF_OK && tmpbase[0])
		rm_at(pfd, tmpbase, 0);
	if (pfd >= 0)
		close(pfd);
	return rc == L3AF_OK ? L3AF_VERIFY_OK : lv_status(rc, &e, errbuf);
}
