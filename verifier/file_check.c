/*
 * file_check.c - l3af_verify_file: re-check one extracted file against the
 * verified manifest (.l3af-verified.json in the extracted directory) just
 * before it is loaded or run. Every step opens relative to the directory
 * with O_NOFOLLOW, and checks the open descriptor (fstat), not the name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verify_internal.h"

#define VERIFIED_MAX (8u << 20)

static enum l3af_status read_fd(int fd, size_t want, uint8_t **out, size_t *got,
				struct l3af_err *err)
{
	uint8_t *buf = l3af_malloc(want + 1);
	size_t n = 0;

	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM, "no memory");
	for (;;) {
		ssize_t r = read(fd, buf + n, want + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			l3af_free(buf);
			return l3af_fail(err, L3AF_E_IO, "read: %s", strerror(errno));
		}
		if (r == 0 || (n += (size_t)r) == want + 1)
			break;
	}
	*out = buf;
	*got = n;
	return L3AF_OK;
}

static const char *str_or(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Is rel a clean relative path (no "", ".", ".." components, not absolute)? */
static bool clean_path(const char *rel)
{
	const char *p = rel;

	if (!rel[0] || rel[0] == '/' || strlen(rel) > EBPF_PKG_MAX_PATH)
		return false;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n + (s ? 1 : 0);
		if (s && !*p)
			return false;
	}
	return true;
}

/* Open rel under dfd without following a symlink anywhere. */
static int open_beneath(int dfd, const char *rel)
{
	char comp[EBPF_PKG_MAX_PATH + 1];
	const char *p = rel, *s;
	int cur = dup(dfd), next;

	while (cur >= 0 && (s = strchr(p, '/'))) {
		memcpy(comp, p, (size_t)(s - p));
		comp[s - p] = '\0';
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = next;
		p = s + 1;
	}
	if (cur < 0)
		return -1;
	next = openat(cur, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(cur);
	return next;
}

/* On allow with keep != NULL, *keep receives fd (rewound, blocking). */
static enum l3af_status check_file(int dfd, const char *rel, const json_t *item, int *keep,
				   struct l3af_verify_result *r, struct l3af_err *err)
{
	const char *sha = json_string_value(json_object_get(item, "sha256"));
	const char *mode = json_string_value(json_object_get(item, "mode"));
	json_int_t size = json_integer_value(json_object_get(item, "size"));
	unsigned long m = mode ? strtoul(mode, NULL, 8) : 0;
	uint8_t *data = NULL, h[32];
	char hex[65];
	size_t got = 0;
	struct stat st;
	enum l3af_status rc;
	int fd = open_beneath(dfd, rel);

	if (fd < 0)
		return lv_deny(r, errno == ELOOP ? "symlink" : "missing", "%s: %s", rel,
			       errno == ELOOP ? "a symlink on the way" : strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lv_deny(r, "not_regular", "%s is not a regular file", rel);
	}
	rc = L3AF_OK;
	if (st.st_uid != geteuid())
		rc = lv_deny(r, "owner", "%s is owned by uid %u, not %u", rel, (unsigned)st.st_uid,
			     (unsigned)geteuid());
	if (rc == L3AF_OK && ((st.st_mode & 022) || (st.st_mode & 07777) != m))
		rc = lv_deny(r, "mode", "%s has mode %04o, the manifest %s", rel,
			     (unsigned)(st.st_mode & 07777), mode ? mode : "?");
	if (rc == L3AF_OK && (size < 0 || st.st_size != (off_t)size))
		rc = lv_deny(r, "size", "%s is %lld bytes, the manifest says %lld", rel,
			     (long long)st.st_size, (long long)size);
	if (rc == L3AF_OK && r->nreasons == 0) {
		rc = read_fd(fd, (size_t)size, &data, &got, err);
		if (rc == L3AF_OK && (rc = l3af_sha256(data, got, h)) != L3AF_OK)
			rc = l3af_fail(err, rc, "sha256 failed");
		if (rc == L3AF_OK) {
			lv_hex32(h, hex);
			if (got != (size_t)size || !sha || strcmp(hex, sha))
				rc = lv_deny(r, "digest", "%s has sha256 %s, the manifest %s", rel, hex,
					     sha ? sha : "?");
		}
		l3af_free(data);
	}
	if (rc == L3AF_OK && keep && r->nreasons == 0) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
		    lseek(fd, 0, SEEK_SET) != 0)
			rc = l3af_fail(err, L3AF_E_IO, "%s: rewind: %s", rel, strerror(errno));
		else {
			*keep = fd;
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc == L3AF_OK)
		rc = lv_set(r, "file", json_deep_copy(item));
	return rc;
}

