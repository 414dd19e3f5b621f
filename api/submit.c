/*
 * submit.c - POST /v1/submit (docs/api.md "Write and query API (v1)"):
 * authentication first, then the package, then admission.
 *
 *   1. api_submit_auth (post.c runs it as soon as the envelope part is in,
 *      before any artifact byte is kept): the envelope is JSON (400); under
 *      the write lock, the candidate publishers are chosen from the
 *      signatures' key IDs (an unnamed signature: only the publisher whose
 *      namespaces cover the package name) and their key sets copied; then,
 *      without the lock, the DSSE signature is verified under each copy
 *      (threshold, keys: 403 signature / unknown_publisher), the statement
 *      and predicate are read from the verified payload (400) and the name
 *      checked against the namespaces (403 namespace / signature);
 *   2. without the lock: sha256 and name of the artifact against the
 *      subject (422 digest_mismatch), then the archive and every ELF object
 *      (422 invalid_package / manifest_mismatch / policy), then the full
 *      signer_package_verify under the copy;
 *   3. under the write lock: the publisher's key set is still the copy's
 *      (else steps 1 and 2's signature checks are redone once under the new
 *      one; a second change is 503 busy), uniqueness of (name, version,
 *      platform) against the index and the entries in flight (409
 *      conflict; the same artifact again is the original entry,
 *      existing:true), then the entry is queued;
 *   4. the answer waits until the entry is published and indexed.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define refuse api_verdict_refuse

static const char GENERIC[] = "internal error; the operator has the details";

static bool internal(struct api_server *s, struct api_verdict *v, unsigned status,
		     const char *code, const char *detail)
{
	api_diag(s, "submit: %s", detail);
	return refuse(v, status, code, "%s", GENERIC);
}

static bool broken(struct api_verdict *v)
{
	return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
		      "the server refuses writes after an internal failure; the operator must "
		      "restart it");
}

/* Did a signature of the envelope name a key of ks by its key ID? */
static bool named_by(const json_t *env, const struct signer_keyset *ks)
{
	size_t i;
	json_t *sig;

	json_array_foreach(json_object_get(env, "signatures"), i, sig)
	{
		const char *id = json_string_value(json_object_get(sig, "keyid"));
		for (size_t k = 0; id && id[0] && k < ks->nkeys; k++)
			if (!strcmp(ks->keys[k].id, id))
				return true;
	}
	return false;
}

/* The first publisher whose namespaces cover name (lock held), or NULL. */
static const struct api_pub *owner_of(struct api_write *w, const char *name)
{
	for (size_t i = 0; name[0] && i < w->npubs; i++)
		if (signer_namespace_match(&w->pubs[i].ks, name))
			return &w->pubs[i];
	return NULL;
}

struct cand {
	struct signer_keyset ks;
	uint64_t index, gen;
};

/* Lock held: copies of the candidates' key sets (each with a known
 * index), the owner of the hinted name in owner[]. false: *v says. */
static bool candidates(struct api_write *w, struct api_admission *u, struct cand *c,
		       size_t *n, char owner[static SIGNER_PUBLISHER_MAX + 1],
		       struct api_verdict *v)
{
	const struct api_pub *own;

again:
	*n = 0;
	if (api_write_broken(w))
		return broken(v);
	own = owner_of(w, u->hint);
	snprintf(owner, SIGNER_PUBLISHER_MAX + 1, "%s", own ? own->ks.publisher : "");
	for (size_t i = 0; i < w->npubs && *n < API_CANDIDATES_MAX; i++) {
		struct api_pub *p = &w->pubs[i];
		bool named = named_by(u->env, &p->ks);
		if (!named && p != own)
			continue;
		if (!p->index_known) {
			/* decide under real key sets only: its new key set is
			 * queued; wait until it is indexed (or refused) */
			char id[SIGNER_PUBLISHER_MAX + 1];
			snprintf(id, sizeof(id), "%s", p->ks.publisher);
			if (api_write_wait_pub(w, id) != L3AF_OK)
				return broken(v);
			goto again;
		}
		if (!named && !u->empty_keyid)
			continue; /* the owner, only for the refusal's wording */
		c[*n].ks = p->ks;
		c[*n].index = p->index;
		c[*n].gen = p->gen;
		(*n)++;
	}
	return true;
}

/* Lock held: the publisher whose namespaces cover u->hint, in owner[]
 * ("" if none), once its key set is indexed. false: *v says. */
