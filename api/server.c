/*
 * server.c - the read API of a stored log over HTTP (libmicrohttpd 0.9.75),
 * following c2sp.org/tlog-tiles (editor's copy as of 2025; sections
 * "Checkpoints", "Merkle Tree", "Partial Tiles", "Log entries").
 *
 * Request flow:
 *
 *   on_request (1st call, headers complete)
 *     -> no body: remember the request, return MHD_YES (see KEEP-ALIVE)
 *     -> body:    answer now (the connection is closed afterwards, the body
 *                 is never read or buffered)
 *   on_request (2nd call) -> respond: route table -> method -> serve_*
 *
 * KEEP-ALIVE: MHD answers "Connection: close" when a response is queued on the
 * first handler call for a request (measured: 5.6x fewer requests/s, see
 * shared/research/limits.md section 4), so responses are queued on the second
 * call.
 *
 * Security properties:
 *  - Paths are matched raw: the URL unescape callback is a no-op, so a
 *    percent-encoded tile path never aliases a canonical one; it is a 400.
 *  - Tile paths go through the strict tlog_tile_path_parse; what the
 *    published tree does not hold is a 404 and never reaches storage.
 *  - Request bodies are refused (413) without being read.
 *  - Memory per connection is capped (API_CONN_MEMORY_BYTES), as are
 *    connections in total and per client address.
 *  - A watchdog (watchdog.c) closes any connection that has not delivered a complete
 *    request header within timeout_s of opening or of its last response:
 *    MHD's own timeout only fires on silence, so it would let a client that
 *    sends one byte a second hold a connection forever.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DIAG_LINE_MAX API_DIAG_LINE_MAX
#define ALLOWED_METHODS "GET, HEAD"

/* Header sets (respond.c has the text and JSON ones and why). Tiles and entry
 * bundles never change. */
#define KIND_CHECKPOINT API_KIND_TEXT
static const struct body_kind KIND_TILE = {"application/octet-stream",
					   "public, max-age=31536000, immutable"};
#define KIND_JSON API_KIND_JSON

/* Markers for the per-request pointer MHD keeps for us (*con_cls). */
static char req_waiting, req_answered;

/* ---- diagnostics ---------------------------------------------------------- */

void api_diag(struct api_server *s, const char *fmt, ...)
{
	char line[DIAG_LINE_MAX];
	va_list ap;

	if (!s->cfg.diag)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->cfg.diag(s->cfg.diag_ctx, line);
}

/* MHD's error log: kept for api_server_start's error while starting, then
 * forwarded to the diag callback. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) L3AF_PRINTF(2, 0);
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api_server *s = cls;
	char line[DIAG_LINE_MAX];
	bool starting;
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pthread_mutex_lock(&s->lock);
	starting = s->starting;
	if (starting && s->start_msg[0] == '\0')
		snprintf(s->start_msg, sizeof(s->start_msg), "%s", line);
	pthread_mutex_unlock(&s->lock);
	if (!starting) /* else api_server_start reports it through err */
		api_diag(s, "microhttpd: %s", line);
}

/* ---- routes --------------------------------------------------------------- */

static enum MHD_Result serve_checkpoint(struct api_server *s, struct MHD_Connection *c,
					const char *url)
{
	struct l3af_err err = {0};
	char *note = NULL;
	size_t len = 0;
	enum l3af_status rc = tlog_checkpoint_get(s->log, &note, &len, &err);

	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_owned(c, MHD_HTTP_OK, &KIND_CHECKPOINT, note, len);
}

/* /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>] (tlog-tiles "Merkle
 * Tree", "Log entries"). Entry bundles are sent uncompressed for now. */
static enum MHD_Result serve_tile(struct api_server *s, struct MHD_Connection *c,
				  const char *url)
{
	struct l3af_err err = {0};
	struct tlog_tile_id id;
	uint8_t *bytes = NULL;
	size_t len = 0;
	enum l3af_status rc = tlog_tile_path_parse(url + 1, strlen(url + 1), &id, &err);

	if (rc != L3AF_OK)
		return api_send_error(c, MHD_HTTP_BAD_REQUEST, "bad_tile_path", err.msg, NULL);
	rc = tlog_tile_read(s->log, &id, &bytes, &len, &err);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_owned(c, MHD_HTTP_OK, &KIND_TILE, bytes, len);
}

static enum MHD_Result serve_healthz(struct api_server *s, struct MHD_Connection *c,
				     const char *url)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"size\":%llu}\n",
			 (unsigned long long)tlog_size(s->log));

	return api_send_copy(c, MHD_HTTP_OK, &KIND_JSON, body, (size_t)n, NULL);
}