static enum l3af_status load_manifest(int dfd, json_t **root, struct l3af_verify_result *r,
				      struct l3af_err *err)
{
	uint8_t *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd = openat(dfd, LV_VERIFIED_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	enum l3af_status rc;

	*root = NULL;
	if (fd < 0)
		return lv_deny(r, "verified_manifest", "%s: %s", LV_VERIFIED_NAME, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) || st.st_size > VERIFIED_MAX) {
		close(fd);
		return lv_deny(r, "verified_manifest",
			       "%s is not a regular file of this user, unwritable by others",
			       LV_VERIFIED_NAME);
	}
	rc = read_fd(fd, (size_t)st.st_size, &text, &len, err);
	close(fd);
	if (rc != L3AF_OK)
		return rc;
	*root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL);
	l3af_free(text);
	if (!json_is_array(json_object_get(*root, "files")) ||
	    strcmp(str_or(json_object_get(*root, "verdict")), "allow")) {
		json_decref(*root);
		*root = NULL;
		return lv_deny(r, "verified_manifest", "%s is damaged", LV_VERIFIED_NAME);
	}
	return L3AF_OK;
}

static enum l3af_status run(int dfd, const char *rel, int *keep, struct l3af_verify_result *r,
			    struct l3af_err *err)
{
	json_t *root = NULL, *item, *found = NULL;
	struct stat st;
	size_t i;
	enum l3af_status rc = lv_set(r, "path", json_string(rel));

	if (rc == L3AF_OK && (fstat(dfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077)))
		rc = lv_deny(r, "dir_mode", "the extracted directory must be owned by uid %u with "
			     "no group or other access", (unsigned)geteuid());
	if (rc == L3AF_OK && !clean_path(rel))
		rc = lv_deny(r, "path", "'%s' is not a clean relative path", rel);
	if (rc != L3AF_OK || r->nreasons)
		return rc;
	rc = load_manifest(dfd, &root, r, err);
	if (rc != L3AF_OK || !root)
		return rc;
	json_array_foreach(json_object_get(root, "files"), i, item)
		if (!strcmp(str_or(json_object_get(item, "path")), rel))
			found = item;
	if (!found)
		rc = lv_deny(r, "not_in_manifest", "%s is not in the verified manifest", rel);
	else
		rc = check_file(dfd, rel, found, keep, r, err);
	if (rc == L3AF_OK)
		rc = lv_set(r, "package", json_incref(json_object_get(root, "package")));
	json_decref(root);
	return rc;
}

enum l3af_verify_status l3af_verify_file_open(const char *dir, const char *path,
					      struct l3af_verify_result **out, int *fd_out,
					      char *errbuf)
{
	struct l3af_err e = { 0 };
	struct l3af_verify_result *r;
	enum l3af_status rc;
	int dfd, keep = -1;

	if (fd_out)
		*fd_out = -1;
	if (!out || !dir || !path)
		return lv_status(L3AF_E_INVALID, NULL, errbuf);
	*out = NULL;
	r = lv_result_new();
	if (!r)
		return lv_status(L3AF_E_NOMEM, NULL, errbuf);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		rc = lv_deny(r, "dir_mode", "%s: %s", dir, strerror(errno));
	else
		rc = run(dfd, path, fd_out ? &keep : NULL, r, &e);
	if (dfd >= 0)
		close(dfd);
	if (rc == L3AF_OK)
		rc = lv_result_finish(r, &e);
	if (rc == L3AF_OK && r->verdict != L3AF_VERIFY_ALLOW && keep >= 0) {
		close(keep); /* only an allowed file's descriptor is handed out */
		keep = -1;
	}
	if (rc != L3AF_OK) {
		if (keep >= 0)
			close(keep);
		l3af_verify_result_free(r);
		return lv_status(rc, &e, errbuf);
	}
	if (fd_out)
		*fd_out = keep;
	*out = r;
	return L3AF_VERIFY_OK;
}

enum l3af_verify_status l3af_verify_file(const char *dir, const char *path,
					 struct l3af_verify_result **out, char *errbuf)
{
	return l3af_verify_file_open(dir, path, out, NULL, errbuf);
}
