/*
 * submit.c - POST /v1/submit once its body is in (post.c): the package
 * checks (docs/api.md "Write and query API (v1)") and admission.
 *
 *   1. the envelope is JSON (no duplicate keys) and its payload an in-toto
 *      statement: 400 bad_request otherwise;
 *   2. the archive is read and every bpf-elf file inspected by bpf/ (422
 *      invalid_package), the package is named as the predicate says (422
 *      manifest_mismatch) and meets the policy (422 policy, "violations");
 *   3. under the write lock: the publisher whose key set in force verifies
 *      the envelope (signer_package_verify: 403 signature / namespace /
 *      unknown_publisher, 422 digest_mismatch / manifest_mismatch), then
 *      uniqueness of (name, version, platform) against the index and the
 *      entries still in flight (409 conflict; the same artifact again is
 *      the original entry, existing:true), then the entry is queued;
 *   4. the answer waits until the entry is published and indexed.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define refuse api_verdict_refuse

/* The uploaded artifact, back from its temporary file. */
static bool read_artifact(int fd, uint64_t size, uint8_t **out, struct api_verdict *v)
{
	uint8_t *art = l3af_malloc(size ? size : 1);
	size_t got = 0;

	if (!art)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
	*out = art;
	while (got < size) {
		ssize_t k = pread(fd, art + got, size - got, (off_t)got);
		if (k <= 0)
			return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				      "reading the uploaded artifact back failed");
		got += (size_t)k;
	}
	return true;
}

/* Did a signature of the envelope name a key of ks (or name none)? */
static bool signed_by(const json_t *env, const struct signer_keyset *ks)
{
	size_t i;
	json_t *sig;

	json_array_foreach(json_object_get(env, "signatures"), i, sig)
	{
		const char *id = json_string_value(json_object_get(sig, "keyid"));
		if (!id || !id[0])
			return true;
		for (size_t k = 0; k < ks->nkeys; k++)
			if (!strcmp(ks->keys[k].id, id))
				return true;
	}
	return false;
}

/* Step 3a (lock held): the publisher whose key set verifies the package. */
static bool choose_publisher(struct api_write *w, struct api_admission *u, struct api_verdict *v)
{
	struct api_verdict first = {0};
	const struct api_pub *owner = NULL;
	bool candidate = false;

again:
	for (size_t i = 0; i < w->npubs; i++) {
		struct api_pub *p = &w->pubs[i];
		struct api_verdict got = {0};
		bool ns = signer_namespace_match(&p->ks, u->cand.name);

		owner = ns && !owner ? p : owner;
		if (!signed_by(u->env, &p->ks))
			continue;
		if (!p->index_known) {
			/* its new key set is queued: check under it once indexed */
			char id[SIGNER_PUBLISHER_MAX + 1];
			snprintf(id, sizeof(id), "%s", p->ks.publisher);
			api_write_wait_pub(w, id);
			owner = NULL;
			candidate = false;
			first.status = 0;
			goto again;
		}
		candidate = true;
		if (api_admit_verify(u, &p->ks, p->index, &got))
			return true;
		if (!first.status || ns) /* prefer the answer of the name's owner */
			first = got;
	}
	if (!candidate && owner)
		return refuse(v, 403, "signature",
			      "signature: no key of publisher %s signed the envelope",
			      owner->ks.publisher);
	if (!candidate)
		return refuse(v, 403, "unknown_publisher",
			      "no publisher's key set holds a key that signed the envelope");
	if (!strcmp(first.code, "namespace") && owner)
		return refuse(v, 403, "signature",
			      "signature: package %s belongs to publisher %s, whose keys did not "
			      "sign it", u->cand.name, owner->ks.publisher);
	*v = first;
	return false;
}

/* Step 3b (lock held): uniqueness. *t is an in-flight twin to wait for, or
 * *existing an indexed one. */
static bool check_unique(struct api_write *w, struct api_admission *u, const char *hex,
			 struct api_ticket **twin, bool *existing, uint64_t *index,
			 struct api_verdict *v)
{
	struct api_pkg_row row;
	struct l3af_err err = {0};
	size_t n = 0;