static bool owner_name(struct api_write *w, struct api_admission *u,
		       char owner[static SIGNER_PUBLISHER_MAX + 1], struct api_verdict *v)
{
	const struct api_pub *own;

	for (;;) {
		if (api_write_broken(w))
			return broken(v);
		own = owner_of(w, u->hint);
		if (!own || own->index_known)
			break;
		char id[SIGNER_PUBLISHER_MAX + 1];
		snprintf(id, sizeof(id), "%s", own->ks.publisher);
		if (api_write_wait_pub(w, id) != L3AF_OK)
			return broken(v);
	}
	snprintf(owner, SIGNER_PUBLISHER_MAX + 1, "%s", own ? own->ks.publisher : "");
	return true;
}

/* Choose the candidates and verify the signature under their copies. The
 * payload's name (u->hint) is read before verification only when a
 * signature has no key ID (it chooses the candidate then) or to word a
 * refusal (signature vs unknown_publisher, the owner's answer first). */
static bool authenticate(struct api_write *w, struct api_admission *u, struct api_verdict *v)
{
	struct cand *c = l3af_calloc(API_CANDIDATES_MAX, sizeof(*c));
	struct api_verdict *got = l3af_calloc(API_CANDIDATES_MAX, sizeof(*got));
	char owner[SIGNER_PUBLISHER_MAX + 1];
	struct api_verdict first = {0};
	size_t n = 0, i;
	bool ok;

	if (!c || !got) {
		l3af_free(c);
		l3af_free(got);
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
	}
	if (u->empty_keyid)
		api_admit_hint(u);
	pthread_mutex_lock(&w->lock);
	ok = candidates(w, u, c, &n, owner, v);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; ok && i < n; i++) {
		if (api_admit_sign(u, &c[i].ks, c[i].index, &got[i]))
			break;
		if (got[i].status == MHD_HTTP_BAD_REQUEST || got[i].status >= 500) {
			*v = got[i]; /* not about this key set: malformed, or no memory */
			ok = false;
		}
	}
	if (ok && i == n && !u->hint_done) {
		/* refused: who owns the name decides the wording */
		api_admit_hint(u);
		pthread_mutex_lock(&w->lock);
		ok = owner_name(w, u, owner, v);
		pthread_mutex_unlock(&w->lock);
	}
	for (size_t j = 0; ok && i == n && j < n; j++)
		if (!first.status || !strcmp(c[j].ks.publisher, owner))
			first = got[j]; /* prefer the answer of the name's owner */
	if (ok && i < n) {
		if (!u->ks)
			u->ks = l3af_malloc(sizeof(*u->ks));
		if (!u->ks)
			ok = refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
		else
			*u->ks = c[i].ks;
		u->gen = c[i].gen;
	} else if (ok && !n && owner[0]) {
		ok = refuse(v, 403, "signature",
			    "signature: no key of publisher %s signed the envelope", owner);
	} else if (ok && !n) {
		ok = refuse(v, 403, "unknown_publisher",
			    "no publisher's key set holds a key that signed the envelope");
	} else if (ok && !strcmp(first.code, "namespace") && owner[0]) {
		ok = refuse(v, 403, "signature",
			    "signature: package %s belongs to publisher %s, whose keys did not "
			    "sign it", u->cand.name, owner);
	} else if (ok) {
		*v = first;
		ok = false;
	}
	l3af_free(got);
	l3af_free(c);
	return ok;
}

bool api_submit_auth(struct api_server *s, struct api_admission *u, const char *envelope,
		     size_t envelope_len, const char *artifact_name)
{
	if (u->authenticated)
		return true;
	u->authenticated = api_admit_parse(u, envelope, envelope_len, artifact_name, &u->early) &&
			   authenticate(s->w, u, &u->early);
	return u->authenticated;
}

/* Step 3a (lock held): uniqueness. *t is an in-flight twin to wait for, or
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
		return internal(w->s, v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", err.msg);
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

/* Lock held: is u's key-set copy still the publisher's key set in force? */
static bool still_current(struct api_write *w, const struct api_admission *u)
{
	const struct api_pub *p = api_write_pub(w, u->cand.publisher);

	return p && p->gen == u->gen && p->index_known;
}

/* Step 3 (lock held): admit and wait. A new entry's bytes are kept in
 * *entry (l3af_malloc'd) for the answer's bundle. */
