/*
 * cmd_bench.c - l3af-tlog bench SUBJECT: each benchmark measures our path
 * and, in the same run, a baseline on the same machine, and ends with one
 * line of JSON. Figures are kept in docs/benchmarks.md.
 *
 *   append  entries appended through the sequencer (the server's durable
 *           path) vs SQLite inserting the same rows in batches of the same
 *           size, with the same pragmas, on the same disk
 *   tree    building the Merkle tree of N leaves vs a plain loop of the same
 *           SHA-256 calls
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tlog.h"

#define ENTRY_BYTES 200

/* Synthetic entry i of a run: ENTRY_BYTES of JSON-ish text, unique per
 * (run, i) so that no entry deduplicates. The padding is a slice of a fixed
 * random table, so that making entries costs little next to storing them. */
static uint8_t pad_table[1 << 16];

static void make_pad_table(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t k = 0; k < sizeof(pad_table); k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pad_table[k] = (uint8_t)('a' + x % 26);
	}
}

static void make_entry(uint64_t run, uint64_t i, uint8_t buf[ENTRY_BYTES])
{
	static const char hex[] = "0123456789abcdef";
	/* {"bench":"<16 hex run>","i":"<16 hex i>","pad":"...."} */
	memcpy(buf, "{\"bench\":\"", 10);
	for (int k = 0; k < 16; k++)
		buf[10 + k] = (uint8_t)hex[(run >> (60 - 4 * k)) & 15];
	memcpy(buf + 26, "\",\"i\":\"", 7);
	for (int k = 0; k < 16; k++)
		buf[33 + k] = (uint8_t)hex[(i >> (60 - 4 * k)) & 15];
	memcpy(buf + 49, "\",\"pad\":\"", 9);
	memcpy(buf + 58, pad_table + (i * 7919) % (sizeof(pad_table) - ENTRY_BYTES),
	       ENTRY_BYTES - 60);
	buf[ENTRY_BYTES - 2] = '"';
	buf[ENTRY_BYTES - 1] = '}';
}

static double seconds_since(uint64_t t0)
{
	return (double)(l3af_now_ns() - t0) / 1e9;
}

/* ---- append ------------------------------------------------------------- */

/* One append run. The sequencer's callback gets the submit time (ns since
 * t0) as its ctx, so no per-entry state is kept; the run itself is global
 * because a CLI runs one benchmark at a time. */
struct append_run {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t count, done, inflight, failed;
	uint64_t t0, decile_ns[11];
	uint64_t max_lat_ns;
	uint64_t lat_hist[64]; /* log2 buckets of ack latency in ns */
};

static struct append_run run_state = {.lock = PTHREAD_MUTEX_INITIALIZER,
				      .cond = PTHREAD_COND_INITIALIZER};