	if (api_index_lookup(w->ix, "name", u->cand.name, u->cand.version, u->cand.platform, &row,
			     1, &n, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err.msg);
	if (n == 1 && strcmp(row.sha256, hex) != 0)
		return refuse(v, 409, "conflict",
			      "%s %s for %s is already logged (entry %llu) with another artifact",
			      u->cand.name, u->cand.version, u->cand.platform,
			      (unsigned long long)row.index);
	if (n == 1) {
		*existing = true;
		*index = row.index;
		return true;
	}
	for (struct api_ticket *t = w->head; t; t = t->next) {
		if (t->kind != SIGNER_ENTRY_PACKAGE || strcmp(t->name, u->cand.name) ||
		    strcmp(t->version, u->cand.version) || strcmp(t->platform, u->cand.platform))
			continue;
		if (strcmp(t->sha256, hex) != 0)
			return refuse(v, 409, "conflict",
				      "%s %s for %s is being logged with another artifact",
				      u->cand.name, u->cand.version, u->cand.platform);
		t->refs++;
		*twin = t;
		*existing = true;
		return true;
	}
	return true;
}

/* Step 3 (lock held): admit and wait. */
static bool admit(struct api_write *w, struct api_admission *u, bool *existing, uint64_t *index,
		  struct api_verdict *v)
{
	struct api_ticket tmpl = {.kind = SIGNER_ENTRY_PACKAGE}, *t = NULL;
	char *entry = NULL;
	size_t len = 0;
	enum l3af_status rc;

	if (w->index_broken)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			      "the lookup index failed; the operator must restart the server");
	if (!choose_publisher(w, u, v))
		return false;
	l3af_hex_encode(tmpl.sha256, u->cand.artifact_sha256, 32);
	if (!check_unique(w, u, tmpl.sha256, &t, existing, index, v))
		return false;
	if (*existing && !t)
		return true;
	if (!t) {
		snprintf(tmpl.name, sizeof(tmpl.name), "%s", u->cand.name);
		snprintf(tmpl.version, sizeof(tmpl.version), "%s", u->cand.version);
		snprintf(tmpl.platform, sizeof(tmpl.platform), "%s", u->cand.platform);
		struct signer_entry parsed;
		if (!api_admit_entry(u, &entry, &len, &parsed, v))
			return false;
		rc = api_write_enqueue(w, &tmpl, entry, len, &t, &v->err);
		l3af_free(entry);
		if (rc == L3AF_OK) {
			/* flushed only under the lock we hold */
			t->parsed = parsed;
			t->has_parsed = true;
		} else {
			signer_entry_clear(&parsed);
		}
		if (rc == L3AF_E_BUSY)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "%s", v->err.msg);
		if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
			return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "entry: %s", v->err.msg);
		if (rc != L3AF_OK)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", v->err.msg);
	}
	rc = api_write_wait(w, t, index, &v->err);
	if (rc != L3AF_OK)
		return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", v->err.msg);
	return true;
}

static enum MHD_Result answer(struct api_server *s, struct MHD_Connection *c, bool existing,
			      uint64_t index)
{
	struct l3af_err err = {0};
	char *bundle = NULL;
	size_t len = 0;
	enum l3af_status rc = api_bundle_for(s, index, &bundle, &len, &err);

	if (rc != L3AF_OK)
		return api_send_failure(s, c, "/v1/submit", rc, &err);
	json_t *doc = json_pack("{s:s%, s:b, s:I}", "bundle", bundle, len, "existing", existing,
				"index", (json_int_t)index);
	l3af_free(bundle);
	return api_send_json(c, MHD_HTTP_OK, doc);
}

enum MHD_Result api_submit_finish(struct api_server *s, struct MHD_Connection *c,
				  const char *envelope, size_t envelope_len,
				  const uint8_t *artifact_mem, int artifact_fd,
				  uint64_t artifact_size, const char *artifact_name)
{
	struct api_write *w = s->w;
	struct api_admission u = {0};
	struct api_verdict v = {0};
	bool ok, existing = false;
	uint64_t index = 0;
	uint8_t *art = NULL;
	enum MHD_Result ret;

	ok = (artifact_mem || read_artifact(artifact_fd, artifact_size, &art, &v)) &&
	     api_admit_check(&u, w->policy, envelope, envelope_len,
			     artifact_mem ? artifact_mem : art, artifact_size, artifact_name, &v);
	l3af_free(art);
	if (ok) {
		pthread_mutex_lock(&w->lock);
		ok = admit(w, &u, &existing, &index, &v);
		pthread_mutex_unlock(&w->lock);
	}
	if (ok)
		ret = answer(s, c, existing, index);
	else
		ret = api_refuse(s, c, v.status, v.code, v.err.msg,
				 !strcmp(v.code, "policy")
					 ? json_pack("{s:O}", "violations", u.violations)
					 : NULL);
	api_admission_clear(&u);
	return ret;
}
