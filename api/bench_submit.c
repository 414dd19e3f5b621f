/*
 * bench_submit.c - l3af-tlog bench submit: packages admitted per second by a
 * real l3af-tlogd (HTTP multipart upload, signature check, archive read, ELF
 * inspection, entry build, sequencer, durable append, index, bundle) against,
 * in the same run, the admission work alone (the same library calls in the
 * same order, no HTTP, no storage) on every core of one process.
 *
 * The packages are K distinct real ones: the same eBPF object each, with a
 * README that differs, so every archive (and entry) is new; each is signed
 * by one publisher registered through POST /v1/admin with the log's
 * DIR/admin.key. N client threads (one libcurl handle each, keep-alive) take
 * packages from a shared counter for S seconds or until all K are in.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_submit.h"

extern char **environ;

#define PKG_NAME "benchpkg"
#define ARTIFACT "l3af_" PKG_NAME ".tar.gz"
#define PLATFORM "linux/amd64"

/* ---- the server -------------------------------------------------------------- */

/* Directory of this executable (for l3af-tlogd and the default object). */
static int exe_dir(char out[static PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
	char *slash;

	if (n <= 0)
		return -1;
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* Start l3af-tlogd on a fresh data dir; wait until /healthz answers. */
static int start_server(struct bench *b)
{
	char bin[PATH_MAX + 16], listen[32], log[PATH_MAX + 16], dflag[] = "--data",
		lflag[] = "--listen";
	char *argv[] = {bin, dflag, b->data, lflag, listen, NULL};
	posix_spawn_file_actions_t fa;
	struct client_reply r = {0};
	int ok = 0;

	snprintf(bin, sizeof(bin), "%s/l3af-tlogd", b->exe_dir);
	snprintf(log, sizeof(log), "%s/tlogd.log", b->work);
	b->port = bench_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", b->port);
	snprintf(b->url, sizeof(b->url), "http://127.0.0.1:%u", b->port);
	if (access(bin, X_OK) != 0)
		return cli_error("bench", CLI_FAIL, "%s not found (build it next to l3af-tlog)", bin);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&b->server, bin, &fa, NULL, argv, environ) != 0)
		b->server = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (b->server < 0)
		return cli_error("bench", CLI_FAIL, "could not start %s: %m", bin);
	/* Wait until it listens, then until /healthz answers 200. */
	if (bench_wait_listening(b->port) == 0) {
		struct client *c = NULL;
		if (client_open("bench", b->url, 5, &c) == CLI_OK &&
		    client_get(c, "/healthz", 4096, &r) == CLI_OK && r.status == 200)
			ok = 1;
		client_reply_clear(&r);
		client_close(c);
	}
	return ok ? CLI_OK
		  : cli_error("bench", CLI_FAIL, "l3af-tlogd did not answer (see %s)", log);
}