/* POST routes have serve NULL: they are the write side's (api_post_*). */
static const struct route {
	const char *path; /* exact path, or a prefix when prefix is set */
	bool prefix;
	enum MHD_Result (*serve)(struct api_server *s, struct MHD_Connection *c,
				 const char *url);
} routes[] = {
	{"/checkpoint", false, serve_checkpoint},
	{"/tile/", true, serve_tile},
	{"/healthz", false, serve_healthz},
	{"/metrics", false, api_serve_metrics},
	{"/v1/submit", false, NULL},
	{"/v1/admin", false, NULL},
	{"/v1/", true, api_serve_v1_get},
};

static const struct route *route_find(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		if (strncmp(url, r->path, n) == 0 && (r->prefix || url[n] == '\0'))
			return r;
	}
	return NULL;
}

static bool method_allowed(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Answer a request that is not a POST the write side takes. */
static enum MHD_Result respond(struct api_server *s, struct MHD_Connection *c,
			       const char *url, const char *method, bool has_body)
{
	const struct route *r = route_find(url);

	if (!r)
		return api_send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such resource", NULL);
	if (!r->serve && !s->w)
		return api_send_error(c, MHD_HTTP_NOT_FOUND, "not_found",
				      "this server is read-only (no data directory)", NULL);
	if (!r->serve)
		return api_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "only POST is allowed here", "POST");
	if (!method_allowed(method))
		return api_send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				  "only GET and HEAD are allowed here", ALLOWED_METHODS);
	if (has_body)
		return api_send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body_not_allowed",
				  "this resource takes no request body", NULL);
	return r->serve(s, c, url);
}

/* Count the response this thread just queued (if any) for /metrics. */
static enum MHD_Result counted(struct api_server *s, const char *url, enum MHD_Result ret)
{
	if (api_last_status)
		api_metrics_request(s->metrics, api_route_label(url), api_last_status);
	api_last_status = 0;
	return ret;
}

/* Is this the first call of a POST the write side takes? */
static bool write_post(struct api_server *s, const char *url, const char *method)
{
	const struct route *r = route_find(url);

	return s->w && r && !r->serve && strcmp(method, MHD_HTTP_METHOD_POST) == 0;
}

/* Does the request announce a body (Content-Length other than 0, or any
 * Transfer-Encoding)? */
static bool request_has_body(struct MHD_Connection *c)
{
	const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return true;
	return len && strcmp(len, "0") != 0;
}

static bool is_marker(void *req)
{
	return req == &req_waiting || req == &req_answered;
}

/* The response is sent (or the request failed): the connection is idle. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn *k = api_conn_of(c);

	if (k)
		atomic_store(&k->idle_since_ns, api_now_nonzero());
	if (*req && !is_marker(*req))
		api_post_free(*req);
	*req = NULL;
}

/* ---- the MHD handler -------------------------------------------------------- */

/* Serve paths exactly as sent: no percent-decoding (see the file comment). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req)
{
	struct api_server *s = cls;
	bool late_body;

	api_last_status = 0;
	if (*req == &req_answered) {
		/* Body bytes after a refusal: drop them unread. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*req && !is_marker(*req)) {
		/* A POST of the write side: body bytes, then the end. */
		if (*upload_data_size != 0)
			return api_post_data(s, *req, upload_data, upload_data_size);
		return counted(s, url, api_post_finish(s, c, *req));
	}
	if (*req == NULL) {
		struct conn *k = api_conn_of(c);
		if (k)
			atomic_store(&k->idle_since_ns, 0);
		if (write_post(s, url, method)) {
			struct api_post *p = NULL;
			enum MHD_Result ret = api_post_begin(s, c, url, &p);
			if (!p) {
				*req = &req_answered;
				return counted(s, url, ret);
			}
			*req = p;
			return MHD_YES;
		}
		if (!request_has_body(c)) {
			*req = &req_waiting; /* KEEP-ALIVE: answer on the next call */
			return MHD_YES;
		}
		*req = &req_answered;
		return counted(s, url, respond(s, c, url, method, true));
	}
	late_body = *upload_data_size != 0;
	*upload_data_size = 0;
	*req = &req_answered;
	return counted(s, url, respond(s, c, url, method, late_body));
}

/* ---- start and stop ------------------------------------------------------- */

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static enum l3af_status config_fill(const struct api_config *in, struct api_config *out,
				    struct l3af_err *err)
{
	static const struct api_config none;

