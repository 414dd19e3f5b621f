/*
 * tlogd_main.c - l3af-tlogd, the log server: opens (or creates, with its
 * genesis entry) the log in a data directory as its single writer, serves the
 * read and write API over HTTP, optionally keeps a static export of the log
 * up to date, and logs one structured line per event on stderr, until
 * SIGTERM or SIGINT. Operations guide: docs/operations.md.
 *
 * Signals are blocked in every thread and taken with sigwait() in main, so no
 * work ever runs in a signal handler.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ebpf.h"
#include "l3af.h"
#include "signer.h"
#include "tlog.h"
#include "tlogd_internal.h"

#define PROG TLOGD_PROG
#define POLICY_FILE_MAX (64u * 1024u)

enum {
	EXIT_CLEAN = 0,   /* stopped by SIGTERM/SIGINT, or --help */
	EXIT_RUNTIME = 1, /* could not create, open, serve or export the log */
	EXIT_USAGE = 2,   /* bad options, config file or policy */
};

/* Options that set a config key: --max-batch is max_batch. */
static const char *const key_opts[] = {
	"data", "listen", "origin", "threads", "policy", "max_artifact_bytes", "max_batch",
	"max_pending", "conn_limit", "per_ip_limit", "timeout_s", "export_dir",
	"export_interval_ms", "log_format",
};
#define NKEY_OPTS (sizeof(key_opts) / sizeof(key_opts[0]))
#define OPT_KEY 1000 /* getopt value of key_opts[i] is OPT_KEY + i */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " --data DIR [--listen HOST:PORT] [--origin ORIGIN] [options]\n"
		"       " PROG " --config FILE [options]\n"
		"\n"
		"Serve the transparency log in DIR over HTTP, as its only writer: the read\n"
		"API (c2sp.org/tlog-tiles: /checkpoint, /tile/..., /tile/entries/...), the\n"
		"write and query API (/v1/...), /metrics and /healthz.\n"
		"\n"
		"If DIR holds no log yet, a new one is created: its signing key in DIR/log.key\n"
		"(mode 0600) and its verifier key in DIR/log.vkey, which clients and witnesses\n"
		"need to check checkpoints; and the operator's admin key in DIR/admin.key\n"
		"(mode 0600, public half DIR/admin.pub), named by entry 0 of the log, the\n"
		"admin.root entry. A second " PROG " on the same DIR is refused.\n"
		"\n"
		"Options (each is also a config file key, with '_' for '-'):\n"
		"  --config FILE       read settings from FILE ('key = value' lines, '#'\n"
		"                      comments); options given here override it\n"
		"  --data DIR          log directory (required; created if missing)\n"
		"  --listen HOST:PORT  address to serve on; IPv6 as [ADDR]:PORT; port 0 picks\n"
		"                      a free port (default " API_DEFAULT_LISTEN ")\n"
		"  --origin ORIGIN     the log's name, the first line of every checkpoint; by\n"
		"                      convention the URL prefix without scheme, e.g.\n"
		"                      tlog.example.com/ebpf. Fixed when the log is created\n"
		"                      (default " TLOGD_DEFAULT_ORIGIN "); on an existing log\n"
		"                      it must match, as a safety check\n"
		"  --threads N         HTTP worker threads, 1..%u (default 16)\n"
		"  --policy FILE       repository policy JSON (docs/policy-format.md;\n"
		"                      default: the built-in default policy)\n"
		"  --max-artifact-bytes N  largest package archive accepted (default 67108864)\n"
		"  --max-batch N       entries per commit (default 4096)\n"
		"  --max-pending N     entries waiting for a commit before 503 (default 65536)\n"
		"  --conn-limit N      open connections, all clients (default %u)\n"
		"  --per-ip-limit N    open connections per client address (default %u)\n"
		"  --timeout-s N       seconds a client has to send each request header\n"
		"                      (default %u)\n"
		"  --export-dir DIR    keep a static copy of the log (checkpoint, tiles,\n"
		"                      entry bundles) in DIR for a web server or CDN\n"
		"  --export-interval-ms N  re-export at most this often (default %u)\n"
		"  --log-format text|json  stderr log lines (default text)\n"
		"  -h, --help          show this help and exit\n"
		"\n"
		"Example:\n"
		"  " PROG " --data /var/lib/l3af-tlog --listen 0.0.0.0:8080 \\\n"
		"      --origin tlog.example.com/ebpf\n"
		"  curl http://127.0.0.1:8080/checkpoint\n"
		"\n"
		"Stop with SIGTERM or SIGINT (Ctrl-C): the server stops accepting, every\n"
		"acknowledged entry is published, the export is brought up to date, the log\n"
		"is closed.\n"
		"\n"
		"Exit status:\n"
		"  0  stopped cleanly (or --help)\n"
		"  1  runtime error: the log could not be created, opened (e.g. DIR in use\n"
		"     by another writer, damaged data, no admin.root entry 0), served (e.g.\n"
		"     address in use) or exported\n"
		"  2  usage error: unknown option, missing --data, bad value, a bad config\n"
		"     file line or policy file, or an --origin that does not match the log\n",
		API_THREADS_MAX, API_DEFAULT_CONN_LIMIT, API_DEFAULT_PER_IP_LIMIT,
		API_DEFAULT_TIMEOUT_S, TLOGD_DEFAULT_EXPORT_INTERVAL_MS);
}