static void append_done(void *ctx, enum l3af_status rc, uint64_t index)
{
	struct append_run *r = &run_state;
	uint64_t now = l3af_now_ns(), lat = now - r->t0 - (uint64_t)(uintptr_t)ctx;
	unsigned b = 0;

	(void)index;
	while (b < 63 && (1ull << (b + 1)) <= lat)
		b++;
	pthread_mutex_lock(&r->lock);
	r->done++;
	r->inflight--;
	r->failed += rc != L3AF_OK;
	r->lat_hist[b]++;
	if (lat > r->max_lat_ns)
		r->max_lat_ns = lat;
	for (int d = 1; d <= 10; d++)
		if (r->done == r->count * (uint64_t)d / 10)
			r->decile_ns[d] = now;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Upper bound of the log2 bucket holding the p-th latency, in ms. */
static double percentile_ms(const struct append_run *r, double p)
{
	uint64_t want = (uint64_t)((double)r->done * p), seen = 0;

	for (unsigned b = 0; b < 64; b++) {
		seen += r->lat_hist[b];
		if (seen >= want && r->lat_hist[b])
			return (double)(1ull << (b + 1)) / 1e6;
	}
	return 0;
}

/* Submit count entries with at most window in flight; wait for all. */
static int run_sequenced(struct tlog_seq *seq, uint64_t run_id, size_t window)
{
	struct append_run *r = &run_state;
	struct l3af_err err = {0};
	uint8_t buf[ENTRY_BYTES];
	int rc = CLI_OK;

	r->t0 = l3af_now_ns();
	r->decile_ns[0] = r->t0;
	for (uint64_t i = 0; i < r->count && rc == CLI_OK; i++) {
		make_entry(run_id, i, buf);
		pthread_mutex_lock(&r->lock);
		while (r->inflight >= window)
			pthread_cond_wait(&r->cond, &r->lock);
		r->inflight++;
		pthread_mutex_unlock(&r->lock);
		void *at = (void *)(uintptr_t)(l3af_now_ns() - r->t0);
		if (tlog_seq_submit(seq, buf, ENTRY_BYTES, append_done, at, &err) != L3AF_OK) {
			pthread_mutex_lock(&r->lock);
			r->inflight--;
			r->count = i; /* what was submitted is what we wait for */
			pthread_mutex_unlock(&r->lock);
			rc = cli_error("bench", CLI_FAIL, "submit: %s", err.msg);
		}
	}
	pthread_mutex_lock(&r->lock);
	while (r->done < r->count)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (rc == CLI_OK && r->failed)
		rc = cli_error("bench", CLI_FAIL, "%llu appends failed",
			       (unsigned long long)r->failed);
	return rc;
}

/* The baseline: SQLite alone storing the same entry rows (idx, data), with
 * the same pragmas and batch size, in a fresh file beside the log: the
 * floor cost of keeping the data durably, without hashing, tiles,
 * checkpoints or deduplication. */
static int sqlite_baseline(const char *dir, uint64_t run_id, uint64_t count, size_t batch,
			   double *rows_per_s)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	uint8_t buf[ENTRY_BYTES];
	uint64_t t0;
	int ok;

	snprintf(path, sizeof(path), "%s/sqlite-baseline.db", dir);
	unlink(path);
	ok = sqlite3_open(path, &db) == SQLITE_OK;
	ok = ok && sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				    "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;"
				    "CREATE TABLE entries(idx INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT;",
				    NULL, NULL, NULL) == SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(db, "INSERT INTO entries(idx, data) VALUES(?, ?)", -1, &ins,
				      NULL) == SQLITE_OK;
	t0 = l3af_now_ns();
	for (uint64_t i = 0; ok && i < count; i++) {
		if (i % batch == 0)
			ok = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
		make_entry(run_id, i, buf);
		sqlite3_bind_int64(ins, 1, (int64_t)i);
		sqlite3_bind_blob(ins, 2, buf, ENTRY_BYTES, SQLITE_STATIC);
		ok = ok && sqlite3_step(ins) == SQLITE_DONE;
		sqlite3_reset(ins);
		if (ok && (i % batch == batch - 1 || i == count - 1))
			ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	}
	*rows_per_s = (double)count / seconds_since(t0);
	if (!ok)
		cli_error("bench", CLI_FAIL, "sqlite baseline: %s", db ? sqlite3_errmsg(db) : "open");
	sqlite3_finalize(ins);
	sqlite3_close(db);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sqlite-baseline.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sqlite-baseline.db-shm", dir);
	unlink(path);
	return ok ? CLI_OK : CLI_FAIL;
}

static void print_append(const struct append_run *r, uint64_t size0, uint64_t batches,
			 double secs, double base)
{
	double rate = (double)r->count / secs;

	printf("appended %llu entries of %d bytes in %.2f s: %.0f entries/s "
	       "(%llu batches, mean %.0f per batch)\n",
	       (unsigned long long)r->count, ENTRY_BYTES, secs, rate,
	       (unsigned long long)batches, batches ? (double)r->count / (double)batches : 0.0);
	printf("ack latency: p50 <= %.2f ms, p99 <= %.2f ms, max %.2f ms\n",
	       percentile_ms(r, 0.5), percentile_ms(r, 0.99), (double)r->max_lat_ns / 1e6);
	printf("sqlite alone, same entry rows and batch size: %.0f rows/s; ratio %.2f\n", base, rate / base);
	printf("{\"bench\":\"append\",\"entries\":%llu,\"start_size\":%llu,\"entry_bytes\":%d,"
	       "\"seconds\":%.3f,\"entries_per_s\":%.0f,\"sqlite_rows_per_s\":%.0f,"
	       "\"ratio\":%.3f,\"mean_batch\":%.1f,\"p99_ack_ms\":%.2f,\"max_ack_ms\":%.2f,"
	       "\"decile_entries_per_s\":[",
	       (unsigned long long)r->count, (unsigned long long)size0, ENTRY_BYTES, secs, rate,
	       base, rate / base, batches ? (double)r->count / (double)batches : 0.0,
	       percentile_ms(r, 0.99), (double)r->max_lat_ns / 1e6);
	for (int d = 1; d <= 10; d++) {
		double span = (double)(r->decile_ns[d] - r->decile_ns[d - 1]) / 1e9;
		uint64_t n = r->count * (uint64_t)d / 10 - r->count * (uint64_t)(d - 1) / 10;
		printf("%s%.0f", d > 1 ? "," : "", span > 0 ? (double)n / span : 0.0);
	}
	printf("]}\n");
}

