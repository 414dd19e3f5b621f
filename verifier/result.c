/*
 * result.c - verification results: reasons, the verdict and the JSON answer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

#define REASONS_MAX 256

struct l3af_verify_result *lv_result_new(void)
{
	struct l3af_verify_result *r = l3af_calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->verdict = L3AF_VERIFY_UNDECIDED;
	r->doc = json_object();
	if (!r->doc) {
		l3af_free(r);
		return NULL;
	}
	return r;
}

static enum l3af_status add(struct l3af_verify_result *r, bool undecided, const char *code,
			    const char *fmt, va_list ap) L3AF_PRINTF(4, 0);

static enum l3af_status add(struct l3af_verify_result *r, bool undecided, const char *code,
			    const char *fmt, va_list ap)
{
	struct lv_reason *n;
	char buf[1024];

	if (r->nreasons == REASONS_MAX)
		return L3AF_OK; /* enough said; the verdict is already not allow */
	n = l3af_realloc(r->reasons, (r->nreasons + 1) * sizeof(*n));
	if (!n)
		return L3AF_E_NOMEM;
	r->reasons = n;
	n = &r->reasons[r->nreasons];
	memset(n, 0, sizeof(*n));
	snprintf(n->code, sizeof(n->code), "%s", code);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n->msg = l3af_malloc(strlen(buf) + 1);
	if (!n->msg)
		return L3AF_E_NOMEM;
	memcpy(n->msg, buf, strlen(buf) + 1);
	n->undecided = undecided;
	r->nreasons++;
	return L3AF_OK;
}

enum l3af_status lv_deny(struct l3af_verify_result *r, const char *code, const char *fmt, ...)
{
	va_list ap;
	enum l3af_status rc;

	va_start(ap, fmt);
	rc = add(r, false, code, fmt, ap);
	va_end(ap);
	return rc;
}

enum l3af_status lv_undecided(struct l3af_verify_result *r, const char *code, const char *fmt,
			      ...)
{
	va_list ap;
	enum l3af_status rc;

	va_start(ap, fmt);
	rc = add(r, true, code, fmt, ap);
	va_end(ap);
	return rc;
}

enum l3af_status lv_set(struct l3af_verify_result *r, const char *key, json_t *value)
{
	if (!value || json_object_set_new(r->doc, key, value) != 0)
		return L3AF_E_NOMEM;
	return L3AF_OK;
}

enum l3af_status lv_result_finish(struct l3af_verify_result *r, struct l3af_err *err)
{
	bool deny = false, undecided = false;
	json_t *arr = json_array();
	const char *names[] = { [L3AF_VERIFY_ALLOW] = "allow", [L3AF_VERIFY_DENY] = "deny",
				[2] = "error", [L3AF_VERIFY_UNDECIDED] = "error" };

	for (size_t i = 0; arr && i < r->nreasons; i++) {
		deny |= !r->reasons[i].undecided;
		undecided |= r->reasons[i].undecided;
		json_array_append_new(arr, json_pack("{s:s,s:s}", "code", r->reasons[i].code,
						     "message", r->reasons[i].msg));
	}
	/* Any deny reason wins over "could not decide"; allow needs no reason. */
	r->verdict = deny ? L3AF_VERIFY_DENY
			  : undecided ? L3AF_VERIFY_UNDECIDED : L3AF_VERIFY_ALLOW;
	if (lv_set(r, "reasons", arr) != L3AF_OK ||
	    lv_set(r, "verdict", json_string(names[r->verdict])) != L3AF_OK)
		return l3af_fail(err, L3AF_E_NOMEM, "result: no memory");
	free(r->json);
	r->json = json_dumps(r->doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!r->json)
		return l3af_fail(err, L3AF_E_NOMEM, "result: no memory");
	if (r->verdict != L3AF_VERIFY_ALLOW) {
		ebpf_pkg_free(r->pkg);
		r->pkg = NULL;
	}
	return L3AF_OK;
}

enum l3af_verify_verdict l3af_verify_result_verdict(const struct l3af_verify_result *res)
{
	return res ? res->verdict : L3AF_VERIFY_UNDECIDED;
}

const char *l3af_verify_result_json(const struct l3af_verify_result *res)
{
	return res && res->json ? res->json : "{\"verdict\":\"error\"}";
}

size_t l3af_verify_result_nreasons(const struct l3af_verify_result *res)
{
	return res ? res->nreasons : 0;
}

const char *l3af_verify_result_reason(const struct l3af_verify_result *res, size_t i,
				      const char **message)
{
	if (!res || i >= res->nreasons)
		return NULL;
	if (message)
		*message = res->reasons[i].msg;
	return res->reasons[i].code;
}

bool l3af_verify_result_has(const struct l3af_verify_result *res, const char *code)
{
	for (size_t i = 0; res && i < res->nreasons; i++)
		if (!strcmp(res->reasons[i].code, code))
			return true;
	return false;
}

void l3af_verify_result_free(struct l3af_verify_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->nreasons; i++)
		l3af_free(res->reasons[i].msg);
	l3af_free(res->reasons);
	json_decref(res->doc);
	free(res->json);
	ebpf_pkg_free(res->pkg);
	l3af_free(res);
}

enum l3af_verify_status lv_status(enum l3af_status rc, const struct l3af_err *e, char *err)
{
	enum l3af_verify_status s;

	switch (rc) {
	case L3AF_OK:
		return L3AF_VERIFY_OK;
	case L3AF_E_NOMEM:
		s = L3AF_VERIFY_E_NOMEM;
		break;
	case L3AF_E_IO:
	case L3AF_E_CORRUPT:
		s = L3AF_VERIFY_E_IO;
		break;
	case L3AF_E_INTERNAL:
	case L3AF_E_CRYPTO:
		s = L3AF_VERIFY_E_INTERNAL;
		break;
	default:
		s = L3AF_VERIFY_E_CONFIG;
	}
	if (err)
		snprintf(err, L3AF_VERIFY_ERR_BYTES, "%s",
			 e && e->msg[0] ? e->msg : l3af_status_name(rc));
	return s;
}