static int usage_error(const char *fmt, ...) L3AF_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

static int fail(const char *what, const struct l3af_err *err)
{
	TLOGD_LOG("error", what, TLOGD_S("error", err->msg));
	return EXIT_RUNTIME;
}

/*
 * The command line goes into `cli` (refusing duplicates), then the config
 * file (if any) into `cfg`, then every option again over it. Returns -1 to
 * go on, else the exit code.
 */
static int parse_args(int argc, char **argv, struct tlogd_config *cfg)
{
	struct option longopts[NKEY_OPTS + 3];
	char names[NKEY_OPTS][32];
	struct tlogd_config cli = {0};
	struct l3af_err err = {0};
	const char *config = NULL;
	struct {
		size_t key;
		const char *value;
	} given[NKEY_OPTS];
	size_t ngiven = 0;
	int c, rc = -1;

	for (size_t i = 0; i < NKEY_OPTS; i++) {
		snprintf(names[i], sizeof(names[i]), "%s", key_opts[i]);
		for (char *p = names[i]; *p; p++)
			*p = *p == '_' ? '-' : *p;
		longopts[i] = (struct option){names[i], required_argument, NULL, OPT_KEY + (int)i};
	}
	longopts[NKEY_OPTS] = (struct option){"config", required_argument, NULL, 'c'};
	longopts[NKEY_OPTS + 1] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[NKEY_OPTS + 2] = (struct option){NULL, 0, NULL, 0};
	opterr = 0;
	while (rc < 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c >= OPT_KEY && c < OPT_KEY + (int)NKEY_OPTS) {
			size_t k = (size_t)(c - OPT_KEY);
			if (tlogd_config_set(&cli, key_opts[k], optarg, false, &err) != L3AF_OK)
				rc = usage_error("--%s: %s", names[k], err.msg);
			else { /* at most once per key: more is "given twice" */
				given[ngiven].key = k;
				given[ngiven++].value = optarg;
			}
		} else if (c == 'c') {
			if (config)
				rc = usage_error("--config: given twice");
			config = optarg;
		} else if (c == 'h') {
			usage(stdout);
			rc = EXIT_CLEAN;
		} else if (c == ':') {
			rc = usage_error("option %s needs a value", argv[optind - 1]);
		} else {
			rc = usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc < 0 && optind < argc)
		rc = usage_error("unexpected argument '%s'", argv[optind]);
	if (rc < 0 && config && tlogd_config_load(cfg, config, &err) != L3AF_OK)
		rc = usage_error("%s", err.msg);
	/* Options override the file: apply them, already checked, over it. */
	for (size_t i = 0; rc < 0 && i < ngiven; i++)
		if (tlogd_config_set(cfg, key_opts[given[i].key], given[i].value, true, &err) !=
		    L3AF_OK)
			rc = usage_error("--%s: %s", names[given[i].key], err.msg);
	if (rc < 0 && tlogd_config_finish(cfg, &err) != L3AF_OK)
		rc = usage_error("%s", err.msg);
	tlogd_config_clear(&cli);
	return rc;
}

