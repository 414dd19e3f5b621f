/*
 * check_pkg.c - the package side of a check: the entry against the request,
 * the artifact bytes against the entry, the publisher's signature under the
 * key set the bundle carries, the archive against the signed manifest, and
 * the node's version rules.
 */
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

static enum l3af_status request_check(const struct l3af_verify_request *req,
				      const struct signer_package *pkg,
				      struct l3af_verify_result *r)
{
	static const char *const codes[] = { "name", "version", "platform", "file_name" };
	const char *want[] = { req->name, req->version, req->platform, req->file_name };
	const char *have[] = { pkg->name, pkg->version, pkg->platform, pkg->artifact_name };
	enum l3af_status rc = L3AF_OK;

	for (size_t i = 0; rc == L3AF_OK && i < 4; i++)
		if (strcmp(want[i], have[i]) != 0)
			rc = lv_deny(r, codes[i], "the entry's %s is '%s', the request's '%s'",
				     codes[i], have[i], want[i]);
	return rc;
}

static enum l3af_status artifact_check(const struct l3af_verify_request *req,
				       const struct signer_package *pkg, struct lv_log *lg,
				       struct l3af_verify_result *r, struct l3af_err *err)
{
	const uint8_t *h = lg->artifact_sha256;
	char got[65], want[65];
	enum l3af_status rc = L3AF_OK;

	if (!lg->has_artifact_sha256) /* online mode hashed it for the URL */
		rc = l3af_sha256(req->artifact, req->artifact_len, lg->artifact_sha256);
	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "sha256 of the artifact failed");
	lg->has_artifact_sha256 = true;
	lv_hex32(h, got);
	lv_hex32(pkg->artifact_sha256, want);
	if (memcmp(h, pkg->artifact_sha256, 32) != 0)
		return lv_deny(r, "artifact_digest",
			       "artifact sha256 %s (%zu bytes) is not the entry's %s (%llu bytes)", got,
			       req->artifact_len, want, (unsigned long long)pkg->artifact_size);
	if (req->artifact_len != pkg->artifact_size)
		return lv_deny(r, "artifact_digest", "artifact is %zu bytes, the entry says %llu",
			       req->artifact_len, (unsigned long long)pkg->artifact_size);
	return L3AF_OK;
}

/* signer_package_verify names the failed check at the start of its message. */
static const char *verify_code(const char *msg)
{
	static const char *const prefixes[] = { "namespace", "signature", "subject", "predicate",
						"publisher" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		const char *at = strstr(msg, prefixes[i]);

		if (at && (at == msg || at[-1] == ' ') && at[n] == ':')
			return prefixes[i];
	}
	return "signature";
}

static enum l3af_status keyset_check(const struct l3af_verify_config *cfg,
				     const struct lv_log *lg, const struct signer_package *pkg,
				     struct l3af_verify_result *r, struct l3af_err *err)
{
	const struct tlog_bundle *b = lg->b;
	struct signer_entry ks;
	struct l3af_err e = { 0 };
	enum l3af_status rc;

	memset(&ks, 0, sizeof(ks));
	if (!b->has_keys)
		return lv_deny(r, "keys", "the bundle carries no publisher key set");
	if (b->keys_index != pkg->keys_index)
		return lv_deny(r, "keys_index",
			       "the bundle's key set is entry %llu, the package names %llu",
			       (unsigned long long)b->keys_index,
			       (unsigned long long)pkg->keys_index);
	rc = signer_entry_parse(b->keys_entry, b->keys_entry_len, &ks, &e);
	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	if (rc != L3AF_OK || ks.kind != SIGNER_ENTRY_PUBLISHER_KEYS) {
		rc = lv_deny(r, "keys", "entry %llu is not a publisher key set%s%s",
			     (unsigned long long)b->keys_index, rc ? ": " : "", rc ? e.msg : "");
		signer_entry_clear(&ks);
		return rc;
	}
	if (strcmp(ks.keyset.publisher, pkg->publisher) != 0) {
		rc = lv_deny(r, "publisher", "key set %llu is publisher '%s', the package is '%s'",
			     (unsigned long long)b->keys_index, ks.keyset.publisher,
			     pkg->publisher);
		signer_entry_clear(&ks);
		return rc;
	}
	rc = lv_check_keyset_request(cfg, lg, &ks, r, err);
	if (rc != L3AF_OK) {
		signer_entry_clear(&ks);
		return rc;
	}
	rc = signer_package_verify(pkg, &ks.keyset, NULL, &e);
	if (rc == L3AF_E_VERIFY || rc == L3AF_E_INVALID)
		rc = lv_deny(r, verify_code(e.msg), "publisher %s, key set version %llu: %s",
			     pkg->publisher, (unsigned long long)ks.keyset.version, e.msg);
	else if (rc != L3AF_OK)
		rc = l3af_fail(err, rc, "%s", e.msg);
	signer_entry_clear(&ks);
	return rc;
}