static void stop_server(struct bench *b)
{
	int status = 0;

	if (b->server <= 0)
		return;
	kill(b->server, SIGTERM);
	waitpid(b->server, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		cli_error("bench", CLI_FAIL, "l3af-tlogd did not stop cleanly (status %d)", status);
	b->server = 0;
}

/* Register publisher "bench" with namespace benchpkg and the bench key. */
static int register_publisher(struct bench *b)
{
	struct signer_admin_request req;
	struct signer_privkey *admin = NULL;
	struct l3af_err err = {0};
	struct client *c = NULL;
	struct client_reply r = {0};
	char path[PATH_MAX + 16], *payload = NULL, *env = NULL;
	int rc;

	memset(&req, 0, sizeof(req));
	snprintf(path, sizeof(path), "%s/admin.key", b->data);
	snprintf(req.action, sizeof(req.action), "publisher.register");
	randombytes_buf(req.nonce, sizeof(req.nonce));
	req.not_before = l3af_wall_s();
	req.not_after = req.not_before + 300;
	snprintf(req.params.publisher, sizeof(req.params.publisher), "bench");
	req.params.version = 1;
	req.params.nnamespaces = 1;
	snprintf(req.params.namespaces[0], sizeof(req.params.namespaces[0]), PKG_NAME);
	req.params.threshold = 1;
	req.params.nkeys = 1;
	req.params.keys[0] = *signer_privkey_pubkey(b->key);
	rc = client_open("bench", b->url, 30, &c);
	if (rc == CLI_OK)
		rc = client_origin(c, req.origin);
	if (rc == CLI_OK && (signer_privkey_load(path, &admin, &err) != L3AF_OK ||
			     signer_admin_request_build(&req, &payload, &err) != L3AF_OK ||
			     signer_dsse_sign(admin, SIGNER_ADMIN_PAYLOAD_TYPE,
					      (const uint8_t *)payload, strlen(payload), &env,
					      &err) != L3AF_OK))
		rc = cli_error("bench", CLI_FAIL, "admin request: %s", err.msg);
	if (rc == CLI_OK)
		rc = client_post(c, "/v1/admin", "application/json", env, strlen(env),
				 CLIENT_ANSWER_MAX, &r);
	if (rc == CLI_OK)
		rc = client_check("bench", &r);
	client_reply_clear(&r);
	client_close(c);
	l3af_free(payload);
	l3af_free(env);
	signer_privkey_free(admin);
	return rc;
}

/* ---- the clients --------------------------------------------------------------- */

struct client_thread {
	pthread_t t;
	struct bench *b;
	uint64_t admitted, existing, failed;
	uint64_t lat_hist[64];
};

static void *client_main(void *arg)
{
	struct client_thread *ct = arg;
	struct bench *b = ct->b;
	struct client *c = NULL;
	struct client_reply r = {0};

	if (client_open("bench", b->url, 60, &c) != CLI_OK) {
		ct->failed++;
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);
		if (i >= b->npkgs || l3af_now_ns() >= b->deadline_ns)
			break;
		const struct bench_pkg *p = &b->pkgs[i];
		uint64_t t0 = l3af_now_ns(), lat;
		unsigned k = 0;
		int rc = client_post_submit(c, p->env, p->env_len, ARTIFACT, p->art, p->art_len, &r);
		lat = l3af_now_ns() - t0;
		while (k < 63 && (1ull << (k + 1)) <= lat)
			k++;
		ct->lat_hist[k]++;
		if (rc == CLI_OK && client_check("bench", &r) == CLI_OK) {
			bool existing = r.body && strstr(r.body, "\"existing\":true");
			ct->existing += existing;
			ct->admitted += !existing;
		} else {
			ct->failed++;
		}
		client_reply_clear(&r);
	}
	client_close(c);
	return NULL;
}

/* Upper bound of the log2 bucket holding the p-th latency, in ms. */
static double pct_ms(const uint64_t hist[64], uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p), seen = 0;

	for (unsigned k = 0; k < 64; k++) {
		seen += hist[k];
		if (seen >= want && hist[k])
			return (double)(1ull << (k + 1)) / 1e6;
	}
	return 0;
}

