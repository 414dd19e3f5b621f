/*
 * state.c - the node's state directory (docs/verifier.md "State"):
 *   STATE/lock                         flock'd around every read-modify-write
 *   STATE/checkpoint-<h>.json          last accepted checkpoint per log origin
 *                                      (h = first 16 hex of SHA-256(origin))
 *   STATE/versions.json                highest version accepted per (name, platform)
 *   STATE/evidence/{fork,inconsistent}-....json  evidence of a fork or a failing proof
 * Every file is written with l3af_file_replace (atomic) or l3af_file_create.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verify_internal.h"

#define STATE_FILE_MAX (2u << 20)

void lv_hex32(const uint8_t in[static 32], char out[static 65])
{
	l3af_hex_encode(out, in, 32);
}

static enum l3af_status check_dir(const char *dir, struct l3af_err *err)
{
	struct stat st;

	if (lstat(dir, &st) != 0)
		return l3af_fail(err, L3AF_E_IO, "state directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return l3af_fail(err, L3AF_E_INVALID, "state directory %s: not a directory", dir);
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return l3af_fail(err, L3AF_E_INVALID,
				 "state directory %s: must be owned by uid %u and not writable by "
				 "group or others (mode %03o)", dir, (unsigned)geteuid(),
				 (unsigned)(st.st_mode & 0777));
	return L3AF_OK;
}

enum l3af_status lv_state_prepare(const char *dir, struct l3af_err *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return l3af_fail(err, L3AF_E_IO, "state directory %s: %s", dir, strerror(errno));
	return check_dir(dir, err);
}

enum l3af_status lv_state_lock(const char *dir, int *fd, struct l3af_err *err)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path))
		return l3af_fail(err, L3AF_E_LIMIT, "state directory path too long");
	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0)
		return l3af_fail(err, L3AF_E_IO, "open %s: %s", path, strerror(errno));
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		close(*fd);
		*fd = -1;
		return l3af_fail(err, L3AF_E_IO, "lock %s: %s", path, strerror(errno));
	}
	return L3AF_OK;
}

void lv_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static enum l3af_status cp_path(const char *dir, const char *origin, char path[static PATH_MAX],
				struct l3af_err *err)
{
	uint8_t h[32];
	char hex[65];
	enum l3af_status rc = l3af_sha256(origin, strlen(origin), h);

	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "state: sha256 failed");
	lv_hex32(h, hex);
	if ((size_t)snprintf(path, PATH_MAX, "%s/checkpoint-%.16s.json", dir, hex) >= PATH_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "state directory path too long");
	return L3AF_OK;
}

/* Read a JSON object from path; *root NULL if the file does not exist. */
static enum l3af_status read_json(const char *path, json_t **root, struct l3af_err *err)
{
	char *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	enum l3af_status rc = l3af_file_read(path, STATE_FILE_MAX, &text, &len, err);

	*root = NULL;
	if (rc == L3AF_E_NOTFOUND) {
		l3af_err_clear(err);
		return L3AF_OK;
	}
	if (rc != L3AF_OK)
		return rc;
	*root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	l3af_free(text);
	if (!*root || !json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return l3af_fail(err, L3AF_E_CORRUPT, "state file %s: not a JSON object", path);
	}
	return L3AF_OK;
}

static enum l3af_status write_json(const char *path, json_t *root, struct l3af_err *err)
{
	char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	enum l3af_status rc;

	if (!text)
		return l3af_fail(err, L3AF_E_NOMEM, "state: no memory");
	rc = l3af_file_replace(path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

enum l3af_status lv_state_checkpoint_get(const char *dir, const char *origin, bool *found,
					 struct tlog_checkpoint *cp, char **note,
					 struct l3af_err *err)
{
	char path[PATH_MAX];
	json_t *root = NULL, *n, *o;
	enum l3af_status rc = cp_path(dir, origin, path, err);
	size_t len;

	*found = false;
	*note = NULL;
	if (rc == L3AF_OK)
		rc = read_json(path, &root, err);
	if (rc != L3AF_OK || !root)
		return rc;
	n = json_object_get(root, "checkpoint");
	o = json_object_get(root, "body");
	if (!json_is_string(n) || !json_is_string(o) ||
	    tlog_checkpoint_parse(json_string_value(o), json_string_length(o), cp, NULL) != L3AF_OK ||
	    strcmp(cp->origin, origin) != 0) {
		json_decref(root);
		return l3af_fail(err, L3AF_E_CORRUPT, "state file %s: damaged", path);
	}
	len = json_string_length(n);
	*note = l3af_malloc(len + 1);
	if (!*note) {
		json_decref(root);
		return l3af_fail(err, L3AF_E_NOMEM, "state: no memory");
	}
	memcpy(*note, json_string_value(n), len + 1);
	json_decref(root);
	*found = true;
	return L3AF_OK;
}

enum l3af_status lv_state_checkpoint_put(const char *dir, const struct tlog_checkpoint *cp,
					 const char *note, size_t note_len, struct l3af_err *err)
{
	char path[PATH_MAX], body[TLOG_CHECKPOINT_BODY_MAX];
	size_t blen;
	json_t *root;
	enum l3af_status rc = cp_path(dir, cp->origin, path, err);

	if (rc == L3AF_OK)
		rc = tlog_checkpoint_format(cp, body, sizeof(body), &blen, err);
	if (rc != L3AF_OK)
		return rc;
	root = json_pack("{s:s%,s:s,s:I}", "checkpoint", note, note_len, "body", body, "size",
			 (json_int_t)cp->size);
	if (!root)
		return l3af_fail(err, L3AF_E_NOMEM, "state: no memory");
	rc = write_json(path, root, err);
	json_decref(root);
	return rc;
}

static enum l3af_status versions_path(const char *dir, char path[static PATH_MAX],
				      struct l3af_err *err)
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/versions.json", dir) >= PATH_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "state directory path too long");
	return L3AF_OK;
}

enum l3af_status lv_state_version_get(const char *dir, const char *name, const char *platform,
				      char out[static SIGNER_VERSION_MAX + 1],
				      struct l3af_err *err)
{
	char path[PATH_MAX], key[SIGNER_PKG_NAME_MAX + SIGNER_PLATFORM_MAX + 2];
	json_t *root = NULL, *v;
	enum l3af_status rc = versions_path(dir, path, err);

