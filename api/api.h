/*
 * api.h - the l3af-tlog HTTP service: a libmicrohttpd server over a stored
 * log. docs/api.md is the full contract (routes, JSON, error codes, limits).
 *
 * Read API (c2sp.org/tlog-tiles), on every server:
 *   GET /checkpoint                  the latest signed checkpoint note
 *   GET /tile/<L>/<N>[.p/<W>]        Merkle tree tiles
 *   GET /tile/entries/<N>[.p/<W>]    entry bundles
 *   GET /v1/bundle/<i>, /v1/entry/<i>, /v1/proof/inclusion|consistency
 *   GET /metrics, /healthz
 * Write and query API, when struct api_config.data_dir is set (the server
 * then runs the log's sequencer and the lookup index DIR/index.db):
 *   POST /v1/submit                  a signed package -> its bundle
 *   POST /v1/admin                   an admin-signed publisher key set
 *   GET  /v1/bundle/sha256/<hex>, /v1/lookup, /v1/publishers/<id>
 *
 * Tiles are byte-identical to tlog_tile_read and cached as immutable; the
 * checkpoint and every JSON answer are never cached. Errors are JSON,
 * {"error":{"code":"...","message":"..."}}: 400 malformed, 403 refused
 * signature or namespace, 404 unknown, 405 method, 409 conflict or replay,
 * 411/413/415 bodies, 422 package or policy, 500 damaged data or I/O
 * (generic message), 503 busy or short of a resource.
 *
 * The server never prints. Internal failures are answered with a generic
 * message and reported in detail to the optional diagnostics callback of
 * struct api_config.
 */
#ifndef L3AF_API_H
#define L3AF_API_H

#include <stddef.h>
#include <stdint.h>

#include "l3af.h"
#include "tlog.h"

#define API_DEFAULT_LISTEN "127.0.0.1:8080"
#define API_DEFAULT_THREADS 2u        /* MHD thread pool size */
#define API_DEFAULT_CONN_LIMIT 1024u  /* open connections, all clients */
#define API_DEFAULT_PER_IP_LIMIT 64u  /* open connections per client address */
#define API_DEFAULT_TIMEOUT_S 10u     /* see api_config.timeout_s */
#define API_THREADS_MAX 64u
#define API_CONN_MEMORY_BYTES (16u * 1024u) /* per-connection buffer cap */

/* A running server (opaque). */
struct api_server;
struct ebpf_policy;

/*
 * Server settings. A zero field (or NULL listen) means its API_DEFAULT_*.
 *
 * listen: "HOST:PORT" with an IPv4 address or host name, or "[IPV6]:PORT".
 * Port 0 picks a free port (read it back with api_server_port).
 *
 * timeout_s: a client must send each request's complete header within this
 * many seconds of the connection opening or of its previous response; a
 * connection that is idle (or only trickles bytes) for longer is closed.
 * This bounds slow-header ("slowloris") clients as well as idle keep-alive
 * connections.
 *
 * diag: optional; called with one line (no newline) for each internal
 * failure and each libmicrohttpd message. It runs on server threads, possibly
 * concurrently, so it must be thread safe. The strings are borrowed for the
 * duration of the call.
 */
struct api_config {
	const char *listen;
	unsigned threads;
	unsigned conn_limit;
	unsigned per_ip_limit;
	unsigned timeout_s;
	void (*diag)(void *ctx, const char *line);
	void *diag_ctx;
	/*
	 * The write side (docs/api.md "Write and query API (v1)"). data_dir NULL:
	 * a read-only server (POST /v1/submit and /v1/admin answer 404, and so do
	 * the queries that need the index: lookup, bundle/sha256, publishers).
	 * data_dir set: the directory of `log`, which must be opened as a writer;
	 * the server keeps its lookup index in DATA_DIR/index.db (rebuilt from
	 * the log when missing or behind), streams uploads into DATA_DIR/tmp,
	 * runs the log's sequencer and stops it in api_server_stop. The log's
	 * entry 0 must be an admin.root entry (a log of size 0 starts, but every
	 * write answers 503 "no admin root" until one is appended).
	 * policy: borrowed until stop; NULL = ebpf_policy_default().
	 * max_artifact_bytes 0 = 64 MiB; max_batch 0 = 4096, max_pending 0 =
	 * 65536 (the sequencer's); threads 0 = 16 with a data_dir (a submission
	 * holds its thread until its entry is published).
	 * max_uploads 0 = 64: POST /v1/submit requests in progress at once
	 * (from their headers to their answer); beyond it 503 busy with
	 * Retry-After. max_spool_bytes 0 = 1 GiB: bytes that uploads in
	 * progress may spool into DATA_DIR/tmp together (an upload reserves
	 * its remaining Content-Length when its artifact outgrows memory);
	 * beyond it 503 busy, so a flood cannot fill the log's file system.
	 */
	const char *data_dir;
	const struct ebpf_policy *policy;
	uint64_t max_artifact_bytes;
	size_t max_batch;
	size_t max_pending;
	unsigned max_uploads;
	uint64_t max_spool_bytes;
};

/*
 * Bind cfg->listen and start serving `log` on server threads. `log` is
 * borrowed: it must stay open until api_server_stop returns. cfg (which may be
 * NULL for all defaults) is copied; cfg->listen need not outlive the call.
 * On success *out receives the server; free it with api_server_stop.
 *
 * Returns L3AF_OK; L3AF_E_INVALID for a malformed listen address or a limit
 * out of range (threads > API_THREADS_MAX); L3AF_E_IO if the address cannot be
 * resolved or bound (e.g. already in use), with the cause in err;
 * L3AF_E_NOMEM. On failure *out is untouched and nothing is left running.
 *
 * Thread safety: may run concurrently with other calls on other servers.
 */
enum l3af_status api_server_start(struct tlog *log, const struct api_config *cfg,
				  struct api_server **out,
				  struct l3af_err *err) L3AF_MUST_CHECK;

/*
 * Check the syntax of a listen address ("HOST:PORT" or "[IPV6]:PORT", port
 * 0..65535 in canonical decimal) without resolving or binding it, so that a
 * program can refuse a bad value before doing anything else. L3AF_OK or
 * L3AF_E_INVALID (err names the problem). Thread safe.
 */
enum l3af_status api_listen_check(const char *listen, struct l3af_err *err) L3AF_MUST_CHECK;

/* The TCP port the server is bound to (the real one when cfg->listen asked
 * for port 0). Thread safe. */
uint16_t api_server_port(const struct api_server *srv);

/*
 * Stop accepting, close every connection, wait for the server threads and
 * free srv. NULL is fine. After it returns the log may be closed. Must not be
 * called from the diag callback or concurrently with itself on one server.
 */
void api_server_stop(struct api_server *srv);

#endif