static bool admit(struct api_write *w, struct api_admission *u, bool *existing, uint64_t *index,
		  char **entry, size_t *len, struct api_verdict *v)
{
	struct api_ticket tmpl = {.kind = SIGNER_ENTRY_PACKAGE}, *t = NULL;
	enum l3af_status rc;

	if (api_write_broken(w))
		return broken(v);
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
		if (!api_admit_entry(u, entry, len, &parsed, v))
			return false;
		rc = api_write_enqueue(w, &tmpl, *entry, *len, &t, &v->err);
		if (rc == L3AF_OK) {
			/* flushed only under the lock we hold */
			t->parsed = parsed;
			t->has_parsed = true;
		} else {
			signer_entry_clear(&parsed);
		}
		if (rc == L3AF_E_BUSY)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				      "the log's append queue is full; retry later");
		if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
			return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "entry: %s", v->err.msg);
		if (rc != L3AF_OK)
			return internal(w->s, v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
					v->err.msg);
	}
	rc = api_write_wait(w, t, index, &v->err);
	if (rc != L3AF_OK)
		return internal(w->s, v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", v->err.msg);
	return true;
}

/* The artifact: in memory, or the spooled file mapped read-only. */
static bool map_artifact(struct api_server *s, int fd, uint64_t size, const uint8_t **out,
			 struct api_verdict *v)
{
	void *m;

	if (size == 0) {
		*out = (const uint8_t *)"";
		return true;
	}
	m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return internal(s, v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				"mapping the uploaded artifact failed");
	*out = m;
	return true;
}

/* Steps 2 and 3; the key set may change once while step 2 runs. */
static bool check_and_admit(struct api_server *s, struct api_admission *u, const uint8_t *art,
			    uint64_t size, bool *existing, uint64_t *index, char **entry,
			    size_t *len, struct api_verdict *v)
{
	struct api_write *w = s->w;
	bool ok;

	if (!api_admit_subject(u, art, size, v) || !api_admit_package(u, w->policy, art, size, v) ||
	    !api_admit_verify(u, u->ks, u->cand.keys_index, v))
		return false;
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&w->lock);
		if (still_current(w, u)) {
			ok = admit(w, u, existing, index, entry, len, v);
			pthread_mutex_unlock(&w->lock);
			return ok;
		}
		pthread_mutex_unlock(&w->lock);
		if (tries == 1)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				      "the publisher's key set changed during the submission; "
				      "retry later");
		/* the signature checks again, under the key set in force now */
		if (!authenticate(w, u, v) || !api_admit_verify(u, u->ks, u->cand.keys_index, v))
			return false;
	}
}

/* keys: the new entry's keys_index, known without parsing it again; an
 * existing entry may name an older key set, so it is parsed. entry: the
 * new entry's bytes (NULL for an existing one: read from the log). */
static enum MHD_Result answer(struct api_server *s, struct MHD_Connection *c, bool existing,
			      uint64_t index, uint64_t keys, const char *entry, size_t entry_len)
{
	struct l3af_err err = {0};
	char *bundle = NULL;
	size_t len = 0;
	enum l3af_status rc = api_bundle_for_entry(s, index, existing ? API_KEYS_UNKNOWN : keys,
						   (const uint8_t *)entry, entry_len, &bundle,
						   &len, &err);

	if (rc != L3AF_OK)
		return api_send_failure(s, c, "/v1/submit", rc, &err);
	json_t *doc = json_pack("{s:s%, s:b, s:I}", "bundle", bundle, len, "existing", existing,
				"index", (json_int_t)index);
	l3af_free(bundle);
	return api_send_json(c, MHD_HTTP_OK, doc);
}

enum MHD_Result api_submit_finish(struct api_server *s, struct MHD_Connection *c,
				  struct api_admission *u, const char *envelope, size_t envelope_len,
				  const uint8_t *artifact_mem, int artifact_fd,
				  uint64_t artifact_size, const char *artifact_name)
{
	struct api_verdict v = {0};
	bool ok, existing = false;
	uint64_t index = 0;
	const uint8_t *art = artifact_mem;
	char *entry = NULL;
	size_t entry_len = 0;
	enum MHD_Result ret;

	ok = api_submit_auth(s, u, envelope, envelope_len, artifact_name);
	if (!ok)
		v = u->early;
	if (ok && !art)
		ok = map_artifact(s, artifact_fd, artifact_size, &art, &v);
	if (ok)
		ok = check_and_admit(s, u, art, artifact_size, &existing, &index, &entry,
				     &entry_len, &v);
	if (art && !artifact_mem && artifact_size)
		munmap((void *)(uintptr_t)art, artifact_size);
	if (ok)
		ret = answer(s, c, existing, index, u->cand.keys_index, existing ? NULL : entry,
			     entry_len);
	else if (!strcmp(v.code, "busy"))
		ret = api_refuse_busy(s, c, v.err.msg);
	else
		ret = api_refuse(s, c, v.status, v.code, v.err.msg,
				 !strcmp(v.code, "policy")
					 ? json_pack("{s:O}", "violations", u->violations)
					 : NULL);
	l3af_free(entry);
	return ret;
}
