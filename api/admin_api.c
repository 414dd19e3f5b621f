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
#include <stdio.h>
#include <string.h>

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
	return api_refuse(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", err->msg, NULL);
}

struct admin_verdict {
	unsigned status;
	const char *code;
	char msg[L3AF_ERR_MSG_BYTES];
};

static bool deny(struct admin_verdict *v, unsigned status, const char *code, const char *fmt,
		 ...) L3AF_PRINTF(4, 5);
static bool deny(struct admin_verdict *v, unsigned status, const char *code, const char *fmt,
		 ...)
{
	va_list ap;

	v->status = status;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	return false;
}

/* Lock held: nonce, action and version checks, then queue and wait. */
static bool admit(struct api_write *w, struct signer_admin_request *req, const char *body,
		  size_t len, uint64_t *index, struct admin_verdict *v)
{
	struct api_ticket tmpl = {.kind = SIGNER_ENTRY_PUBLISHER_KEYS}, *t = NULL;
	struct signer_keyset *ks = &req->params;
	struct l3af_err err = {0};
	struct api_pub *cur;
	bool used = false, reg = !strcmp(req->action, "publisher.register");
	char *entry = NULL;
	size_t elen = 0;
	enum l3af_status rc;

	if (w->index_broken)
		return deny(v, 503, "unavailable", "the lookup index failed; restart the server");
	l3af_hex_encode(tmpl.nonce, req->nonce, 16);
	if (api_index_nonce_used(w->ix, tmpl.nonce, l3af_wall_s(), &used, &err) != L3AF_OK)
		return deny(v, 500, "internal", "%s", err.msg);
	for (struct api_ticket *p = w->head; p && !used; p = p->next)
		used = p->kind == SIGNER_ENTRY_PUBLISHER_KEYS && !strcmp(p->nonce, tmpl.nonce);
	if (used)
		return deny(v, 409, "replay", "nonce %s was already used", tmpl.nonce);
	cur = api_write_pub(w, ks->publisher);
	if (reg && cur)
		return deny(v, 409, "conflict", "publisher %s is already registered",
			    ks->publisher);
	if (reg && ks->version != 1)
		return deny(v, 409, "conflict", "a registration is version 1, not %llu",
			    (unsigned long long)ks->version);
	if (!reg && !cur)
		return deny(v, 409, "conflict", "no publisher %s to update", ks->publisher);
	if (!reg && ks->version != cur->ks.version + 1)
		return deny(v, 409, "conflict", "publisher %s is at version %llu; an update is %llu",
			    ks->publisher, (unsigned long long)cur->ks.version,
			    (unsigned long long)cur->ks.version + 1);
	ks->has_prev = !reg;
	if (cur)
		memcpy(ks->prev, cur->leaf, 32);
	rc = signer_entry_keyset(ks, body, len, &entry, &elen, &err);
	if (rc == L3AF_OK)
		rc = api_write_enqueue(w, &tmpl, entry, elen, &t, &err);
	if (rc == L3AF_OK) {
		/* the key set in force for packages admitted from now on */
		if (!cur) {
			struct l3af_err e2 = {0};
			if (api_write_pub_add(w, ks, (const uint8_t *)entry, elen, &e2) != L3AF_OK)
				api_diag(w->s, "admin: %s", e2.msg);
		} else {
			cur->ks = *ks;
			cur->index_known = false;
			tlog_hash_leaf((const uint8_t *)entry, elen, cur->leaf);
		}
	}
	l3af_free(entry);
	if (rc == L3AF_E_BUSY)
		return deny(v, 503, "busy", "%s", err.msg);
	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return deny(v, 400, "bad_request", "%s", err.msg);
	if (rc != L3AF_OK)
		return deny(v, 503, "unavailable", "%s", err.msg);
	if (api_write_wait(w, t, index, &err) != L3AF_OK)
		return deny(v, 500, "internal", "%s", err.msg);
	return true;
}

enum MHD_Result api_admin_finish(struct api_server *s, struct MHD_Connection *c,
				 const char *body, size_t len)
{
	struct api_write *w = s->w;
	struct signer_admin_request *req = l3af_calloc(1, sizeof(*req));
	struct admin_verdict v = {0};
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
		return api_refuse(s, c, v.status, v.code, v.msg, NULL);
	}
	rc = api_bundle_for(s, index, &bundle, &blen, &err);
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
