/*
 * admin_api.c - POST /v1/admin: an admin-signed request (docs/formats.md
 * section 7, "Admin requests") becomes a publisher.keys entry.
 *
 * Checks, in order: the envelope verifies under the admin.root of entry 0
 * with its threshold, names this log's origin and is inside its validity
 * window (signer_admin_request_open: 403 admin_signature / wrong_origin /
 * expired / not_yet_valid, 400 for anything malformed); then, under the
 * write lock, the nonce was never used (409 replay: the index, and the
 * requests still in flight), a registration names a new publisher at
 * version 1 and an update the current version + 1 (409 conflict). The
 * in-memory key set changes when the entry is queued, so every package
 * admitted before it was checked under the old version and every package
 * admitted after it waits for its index (write.c).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define refuse api_verdict_refuse

/* An internal failure: the detail to diag, a generic text to the client. */
static bool internal(struct api_write *w, struct api_verdict *v, unsigned status,
		     const char *code, const struct l3af_err *err)
{
	api_diag(w->s, "admin: %s", err->msg);
	return refuse(v, status, code, "internal error; the operator has the details");
}

static enum MHD_Result open_refusal(struct api_server *s, struct MHD_Connection *c,
				    enum l3af_status rc, const struct l3af_err *err)
{
	static const struct {
		const char *prefix;
		const char *code;
	} map[] = {
		{"signature:", "admin_signature"}, {"origin:", "wrong_origin"},
		{"expired:", "expired"},           {"not yet valid:", "not_yet_valid"},
		{"window:", "expired"},
	};

	if (rc == L3AF_E_VERIFY) {
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strncmp(err->msg, map[i].prefix, strlen(map[i].prefix)))
				return api_refuse(s, c, 403, map[i].code, err->msg, NULL);
		return api_refuse(s, c, 403, "admin_signature", err->msg, NULL);
	}
	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return api_refuse(s, c, MHD_HTTP_BAD_REQUEST, "bad_request", err->msg, NULL);
	api_diag(s, "admin: %s", err->msg);
	return api_refuse(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			  "the server is short of a resource; retry later", NULL);
}

/* Lock held: nonce, action and version checks, then queue and wait. */
static bool admit(struct api_write *w, struct signer_admin_request *req, const char *body,
		  size_t len, uint64_t *index, struct api_verdict *v)
{
	struct api_ticket tmpl = {.kind = SIGNER_ENTRY_PUBLISHER_KEYS}, *t = NULL;
	struct signer_keyset *ks = &req->params;
	struct l3af_err err = {0};
	struct api_pub *cur;
	bool used = false, reg = !strcmp(req->action, "publisher.register");
	char *entry = NULL;
	size_t elen = 0;
	enum l3af_status rc;

	if (api_write_broken(w))
		return refuse(v, 503, "unavailable",
			      "the server refuses writes after an internal failure; the operator "
			      "must restart it");
	l3af_hex_encode(tmpl.nonce, req->nonce, 16);
	if (api_index_nonce_used(w->ix, tmpl.nonce, l3af_wall_s(), &used, &err) != L3AF_OK)
		return internal(w, v, 500, "internal", &err);
	for (struct api_ticket *p = w->head; p && !used; p = p->next)
		used = p->kind == SIGNER_ENTRY_PUBLISHER_KEYS && !strcmp(p->nonce, tmpl.nonce);
	if (used)
		return refuse(v, 409, "replay", "nonce %s was already used", tmpl.nonce);
	cur = api_write_pub(w, ks->publisher);
	if (reg && cur)
		return refuse(v, 409, "conflict", "publisher %s is already registered",
			      ks->publisher);
	if (reg && ks->version != 1)
		return refuse(v, 409, "conflict", "a registration is version 1, not %llu",
			      (unsigned long long)ks->version);
	if (!reg && !cur)
		return refuse(v, 409, "conflict", "no publisher %s to update", ks->publisher);
	if (!reg && ks->version != cur->ks.version + 1)
		return refuse(v, 409, "conflict",
			      "publisher %s is at version %llu; an update is %llu", ks->publisher,
			      (unsigned long long)cur->ks.version,
			      (unsigned long long)cur->ks.version + 1);
	ks->has_prev = !reg;
	if (cur)
		memcpy(ks->prev, cur->leaf, 32);
	/* Everything that can fail for lack of memory before the entry is
	 * queued: once it is, the key set must change in memory too. */
	rc = api_write_pub_reserve(w, &err);
	if (rc == L3AF_OK)
		rc = signer_entry_keyset(ks, body, len, &entry, &elen, &err);
	if (rc == L3AF_OK)
		rc = api_write_enqueue(w, &tmpl, entry, elen, &t, &err);
	if (rc == L3AF_OK && api_write_pub_set(w, t, ks, &err) != L3AF_OK) {
		/* only the undo copy of the old key set is missing: keep the
		 * entry (it is queued) and fail closed on this publisher's
		 * state being unrestorable, by refusing writes */
		w->log_broken = true;
		api_diag(w->s, "admin: %s; writes are refused until a restart", err.msg);
		rc = L3AF_OK;
	}
	l3af_free(entry);
	if (rc == L3AF_E_BUSY)
		return refuse(v, 503, "busy", "the log's append queue is full; retry later");
	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return refuse(v, 400, "bad_request", "%s", err.msg);
	if (rc != L3AF_OK)
		return internal(w, v, 503, "unavailable", &err);
	if (api_write_wait(w, t, index, &err) != L3AF_OK)
		return internal(w, v, 503, "unavailable", &err);
	return true;
}

enum MHD_Result api_admin_finish(struct api_server *s, struct MHD_Connection *c,
				 const char *body, size_t len)
{
	struct api_write *w = s->w;
	struct signer_admin_request *req = l3af_calloc(1, sizeof(*req));
	struct api_verdict v = {0};
	struct l3af_err err = {0};
	uint64_t index = 0;
	char *bundle = NULL;
	size_t blen = 0;
	enum l3af_status rc;
	enum MHD_Result ret;
	bool ok;

	if (!req)
		return api_send_error(c, 503, "unavailable", "out of memory", NULL);
	rc = signer_admin_request_open(body, len, &w->root, l3af_wall_s(), req, &err);
	if (rc != L3AF_OK) {
		l3af_free(req);
		return open_refusal(s, c, rc, &err);
	}
	pthread_mutex_lock(&w->lock);
	ok = admit(w, req, body, len, &index, &v);
	pthread_mutex_unlock(&w->lock);
	if (!ok) {
		l3af_free(req);
		if (!strcmp(v.code, "busy"))
			return api_refuse_busy(s, c, v.err.msg);
		return api_refuse(s, c, v.status, v.code, v.err.msg, NULL);
	}
	rc = api_bundle_for_keys(s, index, API_KEYS_NONE, &bundle, &blen, &err);
	if (rc != L3AF_OK) {
		l3af_free(req);
		return api_send_failure(s, c, "/v1/admin", rc, &err);
	}
	ret = api_send_json(c, MHD_HTTP_OK,
			    json_pack("{s:s%, s:I, s:s, s:I}", "bundle", bundle, blen, "index",
				      (json_int_t)index, "publisher", req->params.publisher,
				      "version", (json_int_t)req->params.version));
	l3af_free(bundle);
	l3af_free(req);
	return ret;
}