static int run_clients(struct bench *b, unsigned n, unsigned secs, struct bench_result *res)
{
	struct client_thread *ct = calloc(n, sizeof(*ct));
	uint64_t hist[64] = {0}, t0;
	unsigned started = 0;

	if (!ct)
		return cli_error("bench", CLI_FAIL, "out of memory");
	atomic_store(&b->next, 0);
	t0 = l3af_now_ns();
	b->deadline_ns = t0 + (uint64_t)secs * 1000000000ull;
	for (; started < n; started++) {
		ct[started].b = b;
		if (pthread_create(&ct[started].t, NULL, client_main, &ct[started]) != 0)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(ct[i].t, NULL);
	res->seconds = (double)(l3af_now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < started; i++) {
		res->admitted += ct[i].admitted;
		res->existing += ct[i].existing;
		res->failed += ct[i].failed;
		for (int k = 0; k < 64; k++)
			hist[k] += ct[i].lat_hist[k];
	}
	uint64_t total = res->admitted + res->existing + res->failed;
	res->p50_ms = pct_ms(hist, total, 0.5);
	res->p99_ms = pct_ms(hist, total, 0.99);
	free(ct);
	if (started < n)
		return cli_error("bench", CLI_FAIL, "could not start %u client threads", n);
	return CLI_OK;
}

/* ---- the whole run ------------------------------------------------------------------- */

static void print_result(const struct bench *b, unsigned clients, unsigned secs,
			 const struct bench_result *res, double prep_s)
{
	double admitted = (double)res->admitted / res->seconds;

	printf("prepared %zu distinct signed packages (%zu-byte archives) in %.2f s\n", b->npkgs,
	       b->npkgs ? b->pkgs[0].art_len : 0, prep_s);
	printf("l3af-tlogd admitted %llu packages in %.2f s with %u clients: %.1f/s "
	       "(latency p50 <= %.1f ms, p99 <= %.1f ms; %llu existing, %llu failed)\n",
	       (unsigned long long)res->admitted, res->seconds, clients, admitted, res->p50_ms,
	       res->p99_ms, (unsigned long long)res->existing, (unsigned long long)res->failed);
	printf("the same admission work in process on %u threads (no HTTP, no storage): "
	       "%.1f/s; ratio %.3f\n",
	       res->inproc_threads, res->inproc_per_s, admitted / res->inproc_per_s);
	printf("{\"bench\":\"submit\",\"admitted_per_s\":%.1f,\"inprocess_per_s\":%.1f,"
	       "\"ratio\":%.3f,\"clients\":%u,\"seconds\":%.2f,\"max_seconds\":%u,"
	       "\"packages\":%zu,\"admitted\":%llu,\"existing\":%llu,\"failed\":%llu,"
	       "\"archive_bytes\":%zu,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"inprocess_threads\":%u}\n",
	       admitted, res->inproc_per_s, admitted / res->inproc_per_s, clients, res->seconds,
	       secs, b->npkgs, (unsigned long long)res->admitted,
	       (unsigned long long)res->existing, (unsigned long long)res->failed,
	       b->npkgs ? b->pkgs[0].art_len : 0, res->p50_ms, res->p99_ms, res->inproc_threads);
}

static int bench_submit(unsigned clients, unsigned seconds, unsigned entries,
			const char *object)
{
	struct bench b;
	struct bench_result res;
	char obj[PATH_MAX + 64];
	uint64_t t0;
	double prep_s = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	memset(&res, 0, sizeof(res));
	snprintf(b.work, sizeof(b.work), "/tmp/l3af-bench-submit-XXXXXX");
	if (sodium_init() < 0 || exe_dir(b.exe_dir) != 0)
		return cli_error("bench", CLI_FAIL, "cannot start (libsodium or /proc/self/exe)");
	snprintf(obj, sizeof(obj), "%s", object ? object : "");
	if (!object)
		snprintf(obj, sizeof(obj), "%s/../tests/bpf/progs/l3af_root.bpf.o", b.exe_dir);
	if (access(obj, R_OK) != 0)
		return cli_error("bench", CLI_USAGE, "no eBPF object at %s: give one with --object",
				 obj);
	if (!mkdtemp(b.work))
		return cli_error("bench", CLI_FAIL, "mkdtemp: %m");
	snprintf(b.data, sizeof(b.data), "%s/data", b.work);
	t0 = l3af_now_ns();
	rc = bench_prepare(&b, obj, entries, PKG_NAME, ARTIFACT, PLATFORM);
	prep_s = (double)(l3af_now_ns() - t0) / 1e9;
	if (rc == CLI_OK)
		rc = start_server(&b);
	if (rc == CLI_OK)
		rc = register_publisher(&b);
	if (rc == CLI_OK)
		rc = run_clients(&b, clients, seconds, &res);
	stop_server(&b);
	if (rc == CLI_OK && res.admitted == 0)
		rc = cli_error("bench", CLI_FAIL, "nothing was admitted (see %s/tlogd.log)", b.work);
	if (rc == CLI_OK)
		rc = bench_inprocess(&b, &res);
	if (rc == CLI_OK)
		print_result(&b, clients, seconds, &res, prep_s);
	bench_free(&b);
	return rc;
}

int bench_submit_main(int argc, char **argv)
{
	static const struct option opts[] = {{"clients", required_argument, NULL, 'c'},
					     {"seconds", required_argument, NULL, 's'},
					     {"entries", required_argument, NULL, 'n'},
					     {"object", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	unsigned long long clients = 16, seconds = 10, entries = 1000;
	const char *object = NULL;
	int c;

	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c' && cli_parse_count("bench", "--clients", optarg, 1024, &clients))
			return CLI_USAGE;
		else if (c == 's' && cli_parse_count("bench", "--seconds", optarg, 3600, &seconds))
			return CLI_USAGE;
		else if (c == 'n' && cli_parse_count("bench", "--entries", optarg, 1000000, &entries))
			return CLI_USAGE;
		else if (c == 'o')
			object = optarg;
		else if (c == '?')
			return cli_error("bench", CLI_USAGE, "unknown option for submit (see --help)");
	}
	if (optind != argc)
		return cli_error("bench", CLI_USAGE, "unexpected argument '%s'", argv[optind]);
	return bench_submit((unsigned)clients, (unsigned)seconds, (unsigned)entries, object);
}