static int load_policy(const char *path, struct ebpf_policy **out)
{
	struct l3af_err err = {0};
	char *text = NULL;
	size_t len = 0;

	if (!path)
		return -1;
	if (l3af_file_read(path, POLICY_FILE_MAX, &text, &len, &err) == L3AF_OK &&
	    ebpf_policy_parse(text, len, out, &err) != L3AF_OK)
		*out = NULL;
	l3af_free(text);
	if (*out)
		return -1;
	fprintf(stderr, PROG ": policy %s: %s\n", path, err.msg);
	return EXIT_USAGE;
}

/* Create the log on first start; returns -1 to go on, else the exit code. */
static int create_if_missing(const struct tlogd_config *cfg)
{
	struct l3af_err err = {0};
	const char *origin = cfg->origin ? cfg->origin : TLOGD_DEFAULT_ORIGIN;

	if (tlog_exists(cfg->data))
		return -1;
	if (tlog_create(cfg->data, origin, &err) != L3AF_OK)
		return fail("cannot create the log", &err);
	TLOGD_LOG("info", "created a new log", TLOGD_S("data", cfg->data), TLOGD_S("origin", origin));
	if (!cfg->origin)
		TLOGD_LOG("warn",
			  "notice: placeholder origin; logs are named for good at creation, so for "
			  "a real deployment start on an empty data directory with --origin set to "
			  "the log's URL prefix without scheme",
			  TLOGD_S("origin", origin));
	return -1;
}

static int open_log(const struct tlogd_config *cfg, struct tlog **log)
{
	struct l3af_err err = {0};

	if (tlog_open(cfg->data, TLOG_OPEN_WRITER, log, &err) != L3AF_OK)
		return fail("cannot open the log", &err);
	if (cfg->origin && strcmp(cfg->origin, tlog_origin(*log)) != 0) {
		fprintf(stderr,
			PROG ": --origin %s does not match the log in %s, whose origin is %s\n"
			"(a log's origin never changes; drop --origin or fix it)\n",
			cfg->origin, cfg->data, tlog_origin(*log));
		tlog_close(*log);
		*log = NULL;
		return EXIT_USAGE;
	}
	return -1;
}

static int genesis(const struct tlogd_config *cfg, struct tlog *log, char key_id[static 65])
{
	struct l3af_err err = {0};
	bool created = false;

	if (tlogd_genesis(log, cfg->data, &created, key_id, &err) != L3AF_OK)
		return fail("refusing the log", &err);
	if (created)
		TLOGD_LOG("info", "appended the genesis entry (admin.root)", TLOGD_U("index", 0),
			  TLOGD_S("admin_key", key_id), TLOGD_S("data", cfg->data));
	return -1;
}

static void log_diag(void *ctx, const char *line)
{
	(void)ctx;
	TLOGD_LOG("warn", "server", TLOGD_S("detail", line));
}

