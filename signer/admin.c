/*
 * admin.c - admin requests (docs/formats.md section 7, "Admin requests"):
 * the payload that admins sign with DSSE (payloadType
 * application/vnd.l3af-tlog.admin+json), built and parsed in one canonical
 * spelling (compact JSON, sorted keys), and opened against an admin.root:
 * the admin threshold, the log's origin and the validity window.
 *
 *   {"action":"publisher.register"|"publisher.update","nonce":"<32 hex>",
 *    "not_after":T2,"not_before":T1,"origin":"<log origin>",
 *    "params":{"keys":[...],"namespaces":[...],"publisher":"acme",
 *              "threshold":1,"version":n}}
 *
 * register carries version 1 and update a later version (the log checks
 * which version is current). Nonce reuse is the caller's check.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <string.h>

static const char *const request_fields[] = {
	"action", "nonce", "not_after", "not_before", "origin", "params",
};
static const char *const params_fields[] = {
	"keys", "namespaces", "publisher", "threshold", "version",
};

/* Checks on the struct, shared by build and parse. */
static enum l3af_status request_check(struct signer_admin_request *r, bool sort,
				      struct l3af_err *err)
{
	bool reg = strcmp(r->action, "publisher.register") == 0;
	enum l3af_status rc;

	if (!reg && strcmp(r->action, "publisher.update") != 0)
		return l3af_fail(err, L3AF_E_INVALID, "signer: admin request: unknown action");
	rc = signer_origin_check(r->origin, err);
	if (rc == L3AF_OK &&
	    (r->not_before < 0 || (uint64_t)r->not_before > SIGNER_JSON_UINT_MAX ||
	     r->not_after < 0 || (uint64_t)r->not_after > SIGNER_JSON_UINT_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: admin request: not_before or not_after outside 0..2^53-1");
	r->params.has_prev = false;
	if (rc == L3AF_OK)
		rc = signer_keyset_core_check(&r->params, sort, err);
	if (rc == L3AF_OK && reg != (r->params.version == 1))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: admin request: %s needs %s",
			       r->action, reg ? "version 1" : "a version above 1");
	return rc;
}

static enum l3af_status payload_parse(const char *text, size_t len,
				      struct signer_admin_request *out,
				      struct l3af_err *err)
{
	struct signer_admin_request r;
	const json_t *nonce, *params;
	json_t *root = NULL;
	char *again = NULL;
	uint64_t t1 = 0, t2 = 0;
	enum l3af_status rc;

	memset(&r, 0, sizeof(r));
	if (len > SIGNER_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: admin request: %zu bytes, limit %u",
				 len, SIGNER_ENTRY_MAX);
	rc = signer_json_load(text, len, "admin request", &root, err);
	if (rc == L3AF_OK)
		rc = signer_json_dump(root, SIGNER_DSSE_MAX, "admin request", &again, err);
	if (rc == L3AF_OK && (strlen(again) != len || memcmp(again, text, len) != 0))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: admin request: not canonical "
			       "(compact JSON, keys sorted, one spelling per value)");
	l3af_free(again);
	if (rc == L3AF_OK)
		rc = signer_json_fields(root, request_fields, 6, "admin request", err);
	if (rc == L3AF_OK)
		rc = signer_json_str(root, "action", "admin request", r.action, sizeof(r.action),
				     err);
	if (rc == L3AF_OK)
		rc = signer_json_str(root, "origin", "admin request", r.origin, sizeof(r.origin),
				     err);
	nonce = json_object_get(root, "nonce");
	if (rc == L3AF_OK &&
	    (!json_is_string(nonce) || json_string_length(nonce) != 32 ||
	     l3af_hex_decode(r.nonce, 16, json_string_value(nonce), 32) != L3AF_OK))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: admin request: nonce is not 32 lowercase hex");
	if (rc == L3AF_OK)
		rc = signer_json_uint(root, "not_before", "admin request", &t1, err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(root, "not_after", "admin request", &t2, err);
	r.not_before = (int64_t)t1;
	r.not_after = (int64_t)t2;
	params = json_object_get(root, "params");
	if (rc == L3AF_OK)
		rc = signer_json_fields(params, params_fields, 5, "admin request.params", err);
	if (rc == L3AF_OK)
		rc = signer_keyset_core_parse(params, "admin request.params", &r.params, err);
	if (rc == L3AF_OK)
		rc = request_check(&r, false, err);
	json_decref(root);
	if (rc == L3AF_OK)
		*out = r;
	return rc;
}

enum l3af_status signer_admin_request_build(const struct signer_admin_request *req,
					    char **out, struct l3af_err *err)
{
	struct signer_admin_request r, check;
	char nonce[33];
	json_t *params = NULL, *j = NULL;
	char *s = NULL;
	enum l3af_status rc;

	if (!req || !out)
		return l3af_fail(err, L3AF_E_INVALID, "signer: admin request: missing argument");
	r = *req;
	if (!memchr(r.action, '\0', sizeof(r.action)) || !memchr(r.origin, '\0', sizeof(r.origin)) ||
	    !memchr(r.params.publisher, '\0', sizeof(r.params.publisher)) ||
	    r.params.nnamespaces > SIGNER_NAMESPACES_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: admin request: bad struct");
	for (size_t i = 0; i < r.params.nnamespaces; i++)
		if (!memchr(r.params.namespaces[i], '\0', sizeof(r.params.namespaces[i])))
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: admin request: namespace %zu not terminated", i);
	rc = request_check(&r, true, err);
	if (rc != L3AF_OK)
		return rc;
	l3af_hex_encode(nonce, r.nonce, 16);
	params = signer_keyset_core_json(&r.params);
	if (params)
		j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o}", "action", r.action, "nonce",
			      nonce, "not_after", (json_int_t)r.not_after, "not_before",
			      (json_int_t)r.not_before, "origin", r.origin, "params", params);
	if (!j)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: admin request: out of memory");
	rc = signer_json_dump(j, SIGNER_ENTRY_MAX, "admin request", &s, err);
	json_decref(j);
	if (rc == L3AF_OK)
		rc = payload_parse(s, strlen(s), &check, err);
	if (rc != L3AF_OK) {
		l3af_free(s);
		return rc;
	}
	*out = s;
	return L3AF_OK;
}