	out[0] = '\0';
	if (rc == L3AF_OK)
		rc = read_json(path, &root, err);
	if (rc != L3AF_OK || !root)
		return rc;
	snprintf(key, sizeof(key), "%s %s", name, platform);
	v = json_object_get(root, key);
	if (v && (!json_is_string(v) || json_string_length(v) > SIGNER_VERSION_MAX))
		rc = l3af_fail(err, L3AF_E_CORRUPT, "state file %s: damaged", path);
	else if (v)
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
	json_decref(root);
	return rc;
}

enum l3af_status lv_state_version_put(const char *dir, const char *name, const char *platform,
				      const char *version, struct l3af_err *err)
{
	char path[PATH_MAX], key[SIGNER_PKG_NAME_MAX + SIGNER_PLATFORM_MAX + 2];
	json_t *root = NULL, *v;
	enum l3af_status rc = versions_path(dir, path, err);

	if (rc == L3AF_OK)
		rc = read_json(path, &root, err);
	if (rc != L3AF_OK)
		return rc;
	if (!root && !(root = json_object()))
		return l3af_fail(err, L3AF_E_NOMEM, "state: no memory");
	snprintf(key, sizeof(key), "%s %s", name, platform);
	v = json_object_get(root, key);
	if (!v || !json_is_string(v) || signer_version_cmp(version, json_string_value(v)) > 0) {
		if (json_object_set_new(root, key, json_string(version)) != 0) {
			json_decref(root);
			return l3af_fail(err, L3AF_E_NOMEM, "state: no memory");
		}
		rc = write_json(path, root, err);
	}
	json_decref(root);
	return rc;
}

enum l3af_status lv_state_evidence(const char *dir, const char *kind, const char *origin,
				   const char *stored_note,
				   const char *received_note, size_t received_len,
				   const uint8_t (*proof)[TLOG_HASH_BYTES], size_t nproof,
				   const char *why, char **path_out, struct l3af_err *err)
{
	char path[PATH_MAX], b64[48];
	json_t *root, *arr = json_array();
	char *text = NULL;
	enum l3af_status rc;

	if (path_out)
		*path_out = NULL;
	for (size_t i = 0; arr && i < nproof; i++) {
		if (l3af_base64_encode(b64, sizeof(b64), proof[i], TLOG_HASH_BYTES) != L3AF_OK)
			break;
		json_array_append_new(arr, json_string(b64));
	}
	root = json_pack("{s:s,s:s,s:s,s:s%,s:o*,s:I}", "kind", kind, "origin", origin, "stored",
			 stored_note, "received", received_note, received_len, "proof", arr,
			 "time", (json_int_t)l3af_wall_s());
	if (root && why)
		json_object_set_new(root, "why", json_string(why));
	if (root)
		text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return l3af_fail(err, L3AF_E_NOMEM, "evidence: no memory");
	rc = L3AF_OK;
	if ((size_t)snprintf(path, sizeof(path), "%s/evidence", dir) >= sizeof(path))
		rc = l3af_fail(err, L3AF_E_LIMIT, "state directory path too long");
	else if (mkdir(path, 0700) != 0 && errno != EEXIST)
		rc = l3af_fail(err, L3AF_E_IO, "mkdir %s: %s", path, strerror(errno));
	for (unsigned n = 0; rc == L3AF_OK; n++) {
		snprintf(path, sizeof(path), "%s/evidence/%s-%lld-%ld-%u.json", dir, kind,
			 (long long)l3af_wall_s(), (long)getpid(), n);
		rc = l3af_file_create(path, text, strlen(text), 0600, err);
		if (rc != L3AF_E_EXISTS || n > 100)
			break;
		l3af_err_clear(err);
		rc = L3AF_OK;
	}
	free(text);
	if (rc == L3AF_OK && path_out) {
		*path_out = l3af_malloc(strlen(path) + 1);
		if (*path_out)
			memcpy(*path_out, path, strlen(path) + 1);
	}
	return rc;
}