static void log_start(const struct tlogd_config *cfg, struct tlog *log, uint16_t port,
		      const char *key_id)
{
	const char *colon = strrchr(cfg->listen, ':');
	int hostlen = colon ? (int)(colon - cfg->listen) : 0;
	char url[300], listen[300], vkey[4200];

	snprintf(url, sizeof(url), "http://%.*s:%u/", hostlen, cfg->listen, (unsigned)port);
	snprintf(listen, sizeof(listen), "%.*s:%u", hostlen, cfg->listen, (unsigned)port);
	snprintf(vkey, sizeof(vkey), "%s/log.vkey", cfg->data);
	TLOGD_LOG("info", "serving", TLOGD_S("origin", tlog_origin(log)),
		  TLOGD_U("size", tlog_size(log)), TLOGD_S("listen", listen), TLOGD_S("url", url),
		  TLOGD_S("data", cfg->data), TLOGD_S("vkey", vkey), TLOGD_S("admin_key", key_id),
		  TLOGD_S("export_dir", cfg->export_dir ? cfg->export_dir : ""));
}

static void wait_for_stop(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0)
		;
	TLOGD_LOG("info", "stopping", TLOGD_S("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
}

/* start_size: the log's size when opened, before any genesis entry. */
static int serve(const struct tlogd_config *cfg, const struct ebpf_policy *policy,
		 struct tlog *log, uint64_t start_size, const sigset_t *set, const char *key_id)
{
	struct api_config acfg = {0};
	struct l3af_err err = {0};
	struct api_server *srv = NULL;
	struct tlogd_exporter *ex = NULL;
	int rc = EXIT_CLEAN;

	acfg.listen = cfg->listen;
	acfg.threads = cfg->threads;
	acfg.conn_limit = cfg->conn_limit;
	acfg.per_ip_limit = cfg->per_ip_limit;
	acfg.timeout_s = cfg->timeout_s;
	acfg.diag = log_diag;
	acfg.data_dir = cfg->data;
	acfg.policy = policy;
	acfg.max_artifact_bytes = cfg->max_artifact_bytes;
	acfg.max_batch = (size_t)cfg->max_batch;
	acfg.max_pending = (size_t)cfg->max_pending;
	if (cfg->export_dir &&
	    tlogd_export_start(log, cfg->export_dir, cfg->export_interval_ms, &ex, &err) != L3AF_OK)
		return fail("cannot export", &err);
	if (api_server_start(log, &acfg, &srv, &err) != L3AF_OK) {
		/* Every setting was checked before: this is a runtime failure
		 * (address in use, a log the write side refuses, ...). */
		rc = fail("cannot serve", &err);
		(void)tlogd_export_stop(ex, NULL);
		return rc;
	}
	log_start(cfg, log, api_server_port(srv), key_id);
	wait_for_stop(set);
	/* Stops accepting and drains the sequencer: every acknowledged entry
	 * is in the log's checkpoint before the final export. */
	api_server_stop(srv);
	if (tlogd_export_stop(ex, &err) != L3AF_OK)
		rc = fail("final export failed", &err);
	TLOGD_LOG("info", "stopped", TLOGD_U("appended", tlog_size(log) - start_size),
		  TLOGD_U("size", tlog_size(log)));
	return rc;
}

int main(int argc, char **argv)
{
	struct tlogd_config cfg = {0};
	struct ebpf_policy *policy = NULL;
	struct tlog *log = NULL;
	char key_id[65] = "";
	uint64_t start_size = 0;
	sigset_t set;
	int rc = parse_args(argc, argv, &cfg);

	if (rc < 0)
		rc = load_policy(cfg.policy, &policy);
	if (rc >= 0)
		goto out;
	tlogd_log_set_format(cfg.log_format);
	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = create_if_missing(&cfg);
	if (rc < 0)
		rc = open_log(&cfg, &log);
	if (rc < 0) {
		start_size = tlog_size(log);
		rc = genesis(&cfg, log, key_id);
	}
	if (rc < 0)
		rc = serve(&cfg, policy, log, start_size, &set, key_id);
out:
	tlog_close(log);
	ebpf_policy_free(policy);
	tlogd_config_clear(&cfg);
	return rc;
}