static int bench_append(const char *dir, uint64_t count, size_t max_batch, size_t window)
{
	struct tlog *log = NULL;
	struct tlog_seq *seq = NULL;
	struct l3af_err err = {0};
	uint64_t run_id = (uint64_t)l3af_now_ns() ^ (uint64_t)getpid(), size0, entries = 0,
		 batches = 0;
	double secs, base = 0;
	int rc;

	if (!tlog_exists(dir) && tlog_create(dir, "bench.l3af-tlog.local", &err) != L3AF_OK)
		return cli_error("bench", CLI_FAIL, "%s", err.msg);
	if (tlog_open(dir, TLOG_OPEN_WRITER | TLOG_OPEN_NO_QUICK_CHECK, &log, &err) != L3AF_OK)
		return cli_error("bench", CLI_FAIL, "%s", err.msg);
	size0 = tlog_size(log);
	run_state.count = count;
	rc = tlog_seq_start(log, max_batch, window, &seq, &err) == L3AF_OK
		     ? CLI_OK
		     : cli_error("bench", CLI_FAIL, "%s", err.msg);
	if (rc == CLI_OK)
		rc = run_sequenced(seq, run_id, window);
	secs = seconds_since(run_state.t0);
	if (seq)
		tlog_seq_stats(seq, &entries, &batches);
	tlog_seq_stop(seq);
	tlog_close(log);
	if (rc == CLI_OK)
		rc = sqlite_baseline(dir, run_id, count,
				     batches ? (size_t)((count + batches - 1) / batches) : 1, &base);
	if (rc == CLI_OK)
		print_append(&run_state, size0, batches, secs, base);
	return rc;
}

/* ---- tree ----------------------------------------------------------------- */

static int bench_tree(uint64_t count)
{
	uint8_t(*leaves)[TLOG_HASH_BYTES] = malloc(count * TLOG_HASH_BYTES);
	uint8_t *data = malloc(count * ENTRY_BYTES), root[TLOG_HASH_BYTES], buf[1 + ENTRY_BYTES];
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	uint64_t t0;
	double ours, plain;

	if (!leaves || !data || !md) {
		free(leaves), free(data), EVP_MD_free(md);
		return cli_error("bench", CLI_FAIL, "out of memory");
	}
	for (uint64_t i = 0; i < count; i++)
		make_entry(1, i, data + i * ENTRY_BYTES);
	t0 = l3af_now_ns();
	for (uint64_t i = 0; i < count; i++)
		tlog_hash_leaf(data + i * ENTRY_BYTES, ENTRY_BYTES, leaves[i]);
	tlog_hash_range((const uint8_t(*)[TLOG_HASH_BYTES])leaves, (size_t)count, root);
	ours = seconds_since(t0);
	/* The same number of SHA-256 calls on inputs of the same sizes: count
	 * leaf inputs (1 + 200 bytes) and count - 1 node inputs (65 bytes). */
	t0 = l3af_now_ns();
	for (uint64_t i = 0; i < count; i++) {
		buf[0] = 0;
		memcpy(buf + 1, data + i * ENTRY_BYTES, ENTRY_BYTES);
		EVP_Digest(buf, sizeof(buf), leaves[i], NULL, md, NULL);
	}
	for (uint64_t i = 0; i + 1 < count; i++) {
		buf[0] = 1;
		memcpy(buf + 1, leaves[i], TLOG_HASH_BYTES);
		memcpy(buf + 1 + TLOG_HASH_BYTES, leaves[i + 1], TLOG_HASH_BYTES);
		EVP_Digest(buf, 1 + 2 * TLOG_HASH_BYTES, root, NULL, md, NULL);
	}
	plain = seconds_since(t0);
	printf("tree of %llu leaves: %.3f s; the same SHA-256 calls in a plain loop: %.3f s; "
	       "ratio %.2f\n",
	       (unsigned long long)count, ours, plain, ours / plain);
	printf("{\"bench\":\"tree\",\"leaves\":%llu,\"tree_s\":%.4f,\"sha256_loop_s\":%.4f,"
	       "\"ratio\":%.3f}\n",
	       (unsigned long long)count, ours, plain, ours / plain);
	free(leaves), free(data), EVP_MD_free(md);
	return CLI_OK;
}

