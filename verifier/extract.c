/*
 * extract.c - l3af_verify_extract: unpack the verified in-memory package
 * into a new directory (built beside it, renamed into place with
 * RENAME_NOREPLACE), and write .l3af-verified.json for l3af_verify_file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verify_internal.h"

#define VERIFIED_NAME ".l3af-verified.json"

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

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
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
		if (!strcmp(path, VERIFIED_NAME))
			return l3af_fail(err, L3AF_E_INVALID, "the package holds %s, a name "
					 "reserved for the verified manifest", VERIFIED_NAME);
		rc = put_file(root, path, f->data, (size_t)f->size, (unsigned)m, err);
		if (rc != L3AF_OK)
			return rc;
	}
	rc = put_file(root, VERIFIED_NAME, (const uint8_t *)res->json, strlen(res->json), 0400, err);
	if (rc == L3AF_OK && fsync(root) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync %s: %s", tmp, strerror(errno));
	return rc;
}

enum l3af_verify_status l3af_verify_extract(const struct l3af_verify_result *res,
					    const char *dir, char *errbuf)
{
	char tmp[PATH_MAX];
	struct l3af_err e = { 0 };
	struct stat st;
	enum l3af_status rc;
	int root;

	if (!res || !dir || !dir[0])
		return lv_status(L3AF_E_INVALID, NULL, errbuf);
	if (res->verdict != L3AF_VERIFY_ALLOW || !res->pkg || !json_is_array(res->manifest)) {
		if (errbuf)
			snprintf(errbuf, L3AF_VERIFY_ERR_BYTES,
				 "extract: the verification did not allow this package");
		return L3AF_VERIFY_E_REFUSED;
	}
	if (lstat(dir, &st) == 0 || errno != ENOENT) {
		l3af_fail(&e, L3AF_E_EXISTS, "extract: %s already exists (or cannot be checked)",
			  dir);
		return lv_status(L3AF_E_INVALID, &e, errbuf);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial-%ld", dir, (long)getpid()) >=
	    sizeof(tmp))
		return lv_status(L3AF_E_INVALID, NULL, errbuf);
	if (mkdir(tmp, 0700) != 0) {
		l3af_fail(&e, L3AF_E_IO, "extract: mkdir %s: %s", tmp, strerror(errno));
		return lv_status(L3AF_E_IO, &e, errbuf);
	}
	root = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0) {
		rc = l3af_fail(&e, L3AF_E_IO, "extract: open %s: %s", tmp, strerror(errno));
	} else {
		rc = fchmod(root, 0700) == 0 ? extract_into(res, root, tmp, &e)
					     : l3af_fail(&e, L3AF_E_IO, "chmod %s: %s", tmp,
							 strerror(errno));
		close(root);
	}
	if (rc == L3AF_OK && renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) != 0)
		rc = l3af_fail(&e, errno == EEXIST ? L3AF_E_INVALID : L3AF_E_IO,
			       "extract: rename %s to %s: %s", tmp, dir, strerror(errno));
	if (rc == L3AF_OK)
		rc = l3af_fsync_parent(dir, &e);
	if (rc != L3AF_OK) {
		nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		return lv_status(rc, &e, errbuf);
	}
	return L3AF_VERIFY_OK;
}
