/*
 * tlogd_internal.h - the parts of l3af-tlogd (docs/operations.md): its
 * settings (command line and config file), structured logging to stderr, the
 * log's genesis entry and the static export thread. Private to the binary.
 */
#ifndef L3AF_TLOGD_INTERNAL_H
#define L3AF_TLOGD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l3af.h"
#include "tlog.h"

#define TLOGD_PROG "l3af-tlogd"
#define TLOGD_DEFAULT_ORIGIN "l3af-tlog.local/log"
#define TLOGD_DEFAULT_EXPORT_INTERVAL_MS 1000u
#define TLOGD_EXPORT_INTERVAL_MAX_MS 3600000u /* one hour */
#define TLOGD_CONFIG_MAX (64u * 1024u)        /* config file bytes */
#define TLOGD_CONFIG_LINE_MAX 4096u           /* one config line */
#define TLOGD_VALUE_MAX 4095u                 /* one value, bytes */

enum tlogd_log_format {
	TLOGD_LOG_TEXT = 0, /* ts=... level=info msg="..." key=value */
	TLOGD_LOG_JSON = 1, /* one JSON object per line */
};

/*
 * Every setting. Strings are owned (l3af_free via tlogd_config_clear); a zero
 * number means "the server's default" (api_config) except where noted.
 * `given` has one bit per key (enum tlogd_key) that was set, so that the
 * command line can override the file and duplicates are refused.
 */
struct tlogd_config {
	char *data;
	char *listen;          /* NULL: API_DEFAULT_LISTEN */
	char *origin;          /* NULL: not given (TLOGD_DEFAULT_ORIGIN on create) */
	char *policy;          /* NULL: the default policy */
	char *export_dir;      /* NULL: no export */
	unsigned threads, conn_limit, per_ip_limit, timeout_s;
	uint64_t max_artifact_bytes;
	uint64_t max_batch, max_pending;
	unsigned export_interval_ms; /* never 0 after tlogd_config_finish */
	enum tlogd_log_format log_format;
	uint32_t given;
};

/* Set key (config spelling, e.g. "max_batch") to value, checking the value.
 * L3AF_E_INVALID naming the problem (the caller names the key or option):
 * unknown key, bad value, or a key already given (when !override). With override, a second setting replaces the first
 * (the command line over the file). */
enum l3af_status tlogd_config_set(struct tlogd_config *cfg, const char *key,
				  const char *value, bool override,
				  struct l3af_err *err) L3AF_MUST_CHECK;
/* Read a config file into cfg (which must be fresh): "key = value" lines,
 * '#' comment lines, blank lines. L3AF_E_INVALID with "FILE:LINE: ..." for
 * any bad line; L3AF_E_IO / L3AF_E_LIMIT if it cannot be read. */
enum l3af_status tlogd_config_load(struct tlogd_config *cfg, const char *path,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* Fill defaults and check what must be there (data). */
enum l3af_status tlogd_config_finish(struct tlogd_config *cfg,
				     struct l3af_err *err) L3AF_MUST_CHECK;
void tlogd_config_clear(struct tlogd_config *cfg);

/* ---- structured logs (stderr, one line per event, thread safe) -------- */

struct tlogd_field {
	const char *key;
	const char *str; /* a string value, or NULL: num is the value */
	uint64_t num;
};
#define TLOGD_S(k, v) ((struct tlogd_field){.key = (k), .str = (v)})
#define TLOGD_U(k, v) ((struct tlogd_field){.key = (k), .str = NULL, .num = (uint64_t)(v)})

void tlogd_log_set_format(enum tlogd_log_format format);
/* level: "info", "warn" or "error". */
void tlogd_log(const char *level, const char *msg, const struct tlogd_field *fields,
	       size_t n);
#define TLOGD_LOG(level, msg, ...)                                                  \
	tlogd_log(level, msg, (const struct tlogd_field[]){__VA_ARGS__},            \
		  sizeof((const struct tlogd_field[]){__VA_ARGS__}) /                \
			  sizeof(struct tlogd_field))

/* ---- genesis (docs/formats.md section 7, admin.root) -------------------- */

/*
 * On a writer log: if it is empty, make sure DIR/admin.key (0600) and
 * DIR/admin.pub exist (creating the key if missing) and append entry 0, the
 * admin.root entry naming that key; *created says whether this run appended
 * it. If it is not empty, entry 0 must be an admin.root entry for this log's
 * origin (L3AF_E_CORRUPT otherwise). *key_id receives the admin key's ID
 * (from the entry).
 */
enum l3af_status tlogd_genesis(struct tlog *log, const char *dir, bool *created,
			       char key_id[static 65], struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- static export thread ---------------------------------------------- */

struct tlogd_exporter;
/* Export once now (synchronously, so that a bad dir fails start-up), then
 * start a thread that re-exports whenever the tree size changed, at most
 * every interval_ms. Errors in the thread are logged, not fatal. */
enum l3af_status tlogd_export_start(struct tlog *log, const char *dir, unsigned interval_ms,
				    struct tlogd_exporter **out,
				    struct l3af_err *err) L3AF_MUST_CHECK;
/* Stop the thread, then export one last time (after the last append).
 * NULL is fine. Returns the final export's status. */
enum l3af_status tlogd_export_stop(struct tlogd_exporter *ex, struct l3af_err *err);

#endif