	*out = in ? *in : none;
	out->listen = NULL; /* not kept: the caller's string may go away */
	out->threads = or_default(out->threads, out->data_dir ? API_DEFAULT_WRITE_THREADS
							       : API_DEFAULT_THREADS);
	out->conn_limit = or_default(out->conn_limit, API_DEFAULT_CONN_LIMIT);
	out->per_ip_limit = or_default(out->per_ip_limit, API_DEFAULT_PER_IP_LIMIT);
	out->timeout_s = or_default(out->timeout_s, API_DEFAULT_TIMEOUT_S);
	if (out->threads > API_THREADS_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "server: %u threads (at most %u)",
				 out->threads, API_THREADS_MAX);
	if (out->timeout_s > 86400)
		return l3af_fail(err, L3AF_E_INVALID, "server: timeout %u s (at most 86400)",
				 out->timeout_s);
	return L3AF_OK;
}

static enum l3af_status server_new(struct tlog *log, const struct api_config *cfg,
				   struct api_server **out, struct l3af_err *err)
{
	struct api_server *s = l3af_calloc(1, sizeof(*s));
	pthread_condattr_t attr;

	if (!s)
		return l3af_fail(err, L3AF_E_NOMEM, "server: out of memory");
	s->log = log;
	s->cfg = *cfg;
	s->timeout_ns = (uint64_t)cfg->timeout_s * 1000000000ull;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->keys_lock, NULL);
	/* The watchdog's deadlines are on the monotonic clock, like l3af_now_ns. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	*out = s;
	return L3AF_OK;
}

/* Start MHD on addr. `port` duplicates addr's port: MHD names it in messages. */
static enum l3af_status daemon_start(struct api_server *s, const char *listen,
				     const struct sockaddr_storage *addr, uint16_t port,
				     struct l3af_err *err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	if (addr->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->starting = true;
	s->mhd = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first: it logs start-up too */
		MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
		MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
		MHD_OPTION_CONNECTION_LIMIT, s->cfg.conn_limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.per_ip_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY_BYTES,
		MHD_OPTION_NOTIFY_CONNECTION, api_on_connection, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, s,
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_END);
	pthread_mutex_lock(&s->lock);
	s->starting = false;
	pthread_mutex_unlock(&s->lock);
	if (!s->mhd)
		return l3af_fail(err, L3AF_E_IO, "server: cannot listen on %s: %s", listen,
				 s->start_msg[0] ? s->start_msg : "libmicrohttpd failed to start");
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || info->port == 0)
		return l3af_fail(err, L3AF_E_IO, "server: %s: bound port unknown", listen);
	s->port = info->port;
	return L3AF_OK;
}

enum l3af_status api_server_start(struct tlog *log, const struct api_config *cfg,
				  struct api_server **out, struct l3af_err *err)
{
	const char *listen = cfg && cfg->listen ? cfg->listen : API_DEFAULT_LISTEN;
	struct sockaddr_storage addr = {0};
	struct api_config filled;
	struct api_server *s = NULL;
	uint16_t port = 0;
	enum l3af_status rc;

	rc = config_fill(cfg, &filled, err);
	if (rc != L3AF_OK)
		goto errout;
	rc = api_listen_resolve(listen, &addr, &port, err);
	if (rc != L3AF_OK)
		goto errout;
	rc = server_new(log, &filled, &s, err);
	if (rc != L3AF_OK)
		goto errout;
	rc = api_metrics_new(&s->metrics, err);
	if (rc != L3AF_OK)
		goto errout;
	rc = api_proof_cache_new(&s->proofs, err);
	if (rc != L3AF_OK)
		goto errout;
	if (filled.data_dir) {
		rc = api_write_start(s, err);
		if (rc != L3AF_OK)
			goto errout;
	}
	s->cfg.data_dir = NULL; /* borrowed only for the start */
	rc = api_watchdog_start(s, err);
	if (rc != L3AF_OK)
		goto errout;
	rc = daemon_start(s, listen, &addr, port, err);
	if (rc != L3AF_OK)
		goto errout;
	*out = s;
	return L3AF_OK;
errout:
	api_server_stop(s);
	return rc;
}

uint16_t api_server_port(const struct api_server *srv)
{
	return srv->port;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	/* Closing every connection runs on_connection(CLOSED) for each. */
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	/* No request runs any more: drain the sequencer (every acknowledged
	 * entry is durable and published) and close the index. */
	api_write_stop(srv->w);
	srv->w = NULL;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	pthread_cond_signal(&srv->wake);
	pthread_mutex_unlock(&srv->lock);
	if (srv->watchdog_running)
		pthread_join(srv->watchdog, NULL);
	while (srv->conns)
		api_conn_untrack(srv, srv->conns);
	pthread_cond_destroy(&srv->wake);
	pthread_mutex_destroy(&srv->lock);
	api_metrics_free(srv->metrics);
	api_proof_cache_free(srv->proofs);
	for (size_t i = 0; i < API_KEYS_CACHE_SLOTS; i++)
		l3af_free(srv->keys_cache[i].bytes);
	pthread_mutex_destroy(&srv->keys_lock);
	l3af_free(srv);
}
