/*
 * tlogd_main.c - l3af-tlogd, the log server: opens (or creates) the log in a
 * data directory as its single writer and serves the c2sp.org/tlog-tiles read
 * API over HTTP until SIGTERM or SIGINT.
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
#include "l3af.h"
#include "tlog.h"

#define PROG "l3af-tlogd"
#define DEFAULT_ORIGIN "l3af-tlog.local/log"

enum {
	EXIT_CLEAN = 0,   /* stopped by SIGTERM/SIGINT, or --help */
	EXIT_RUNTIME = 1, /* could not create, open or serve the log */
	EXIT_USAGE = 2,   /* bad options */
};

struct opts {
	const char *data;
	const char *listen;
	const char *origin;  /* NULL: not given */
	unsigned threads;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " --data DIR [--listen HOST:PORT] [--origin ORIGIN] [--threads N]\n"
		"\n"
		"Serve the transparency log in DIR over HTTP, as its only writer.\n"
		"Read API (c2sp.org/tlog-tiles): GET /checkpoint, /tile/<L>/<N>[.p/<W>],\n"
		"/tile/entries/<N>[.p/<W>], and /healthz.\n"
		"\n"
		"If DIR holds no log yet, a new one is created: its signing key in DIR/log.key\n"
		"(mode 0600) and its verifier key in DIR/log.vkey, which clients and witnesses\n"
		"need to check checkpoints. A second " PROG " on the same DIR is refused.\n"
		"\n"
		"Options:\n"
		"  --data DIR          log directory (required; created if missing)\n"
		"  --listen HOST:PORT  address to serve on; IPv6 as [ADDR]:PORT; port 0 picks\n"
		"                      a free port (default " API_DEFAULT_LISTEN ")\n"
		"  --origin ORIGIN     the log's name, the first line of every checkpoint; by\n"
		"                      convention the URL prefix without scheme, e.g.\n"
		"                      tlog.example.com/ebpf. Fixed when the log is created\n"
		"                      (default " DEFAULT_ORIGIN "); on an existing log it\n"
		"                      must match, as a safety check\n"
		"  --threads N         HTTP worker threads, 1..%u (default %u)\n"
		"  -h, --help          show this help and exit\n"
		"\n"
		"Example:\n"
		"  " PROG " --data /var/lib/l3af-tlog --listen 0.0.0.0:8080 \\\n"
		"      --origin tlog.example.com/ebpf\n"
		"  curl http://127.0.0.1:8080/checkpoint\n"
		"\n"
		"Limits: at most %u connections, %u per client address; a client must send\n"
		"each request header within %u s, or its connection is closed.\n"
		"\n"
		"Stop with SIGTERM or SIGINT (Ctrl-C): the server finishes, the log is closed.\n"
		"\n"
		"Exit status:\n"
		"  0  stopped cleanly (or --help)\n"
		"  1  runtime error: the log could not be created, opened (e.g. DIR in use\n"
		"     by another writer, damaged data) or served (e.g. address in use)\n"
		"  2  usage error: unknown option, missing --data, bad value, or an --origin\n"
		"     that does not match the existing log\n",
		API_THREADS_MAX, API_DEFAULT_THREADS, API_DEFAULT_CONN_LIMIT,
		API_DEFAULT_PER_IP_LIMIT, API_DEFAULT_TIMEOUT_S);
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

static int fail(const struct l3af_err *err)
{
	fprintf(stderr, PROG ": %s\n", err->msg);
	return EXIT_RUNTIME;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"origin", required_argument, NULL, 'o'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct l3af_err err = {0};
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'o': o->origin = optarg; break;
		case 't':
			if (l3af_parse_u64(optarg, strlen(optarg), API_THREADS_MAX, &v) != L3AF_OK ||
			    v == 0)
				return usage_error("--threads: '%s' is not a number in 1..%u",
						   optarg, API_THREADS_MAX);
			o->threads = (unsigned)v;
			break;
		case 'h': usage(stdout); return EXIT_CLEAN;
		case ':': return usage_error("option %s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->data)
		return usage_error("--data DIR is required");
	if (api_listen_check(o->listen, &err) != L3AF_OK)
		return usage_error("--listen: %s", err.msg);
	return -1;
}

/* Create the log on first start; returns -1 to go on, else the exit code. */
static int create_if_missing(const struct opts *o)
{
	struct l3af_err err = {0};
	const char *origin = o->origin ? o->origin : DEFAULT_ORIGIN;

	if (tlog_exists(o->data))
		return -1;
	if (tlog_origin_check(origin, &err) != L3AF_OK)
		return usage_error("--origin: %s", err.msg);
	if (tlog_create(o->data, origin, &err) != L3AF_OK)
		return fail(&err);
	fprintf(stderr, PROG ": created a new log in %s with origin %s\n", o->data, origin);
	if (!o->origin)
		fprintf(stderr,
			PROG ": notice: %s is a placeholder origin; logs are named for good at\n"
			"creation, so for a real deployment start on an empty DIR with\n"
			"--origin set to the log's URL prefix without scheme\n",
			DEFAULT_ORIGIN);
	return -1;
}

static int open_log(const struct opts *o, struct tlog **log)
{
	struct l3af_err err = {0};

	if (tlog_open(o->data, TLOG_OPEN_WRITER, log, &err) != L3AF_OK)
		return fail(&err);
	if (o->origin && strcmp(o->origin, tlog_origin(*log)) != 0) {
		fprintf(stderr,
			PROG ": --origin %s does not match the log in %s, whose origin is %s\n"
			"(a log's origin never changes; drop --origin or fix it)\n",
			o->origin, o->data, tlog_origin(*log));
		tlog_close(*log);
		*log = NULL;
		return EXIT_USAGE;
	}
	return -1;
}

static void print_diag(void *ctx, const char *line)
{
	fprintf(stderr, PROG ": %s\n", line);
}

/* "HOST:PORT" as given, with the port actually bound. */
static void print_ready(const struct opts *o, struct tlog *log, uint16_t port)
{
	const char *colon = strrchr(o->listen, ':');
	int hostlen = colon ? (int)(colon - o->listen) : 0;

	fprintf(stderr, PROG ": serving origin %s, size %llu, on http://%.*s:%u/, verifier key %s/log.vkey\n",
		tlog_origin(log), (unsigned long long)tlog_size(log), hostlen, o->listen,
		(unsigned)port, o->data);
}

static int wait_for_stop(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0)
		;
	fprintf(stderr, PROG ": %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	return sig;
}

int main(int argc, char **argv)
{
	struct opts o = {.listen = API_DEFAULT_LISTEN};
	struct api_config cfg = {0};
	struct l3af_err err = {0};
	struct api_server *srv = NULL;
	struct tlog *log = NULL;
	sigset_t set;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = create_if_missing(&o);
	if (rc >= 0)
		goto out;
	rc = open_log(&o, &log);
	if (rc >= 0)
		goto out;
	cfg.listen = o.listen;
	cfg.threads = o.threads;
	cfg.diag = print_diag;
	if (api_server_start(log, &cfg, &srv, &err) != L3AF_OK) {
		/* A malformed --listen is a usage error; a busy port is not. */
		rc = err.code == L3AF_E_INVALID ? usage_error("--listen: %s", err.msg) : fail(&err);
		goto out;
	}
	print_ready(&o, log, api_server_port(srv));
	wait_for_stop(&set);
	rc = EXIT_CLEAN;
out:
	api_server_stop(srv);
	tlog_close(log);
	return rc;
}