/* check_time false: only the window's shape (signer_admin_request_open_logged). */
static enum l3af_status window_check(const struct signer_admin_request *r, bool check_time,
				     int64_t now, struct l3af_err *err)
{
	if (r->not_after < r->not_before ||
	    r->not_after - r->not_before > SIGNER_ADMIN_WINDOW_MAX)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "window: not_before %lld to not_after %lld is not a window of "
				 "0 to %d seconds", (long long)r->not_before,
				 (long long)r->not_after, SIGNER_ADMIN_WINDOW_MAX);
	if (!check_time)
		return L3AF_OK;
	/* not_before <= now + skew, written so that nothing overflows */
	if (r->not_before - SIGNER_ADMIN_SKEW > now)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "not yet valid: not_before %lld is after now %lld (+%d s skew)",
				 (long long)r->not_before, (long long)now, SIGNER_ADMIN_SKEW);
	/* now - skew <= not_after */
	if (r->not_after + SIGNER_ADMIN_SKEW < now)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "expired: not_after %lld is before now %lld (-%d s skew)",
				 (long long)r->not_after, (long long)now, SIGNER_ADMIN_SKEW);
	return L3AF_OK;
}

static enum l3af_status open_request(const char *envelope, size_t len,
				     const struct signer_admin_root *root, bool check_time,
				     int64_t now, struct signer_admin_request *out,
				     struct l3af_err *err)
{
	struct signer_dsse_result res = { .payload = NULL };
	struct signer_admin_request r;
	enum l3af_status rc;

	if (!envelope || !root || !out)
		return l3af_fail(err, L3AF_E_INVALID, "signer: admin request: missing argument");
	if (root->nadmins == 0 || root->nadmins > SIGNER_SET_KEYS_MAX || root->threshold == 0 ||
	    root->threshold > root->nadmins || !memchr(root->origin, '\0', sizeof(root->origin)))
		return l3af_fail(err, L3AF_E_INVALID, "signer: admin request: bad admin root");
	rc = signer_dsse_verify(envelope, len, root->admins, root->nadmins, root->threshold,
				&res, err);
	if (rc == L3AF_E_VERIFY)
		l3af_err_prefix(err, "signature");
	if (rc == L3AF_OK && strcmp(res.payload_type, SIGNER_ADMIN_PAYLOAD_TYPE) != 0)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: admin request: payloadType is not %s",
			       SIGNER_ADMIN_PAYLOAD_TYPE);
	if (rc == L3AF_OK)
		rc = payload_parse((const char *)res.payload, res.payload_len, &r, err);
	signer_dsse_result_clear(&res);
	if (rc == L3AF_OK && strcmp(r.origin, root->origin) != 0)
		rc = l3af_fail(err, L3AF_E_VERIFY, "origin: request is for another log");
	if (rc == L3AF_OK)
		rc = window_check(&r, check_time, now, err);
	if (rc == L3AF_OK)
		*out = r;
	return rc;
}

enum l3af_status signer_admin_request_open(const char *envelope, size_t len,
					   const struct signer_admin_root *root,
					   int64_t now,
					   struct signer_admin_request *out,
					   struct l3af_err *err)
{
	return open_request(envelope, len, root, true, now, out, err);
}

enum l3af_status signer_admin_request_open_logged(const char *envelope, size_t len,
						  const struct signer_admin_root *root,
						  struct signer_admin_request *out,
						  struct l3af_err *err)
{
	return open_request(envelope, len, root, false, 0, out, err);
}