static enum l3af_status file_compare(const json_t *item, size_t i, const struct ebpf_pkg *p,
				     bool *seen, struct l3af_verify_result *r)
{
	const char *path = json_string_value(json_object_get(item, "path"));
	const char *sha = json_string_value(json_object_get(item, "sha256"));
	const char *mode = json_string_value(json_object_get(item, "mode"));
	const char *kind = json_string_value(json_object_get(item, "kind"));
	json_t *size = json_object_get(item, "size");
	const struct ebpf_pkg_file *f;
	char hex[65], m[8];

	if (!path || !sha || !mode || !kind || !json_is_integer(size))
		return lv_deny(r, "entry", "manifest item %zu is malformed", i);
	if (!strcmp(path, LV_VERIFIED_NAME))
		return lv_deny(r, "reserved_name", "the package holds %s, the name extract "
			       "reserves for the verified answer", LV_VERIFIED_NAME);
	f = ebpf_pkg_find(p, path);
	if (!f)
		return lv_deny(r, "manifest_missing", "%s is in the manifest but not in the archive",
			       path);
	seen[f - p->files] = true;
	lv_hex32(f->sha256, hex);
	snprintf(m, sizeof(m), "%04o", f->mode);
	if (strcmp(hex, sha) || f->size != (uint64_t)json_integer_value(size) || strcmp(m, mode) ||
	    strcmp(ebpf_file_kind_name(f->kind), kind))
		return lv_deny(r, "manifest_mismatch",
			       "%s: archive has sha256 %s, %llu bytes, mode %s, kind %s; the manifest "
			       "%s, %lld, %s, %s", path, hex, (unsigned long long)f->size, m,
			       ebpf_file_kind_name(f->kind), sha,
			       (long long)json_integer_value(size), mode, kind);
	return L3AF_OK;
}

static enum l3af_status archive_check(const struct l3af_verify_request *req,
				      const struct signer_package *pkg,
				      struct l3af_verify_result *r, struct l3af_err *err)
{
	struct ebpf_pkg *p = NULL;
	struct l3af_err e = { 0 };
	bool *seen = NULL;
	size_t i, bad = r->nreasons;
	json_t *item;
	enum l3af_status rc = ebpf_pkg_read(req->artifact, req->artifact_len, &p, &e);

	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	if (rc != L3AF_OK)
		return lv_deny(r, "archive", "%s", e.msg);
	if (strcmp(p->name, pkg->name) != 0)
		rc = lv_deny(r, "manifest_name", "the archive's folder is l3af_%s/, the entry's name %s",
			     p->name, pkg->name);
	seen = l3af_calloc(p->nfiles + 1, sizeof(*seen));
	if (!seen) {
		ebpf_pkg_free(p);
		return l3af_fail(err, L3AF_E_NOMEM, "no memory");
	}
	if (rc == L3AF_OK && !json_is_array(pkg->files))
		rc = lv_deny(r, "entry", "the entry has no file manifest");
	json_array_foreach(pkg->files, i, item) {
		if (rc != L3AF_OK)
			break;
		rc = file_compare(item, i, p, seen, r);
	}
	for (i = 0; rc == L3AF_OK && i < p->nfiles; i++)
		if (!seen[i])
			rc = lv_deny(r, "manifest_extra", "%s is in the archive but not in the manifest",
				     p->files[i].path);
	l3af_free(seen);
	if (rc == L3AF_OK && r->nreasons == bad)
		r->pkg = p; /* kept for extract, if the verdict allows */
	else
		ebpf_pkg_free(p);
	return rc == L3AF_OK ? L3AF_OK : l3af_fail(err, rc, "no memory");
}

