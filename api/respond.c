/*
 * respond.c - the server's responses (moved out of server.c): queueing with
 * the header sets per resource kind, JSON error documents, the mapping of a
 * failed library call to an HTTP status, and the refusals of the write side
 * (counted in l3af_submissions_refused_total).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_BODY_MAX 768           /* one JSON error document */

/*
 * Header sets per resource kind. tlog-tiles "Checkpoints": text/plain;
 * charset=utf-8, mutable, "headers SHOULD prevent caching beyond a few
 * seconds" (we allow none: witnesses and monitors want the newest). Tiles and
 * entry bundles: application/octet-stream, "immutable, so its caching headers
 * SHOULD be long-lived" (a partial tile .p/W has fixed bytes too). Errors are
 * never cached: a 404 for a tile beyond the tree turns into a 200 later.
 */
const struct body_kind API_KIND_TEXT = {"text/plain; charset=utf-8", "no-store"};
const struct body_kind API_KIND_JSON = {"application/json", "no-store"};
#define KIND_JSON API_KIND_JSON

/* The status of the response this thread queued last (for metrics; server.c
 * reads and resets it). */
_Thread_local unsigned api_last_status;

/* Add the kind's headers (and Allow, if given) and queue; consumes resp. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *resp, const struct body_kind *kind,
			     const char *allow)
{
	enum MHD_Result ret = MHD_NO;

	if (!resp)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, kind->type) != MHD_YES)
		goto out;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, kind->cache) != MHD_YES)
		goto out;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff") !=
	    MHD_YES)
		goto out;
	if (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)
		goto out;
	api_last_status = status;
	ret = MHD_queue_response(c, status, resp);
out:
	MHD_destroy_response(resp);
	return ret;
}

/* Queue a body we allocated (l3af_malloc); MHD frees it after sending. */
enum MHD_Result api_send_owned(struct MHD_Connection *c, unsigned status,
				  const struct body_kind *kind, void *body, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(len, body, l3af_free);

	if (!resp)
		l3af_free(body);
	return queue(c, status, resp, kind, NULL);
}

enum MHD_Result api_send_copy(struct MHD_Connection *c, unsigned status,
				 const struct body_kind *kind, const char *body, size_t len,
				 const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);

	return queue(c, status, resp, kind, allow);
}

/* A bounded text buffer for one JSON error document. */
struct text {
	char buf[ERROR_BODY_MAX];
	size_t n;
};

static void put_raw(struct text *t, const char *s)
{
	size_t len = strlen(s);

	if (len > sizeof(t->buf) - t->n)
		len = sizeof(t->buf) - t->n;
	memcpy(t->buf + t->n, s, len);
	t->n += len;
}

/* Append s as a JSON string, quoted and escaped, truncated to leave room for
 * `reserve` more bytes. Bytes that are not printable ASCII become '?': our
 * messages are ASCII, and the document must stay valid UTF-8 whatever a lower
 * layer put in a message. */
static void put_quoted(struct text *t, const char *s, size_t reserve)
{
	static const char hex[] = "0123456789abcdef";
	size_t end = sizeof(t->buf) - reserve - 1; /* room for the closing quote */

	t->buf[t->n++] = '"';
	for (; *s && t->n + 6 <= end; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			t->buf[t->n++] = '\\';
			t->buf[t->n++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(t->buf + t->n, "\\u00", 4);
			t->buf[t->n + 4] = hex[ch >> 4];
			t->buf[t->n + 5] = hex[ch & 15];
			t->n += 6;
		} else {
			t->buf[t->n++] = (char)(ch < 0x7f ? ch : '?');
		}
	}
	t->buf[t->n++] = '"';
}

/* {"error":{"code":"...","message":"..."}} */
enum MHD_Result api_send_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *message, const char *allow)
{
	struct text t = {.n = 0};

	put_raw(&t, "{\"error\":{\"code\":");
	put_quoted(&t, code, 256);
	put_raw(&t, ",\"message\":");
	put_quoted(&t, message, 4);
	put_raw(&t, "}}\n");
	return api_send_copy(c, status, &KIND_JSON, t.buf, t.n, allow);
}

/* A JSON document, compact with sorted keys; consumes v. */
enum MHD_Result api_send_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum MHD_Result ret;

	json_decref(v);
	if (!text)
		return api_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				      "out of memory", NULL);
	ret = api_send_copy(c, status, &KIND_JSON, text, strlen(text), NULL);
	free(text);
	return ret;
}

/* The error document with extra top-level members (e.g. "violations"). */
enum MHD_Result api_send_error_json(struct MHD_Connection *c, unsigned status,
				    const char *code, const char *message, json_t *extra)
{
	json_t *doc = json_object();

	if (!doc || json_object_set_new(doc, "error", json_pack("{s:s, s:s}", "code", code,
								  "message", message)) != 0 ||
	    (extra && json_object_update(doc, extra) != 0)) {
		json_decref(doc);
		return api_send_error(c, status, code, message, NULL);
	}
	return api_send_json(c, status, doc);
}

/* How a failed tlog call is answered. Anything not listed is a 500: stored
 * data damaged, I/O failed, or a bug; never bad input. */
static const struct status_map {
	enum l3af_status rc;
	unsigned http;
	const char *code;
	bool internal; /* detail goes to diag only, the client gets a generic text */
} status_map[] = {
	{L3AF_E_INVALID, MHD_HTTP_BAD_REQUEST, "bad_request", false},
	{L3AF_E_NOTFOUND, MHD_HTTP_NOT_FOUND, "not_found", false},
	{L3AF_E_NOMEM, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", true},
	{L3AF_E_LIMIT, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", true},
	{L3AF_E_BUSY, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", true},
};
static const struct status_map status_internal = {L3AF_E_INTERNAL,
						  MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", true};

enum MHD_Result api_send_failure(struct api_server *s, struct MHD_Connection *c,
				    const char *url, enum l3af_status rc,
				    const struct l3af_err *err)
{
	const struct status_map *m = &status_internal;

	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (status_map[i].rc == rc)
			m = &status_map[i];
	if (!m->internal)
		return api_send_error(c, m->http, m->code, err->msg, NULL);
	api_diag(s, "%s: %s (%s)", url, err->msg, l3af_status_name(rc));
	return api_send_error(c, m->http, m->code,
			  m->http == MHD_HTTP_SERVICE_UNAVAILABLE
				  ? "the server is overloaded; retry later"
				  : "internal error; the operator has the details",
			  NULL);
}

/* ---- refusals of the write side ------------------------------------------ */

enum MHD_Result api_refuse(struct api_server *s, struct MHD_Connection *c, unsigned status,
			   const char *code, const char *message, json_t *extra)
{
	enum MHD_Result ret;

	api_metrics_refused(s->metrics, code);
	if (status >= 500 && status != MHD_HTTP_SERVICE_UNAVAILABLE)
		api_diag(s, "write: %s", message);
	ret = api_send_error_json(c, status, code, message, extra);
	json_decref(extra);
	return ret;
}

enum MHD_Result api_refuse_busy(struct api_server *s, struct MHD_Connection *c,
				const char *message)
{
	json_t *doc = json_pack("{s:{s:s, s:s}}", "error", "code", "busy", "message", message);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct MHD_Response *r = NULL;
	enum MHD_Result ret;

	json_decref(doc);
	api_metrics_refused(s->metrics, "busy");
	if (text)
		r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
	free(text);
	if (!r)
		return api_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", message, NULL);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, API_KIND_JSON.type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, API_KIND_JSON.cache);
	MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return ret;
}
