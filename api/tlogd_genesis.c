/*
 * tlogd_genesis.c - entry 0 of every log l3af-tlogd serves: the admin.root
 * entry (docs/formats.md section 7) naming the operator's admin key.
 *
 * Crash safety: tlog_create and the genesis append are two steps, so a
 * process killed in between leaves an empty log. Every start therefore
 * re-checks: an empty log gets its genesis entry (reusing DIR/admin.key if it
 * is there, else creating it), a non-empty one must start with admin.root.
 * The key is written to DIR/admin.key.tmp and renamed, so DIR/admin.key is
 * either absent or complete.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signer.h"
#include "tlogd_internal.h"

static enum l3af_status path_in(char out[static PATH_MAX], const char *dir, const char *name,
				struct l3af_err *err)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "path too long: %s/%s", dir, name);
	return L3AF_OK;
}

/* Load DIR/admin.key, or create it (atomically) if absent. */
static enum l3af_status admin_key(const char *dir, struct signer_privkey **key,
				  struct l3af_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	enum l3af_status rc = path_in(path, dir, "admin.key", err);

	if (rc == L3AF_OK)
		rc = path_in(tmp, dir, "admin.key.tmp", err);
	if (rc != L3AF_OK)
		return rc;
	if (lstat(path, &st) == 0) {
		rc = signer_privkey_load(path, key, err);
		if (rc != L3AF_OK)
			l3af_err_prefix(err, "admin key %s", path);
		return rc;
	}
	if (errno != ENOENT)
		return l3af_fail(err, L3AF_E_IO, "stat %s: %s", path, strerror(errno));
	/* A leftover from a start that died while saving: never used. */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return l3af_fail(err, L3AF_E_IO, "unlink %s: %s", tmp, strerror(errno));
	rc = signer_privkey_generate(SIGNER_ALG_ED25519, key, err);
	if (rc == L3AF_OK)
		rc = signer_privkey_save(*key, tmp, err);
	if (rc == L3AF_OK && rename(tmp, path) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "rename %s: %s", tmp, strerror(errno));
	if (rc == L3AF_OK)
		rc = l3af_fsync_parent(path, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "admin key %s", path);
		signer_privkey_free(*key);
		*key = NULL;
	}
	return rc;
}

/* DIR/admin.pub (PEM), rewritten if it does not hold exactly pub. */
static enum l3af_status admin_pub(const char *dir, const struct signer_pubkey *pub,
				  struct l3af_err *err)
{
	char path[PATH_MAX], pem[SIGNER_PUBKEY_PEM_MAX], *old = NULL;
	size_t old_len = 0;
	struct l3af_err ignore = {0};
	enum l3af_status rc = path_in(path, dir, "admin.pub", err);

	if (rc == L3AF_OK)
		rc = signer_pubkey_format_pem(pub, pem, err);
	if (rc != L3AF_OK)
		return rc;
	if (l3af_file_read(path, SIGNER_PUBKEY_PEM_MAX, &old, &old_len, &ignore) == L3AF_OK &&
	    old_len == strlen(pem) && memcmp(old, pem, old_len) == 0) {
		l3af_free(old);
		return L3AF_OK;
	}
	l3af_free(old);
	return l3af_file_replace(path, pem, strlen(pem), 0644, err);
}

/* Entry 0 must be this log's admin.root. */
static enum l3af_status check_root(struct tlog *log, const char *dir, char key_id[static 65],
				   struct l3af_err *err)
{
	struct signer_entry e = {0};
	struct l3af_err perr = {0};
	uint8_t *bytes = NULL;
	size_t len = 0;
	enum l3af_status rc = tlog_entry_read(log, 0, &bytes, &len, err);

	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "reading entry 0");
		return rc;
	}
	if (signer_entry_parse(bytes, len, &e, &perr) != L3AF_OK ||
	    e.kind != SIGNER_ENTRY_ADMIN_ROOT)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "entry 0 of the log in %s is not an admin.root entry (%s); "
			       "l3af-tlogd serves only logs that start with their genesis "
			       "entry (docs/operations.md)",
			       dir, perr.msg[0] ? perr.msg : signer_entry_kind_name(e.kind));
	else if (strcmp(e.root.origin, tlog_origin(log)) != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "entry 0 of the log in %s is an admin.root entry for origin %s, "
			       "not this log's origin %s", dir, e.root.origin, tlog_origin(log));
	else
		snprintf(key_id, 65, "%s", e.root.admins[0].id);
	signer_entry_clear(&e);
	l3af_free(bytes);
	return rc;
}

enum l3af_status tlogd_genesis(struct tlog *log, const char *dir, bool *created,
			       char key_id[static 65], struct l3af_err *err)
{
	struct signer_privkey *key = NULL;
	struct signer_admin_root root;
	struct tlog_entry entry;
	char *bytes = NULL;
	size_t len = 0;
	uint64_t index = 0;
	enum l3af_status rc;

	*created = false;
	if (tlog_size(log) > 0)
		return check_root(log, dir, key_id, err);
	rc = admin_key(dir, &key, err);
	if (rc == L3AF_OK)
		rc = admin_pub(dir, signer_privkey_pubkey(key), err);
	if (rc == L3AF_OK) {
		memset(&root, 0, sizeof(root));
		root.version = 1;
		snprintf(root.origin, sizeof(root.origin), "%s", tlog_origin(log));
		root.threshold = 1;
		root.nadmins = 1;
		root.admins[0] = *signer_privkey_pubkey(key);
		rc = signer_entry_admin_root(&root, &bytes, &len, err);
	}
	if (rc == L3AF_OK) {
		entry.data = (const uint8_t *)bytes;
		entry.len = len;
		rc = tlog_append(log, &entry, 1, &index, err);
	}
	if (rc == L3AF_OK && index != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "genesis entry got index %llu, not 0",
			       (unsigned long long)index);
	if (rc == L3AF_OK) {
		*created = true;
		snprintf(key_id, 65, "%s", signer_privkey_pubkey(key)->id);
	} else {
		l3af_err_prefix(err, "genesis entry");
	}
	l3af_free(bytes);
	signer_privkey_free(key);
	return rc;
}