void cmd_bench_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog bench SUBJECT [OPTIONS]\n\n"
		"Run one benchmark. Each measures a baseline on this machine in the same run\n"
		"and reports the ratio; the last line printed is one JSON object.\n\n"
		"Subjects:\n"
		"  append --data DIR --count N [--batch B] [--window W]\n"
		"      Append N synthetic entries of %d bytes through the sequencer, the\n"
		"      server's durable path (group commit, WAL, synchronous=FULL, one signed\n"
		"      checkpoint per batch), then store the same entry rows with SQLite alone\n"
		"      in batches of the same mean size. DIR is created if it holds no log; an\n"
		"      existing log is appended to (to measure the rate of a large log).\n"
		"      B: largest batch (default 16384). W: entries in flight (default 65536).\n"
		"      JSON: entries, entries_per_s, sqlite_rows_per_s, ratio, mean_batch,\n"
		"      p99_ack_ms, max_ack_ms, decile_entries_per_s.\n"
		"  tree [--count N]\n"
		"      Build the Merkle tree of N leaves (default 1000000) and time the same\n"
		"      SHA-256 calls in a plain loop. JSON: leaves, tree_s, sha256_loop_s, ratio.\n"
		"  read --data DIR [--seconds S] [--connections C]\n"
		"      Serve the log in DIR (read-only; at least 256 entries) with l3af-tlogd's\n"
		"      HTTP server and, from its static export, with nginx (both 2 workers),\n"
		"      and load both with wrk on loopback (S seconds, default 5; C connections,\n"
		"      default 64): /checkpoint, a full level-0 tile, a full entry bundle,\n"
		"      and /v1/bundle/<i> for random i (against nginx serving the entry\n"
		"      bundle file that holds i). Needs nginx and wrk\n"
		"      (scripts/install-deps.sh --bench). JSON: per route our rate, nginx's\n"
		"      rate and the ratio.\n"
		"  submit [--clients N] [--seconds S] [--entries K] [--object F.bpf.o]\n"
		"      Start l3af-tlogd (next to this binary) on a temporary log on loopback,\n"
		"      register a publisher, prepare K distinct signed packages of one eBPF\n"
		"      object (default 1000; default object: the test build's l3af_root.bpf.o),\n"
		"      and have N clients (default 16, keep-alive) submit them for up to S\n"
		"      seconds (default 10); then run the same admission work (signature,\n"
		"      archive, inspection, policy, entry; no HTTP, no storage) on every\n"
		"      core in process. JSON: admitted_per_s, inprocess_per_s, ratio, ...\n\n"
		"Example: l3af-tlog bench append --data /tmp/bench --count 1000000\n",
		ENTRY_BYTES);
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
					     {"count", required_argument, NULL, 'n'},
					     {"batch", required_argument, NULL, 'b'},
					     {"window", required_argument, NULL, 'w'},
					     {"seconds", required_argument, NULL, 's'},
					     {"connections", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	const char *subject = argc > 1 ? argv[1] : NULL, *dir = NULL;
	unsigned long long count = 0, batch = 16384, window = 65536, seconds = 0, connections = 0;
	int c;

	make_pad_table();
	if (!subject || subject[0] == '-')
		return cli_error("bench", CLI_USAGE, "which subject? (append, tree; see --help)");
	if (!strcmp(subject, "submit"))
		return bench_submit_main(argc, argv);
	if (!strcmp(subject, "verify")) /* api/bench_verify.c */
		return bench_verify_main(argc - 1, argv + 1);
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'n' && cli_parse_count("bench", "--count", optarg, 1ull << 40, &count))
			return CLI_USAGE;
		else if (c == 'b' && cli_parse_count("bench", "--batch", optarg, 1u << 20, &batch))
			return CLI_USAGE;
		else if (c == 'w' && cli_parse_count("bench", "--window", optarg, 1u << 24, &window))
			return CLI_USAGE;
		else if (c == 's' && cli_parse_count("bench", "--seconds", optarg, 3600, &seconds))
			return CLI_USAGE;
		else if (c == 'c' &&
			 cli_parse_count("bench", "--connections", optarg, 10000, &connections))
			return CLI_USAGE;
		else if (c == '?')
			return cli_error("bench", CLI_USAGE, "unknown option (see --help)");
	}
	if (!strcmp(subject, "append")) {
		if (!dir || !count)
			return cli_error("bench", CLI_USAGE, "append needs --data DIR and --count N");
		if (window < batch)
			window = batch;
		return bench_append(dir, count, (size_t)batch, (size_t)window);
	}
	if (!strcmp(subject, "tree"))
		return bench_tree(count ? count : 1000000);
	if (!strcmp(subject, "read")) {
		if (!dir)
			return cli_error("bench", CLI_USAGE, "read needs --data DIR");
		return bench_read(dir, seconds ? (unsigned)seconds : 5,
				  connections ? (unsigned)connections : 64);
	}
	return cli_error("bench", CLI_USAGE, "unknown subject '%s' (append, tree, read)", subject);
}