static enum l3af_status version_check(const struct l3af_verify_config *cfg,
				      const struct signer_package *pkg, struct lv_log *lg,
				      struct l3af_verify_result *r, struct l3af_err *err)
{
	char *highest = lg->highest;
	enum l3af_status rc;

	for (size_t i = 0; i < cfg->node.npins; i++) {
		const struct lv_pin *p = &cfg->node.pins[i];

		if (strcmp(p->name, pkg->name) || (p->platform[0] && strcmp(p->platform, pkg->platform)))
			continue;
		if (strcmp(p->version, pkg->version) != 0)
			return lv_deny(r, "not_pinned", "%s is pinned to version %s, not %s", pkg->name,
				       p->version, pkg->version);
		return L3AF_OK; /* a pin allows going back to it */
	}
	rc = lv_state_version_get(cfg->state_dir, pkg->name, pkg->platform, lg->highest, err);
	if (rc != L3AF_OK)
		return rc;
	lg->highest_known = true;
	if (highest[0] && signer_version_cmp(pkg->version, highest) < 0)
		return lv_deny(r, "version_rollback",
			       "version %s of %s (%s) is below %s, which this node accepted "
			       "(pin it in the node policy to go back)", pkg->version, pkg->name,
			       pkg->platform, highest);
	return L3AF_OK;
}

static enum l3af_status describe(const struct tlog_bundle *b, const struct signer_package *pkg,
				 struct l3af_verify_result *r)
{
	char hex[65];
	enum l3af_status rc;

	lv_hex32(pkg->artifact_sha256, hex);
	rc = lv_set(r, "entry_index", json_integer((json_int_t)b->proof.index));
	if (rc == L3AF_OK)
		rc = lv_set(r, "package", json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "name", pkg->name,
						    "version", pkg->version, "platform",
						    pkg->platform, "publisher", pkg->publisher,
						    "artifact", pkg->artifact_name, "sha256", hex,
						    "keys_index", (json_int_t)pkg->keys_index));
	if (rc == L3AF_OK && pkg->files) {
		rc = lv_set(r, "files", json_deep_copy(pkg->files));
		r->manifest = json_object_get(r->doc, "files");
	}
	return rc;
}

enum l3af_status lv_check_package(const struct l3af_verify_config *cfg,
				  const struct l3af_verify_request *req, struct lv_log *lg,
				  struct signer_entry *entry, struct l3af_verify_result *r,
				  struct l3af_err *err)
{
	const struct tlog_bundle *b = lg->b;
	struct l3af_err e = { 0 };
	const struct signer_package *pkg = &entry->pkg;
	enum l3af_status rc = signer_entry_parse(b->entry, b->entry_len, entry, &e);

	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	if (rc != L3AF_OK)
		return lv_deny(r, "entry", "entry %llu is malformed: %s",
			       (unsigned long long)b->proof.index, e.msg);
	if (entry->kind != SIGNER_ENTRY_PACKAGE)
		return lv_deny(r, "entry", "entry %llu is a %s entry, not a package",
			       (unsigned long long)b->proof.index,
			       signer_entry_kind_name(entry->kind));
	rc = describe(b, pkg, r);
	if (rc == L3AF_OK)
		rc = request_check(req, pkg, r);
	if (rc == L3AF_OK)
		rc = artifact_check(req, pkg, lg, r, err);
	if (rc == L3AF_OK)
		rc = keyset_check(cfg, lg, pkg, r, err);
	if (rc == L3AF_OK)
		rc = lv_check_revocation(&cfg->node, pkg, b->proof.index, r);
	if (rc == L3AF_OK)
		rc = archive_check(req, pkg, r, err);
	if (rc == L3AF_OK)
		rc = lv_check_facts(&cfg->node, pkg, r);
	if (rc == L3AF_OK)
		rc = version_check(cfg, pkg, lg, r, err);
	return rc;
}
