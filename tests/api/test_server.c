/*
 * test_server.c - the HTTP read API in process: a real log in a temporary
 * directory, api_server on 127.0.0.1 port 0, libcurl as the client.
 *
 * The group fixture grows the log in batches to 600 entries (level-0 tiles 0
 * and 1 full, tile 2 partial W=88; level-1 tile 0 partial W=2) and checks
 * every tile and entry bundle after each batch. The last test damages the
 * database on purpose, so it must stay last.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "httputil.h"

#define TIMEOUT_S 2u     /* server timeout in this test */
#define PER_IP_LIMIT 16u

static struct {
	char *dir;
	struct tlog *log;
	struct api_server *srv;
	CURL *curl; /* shared handle: keeps one connection alive */
	char base[64];
} F;

/* Diagnostics lines the server reports. */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static char diag_last[600];
static unsigned diag_count;

static void diag_cb(void *ctx, const char *line)
{
	(void)ctx;
	pthread_mutex_lock(&diag_lock);
	snprintf(diag_last, sizeof(diag_last), "%s", line);
	diag_count++;
	pthread_mutex_unlock(&diag_lock);
}

static unsigned diag_seen(char *last, size_t cap)
{
	unsigned n;

	pthread_mutex_lock(&diag_lock);
	n = diag_count;
	if (last)
		snprintf(last, cap, "%s", diag_last);
	pthread_mutex_unlock(&diag_lock);
	return n;
}

static uint64_t now_ms(void)
{
	return l3af_now_ns() / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	struct l3af_err err = {0};
	struct api_config cfg = {
		.listen = "127.0.0.1:0",
		.threads = 2,
		.conn_limit = 64,
		.per_ip_limit = PER_IP_LIMIT,
		.timeout_s = TIMEOUT_S,
		.diag = diag_cb,
	};

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	F.dir = tu_tempdir("api");
	if (tlog_create(F.dir, "test.example/api", &err) != L3AF_OK ||
	    tlog_open(F.dir, TLOG_OPEN_WRITER, &F.log, &err) != L3AF_OK ||
	    api_server_start(F.log, &cfg, &F.srv, &err) != L3AF_OK) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", (unsigned)api_server_port(F.srv));
	F.curl = curl_easy_init();
	return F.curl ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	curl_easy_cleanup(F.curl);
	api_server_stop(F.srv);
	tlog_close(F.log);
	tu_rmtree(F.dir);
	curl_global_cleanup();
	return 0;
}

/* ---- tiles and bundles ------------------------------------------------------ */

/* GET the tile and compare with tlog_tile_read; check the headers. */
static void expect_tile(const struct tlog_tile_id *id)
{
	char path[TLOG_TILE_PATH_MAX + 1] = "/";
	struct l3af_err err = {0};
	uint8_t *want = NULL;
	size_t want_len = 0;
	struct reply r;

	assert_int_equal(tlog_tile_path(id, path + 1), L3AF_OK);
	assert_int_equal(tlog_tile_read(F.log, id, &want, &want_len, &err), L3AF_OK);
	http_get(F.curl, F.base, path, &r);
	if (r.status != 200)
		fail_msg("%s: status %ld", path, r.status);
	assert_string_equal(r.ctype, "application/octet-stream");
	assert_non_null(strstr(r.cache, "immutable"));
	assert_non_null(strstr(r.cache, "max-age="));
	assert_int_equal(r.len, want_len);
	assert_memory_equal(r.body, want, want_len);
	if (id->level >= 0)
		assert_int_equal(r.len, (size_t)id->width * TLOG_HASH_BYTES);
	l3af_free(want);
	reply_free(&r);
}

static void expect_status(const char *path, long status)
{
	struct reply r;

	http_get(F.curl, F.base, path, &r);
	if (r.status != status)
		fail_msg("GET %s: status %ld, want %ld", path, r.status, status);
	reply_free(&r);
}

static void expect_missing(int level, uint64_t n, unsigned width)
{
	struct tlog_tile_id id = {.level = level, .n = n, .width = width};
	char path[TLOG_TILE_PATH_MAX + 1] = "/";

	assert_int_equal(tlog_tile_path(&id, path + 1), L3AF_OK);
	expect_status(path, 404);
}

/* Every tile the tree of `size` implies at one level (entries = level -1),
 * full and partial, a narrower partial, and the first tiles beyond it. */
static void expect_level(int level, uint64_t size)
{
	unsigned shift = (unsigned)(level < 0 ? 0 : level) * TLOG_TILE_HEIGHT;
	uint64_t hashes = size >> shift, tiles = (hashes + TLOG_TILE_WIDTH - 1) / TLOG_TILE_WIDTH;

	for (uint64_t n = 0; n < tiles; n++) {
		unsigned w = tlog_tile_width_at(level, n, size);
		struct tlog_tile_id id = {.level = level, .n = n, .width = w};
		expect_tile(&id);
		if (w > 1) { /* an older, narrower version of the same tile */
			id.width = w / 2;
			expect_tile(&id);
		}
		if (w < TLOG_TILE_WIDTH) {
			expect_missing(level, n, w + 1);
			expect_missing(level, n, TLOG_TILE_WIDTH);
		}
	}
	expect_missing(level, tiles, 1);
	expect_missing(level, tiles, TLOG_TILE_WIDTH);
}

static void expect_tree(uint64_t size)
{
	for (int level = TLOG_TILE_ENTRIES; level <= 2; level++)
		expect_level(level, size);
}

/* The served bundle hashes to the served level-0 tile (RFC 9162 leaf hash),
 * and entry i is the bytes we appended. */
static void expect_bundle_matches_tile(uint64_t n, unsigned width)
{
	struct tlog_tile_id eid = {.level = TLOG_TILE_ENTRIES, .n = n, .width = width};
	struct tlog_tile_id hid = {.level = 0, .n = n, .width = width};
	char epath[TLOG_TILE_PATH_MAX + 1] = "/", hpath[TLOG_TILE_PATH_MAX + 1] = "/";
	struct reply e, h;
	size_t off = 0;

	assert_int_equal(tlog_tile_path(&eid, epath + 1), L3AF_OK);
	assert_int_equal(tlog_tile_path(&hid, hpath + 1), L3AF_OK);
	http_get(F.curl, F.base, epath, &e);
	http_get(F.curl, F.base, hpath, &h);
	assert_int_equal(e.status, 200);
	assert_int_equal(h.status, 200);
	for (unsigned i = 0; i < width; i++) {
		uint8_t want[256], leaf[TLOG_HASH_BYTES];
		size_t want_len = tu_entry(n * TLOG_TILE_WIDTH + i, want);
		assert_true(off + 2 <= e.len);
		size_t len = (size_t)e.body[off] << 8 | e.body[off + 1];
		assert_int_equal(len, want_len);
		assert_true(off + 2 + len <= e.len);
		assert_memory_equal(e.body + off + 2, want, want_len);
		tlog_hash_leaf(e.body + off + 2, len, leaf);
		assert_memory_equal(h.body + (size_t)i * TLOG_HASH_BYTES, leaf, TLOG_HASH_BYTES);
		off += 2 + len;
	}
	assert_int_equal(off, e.len);
	reply_free(&e);
	reply_free(&h);
}

static void append_range(uint64_t from, uint64_t to)
{
	static uint8_t bufs[TLOG_TILE_WIDTH * 2][256];
	struct tlog_entry entries[TLOG_TILE_WIDTH * 2];
	uint64_t idx[TLOG_TILE_WIDTH * 2];
	struct l3af_err err = {0};
	size_t n = (size_t)(to - from);

	assert_true(n <= TLOG_TILE_WIDTH * 2);
	for (size_t i = 0; i < n; i++) {
		entries[i].data = bufs[i];
		entries[i].len = tu_entry(from + i, bufs[i]);
	}
	if (tlog_append(F.log, entries, n, idx, &err) != L3AF_OK)
		fail_msg("append: %s", err.msg);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(idx[i], from + i);
}

static void test_tiles_by_batch(void **state)
{
	static const uint64_t sizes[] = {1, 256, 300, 600};
	uint64_t size = 0;

	(void)state;
	expect_tree(0); /* empty tree: no tile exists */
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		append_range(size, sizes[b]);
		size = sizes[b];
		assert_int_equal(tlog_size(F.log), size);
		expect_tree(size);
	}
	/* The shape the file comment promises. */
	assert_int_equal(tlog_tile_width_at(0, 2, 600), 88);
	assert_int_equal(tlog_tile_width_at(1, 0, 600), 2);
	expect_bundle_matches_tile(0, TLOG_TILE_WIDTH);
	expect_bundle_matches_tile(1, TLOG_TILE_WIDTH);
	expect_bundle_matches_tile(2, 88);
	expect_bundle_matches_tile(2, 5);
}

/* ---- checkpoint and health -------------------------------------------------- */

static void test_checkpoint(void **state)
{
	struct l3af_err err = {0};
	struct tlog_checkpoint cp;
	char *want = NULL;
	size_t want_len = 0;
	const char *blank;
	struct reply r;

	(void)state;
	assert_int_equal(tlog_checkpoint_get(F.log, &want, &want_len, &err), L3AF_OK);
	http_get(F.curl, F.base, "/checkpoint", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	assert_string_equal(r.cache, "no-store");
	assert_int_equal(r.len, want_len);
	assert_memory_equal(r.body, want, want_len);
	blank = strstr((const char *)r.body, "\n\n");
	assert_non_null(blank);
	assert_int_equal(tlog_checkpoint_parse((const char *)r.body,
					       (size_t)(blank + 1 - (const char *)r.body), &cp,
					       &err),
			 L3AF_OK);
	assert_int_equal(cp.size, 600);
	assert_string_equal(cp.origin, "test.example/api");
	reply_free(&r);

	/* HEAD: same headers, no body. */
	http_do(F.curl, F.base, "HEAD", "/checkpoint", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.content_length, (long)want_len);
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	reply_free(&r);

	/* A query string does not change the resource. */
	http_get(F.curl, F.base, "/checkpoint?x=1", &r);
	assert_int_equal(r.status, 200);
	assert_memory_equal(r.body, want, want_len);
	reply_free(&r);
	l3af_free(want);
}

static void test_healthz(void **state)
{
	struct reply r;
	json_error_t jerr;
	json_t *doc;

	(void)state;
	http_get(F.curl, F.base, "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/json");
	doc = json_loadb((const char *)r.body, r.len, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "status")), "ok");
	assert_int_equal(json_integer_value(json_object_get(doc, "size")), 600);
	json_decref(doc);
	reply_free(&r);
}

/* ---- errors ------------------------------------------------------------------ */

static const struct bad_request {
	const char *method;
	const char *path;
	const char *body;
	long status;
	const char *code;
	const char *desc;
} bad_requests[] = {
	/* malformed tile paths: 400 */
	{"GET", "/tile/0/1", NULL, 400, "bad_tile_path", "index not 3 digits"},
	{"GET", "/tile/00/000", NULL, 400, "bad_tile_path", "level with a leading zero"},
	{"GET", "/tile/0/x000/001", NULL, 400, "bad_tile_path", "leading x000 group"},
	{"GET", "/tile/0/000.p/0", NULL, 400, "bad_tile_path", "width 0"},
	{"GET", "/tile/0/000.p/256", NULL, 400, "bad_tile_path", "width 256"},
	{"GET", "/tile/0/000.p/", NULL, 400, "bad_tile_path", "empty width"},
	{"GET", "/tile/0/000.p/088", NULL, 400, "bad_tile_path", "width with a leading zero"},
	{"GET", "/tile/0/000.p/88x", NULL, 400, "bad_tile_path", "junk after width"},
	{"GET", "/tile/0/000.p/+8", NULL, 400, "bad_tile_path", "signed width"},
	{"GET", "/tile/0/000.P/8", NULL, 400, "bad_tile_path", "upper-case .P"},
	{"GET", "/tile/64/000", NULL, 400, "bad_tile_path", "level 64"},
	{"GET", "/tile/-1/000", NULL, 400, "bad_tile_path", "negative level"},
	{"GET", "/tile/entries/../000", NULL, 400, "bad_tile_path", "dot-dot segment"},
	{"GET", "/tile/0/%30%30%30", NULL, 400, "bad_tile_path", "percent-encoded index"},
	{"GET", "/tile/0/000%2Ep/8", NULL, 400, "bad_tile_path", "percent-encoded dot"},
	{"GET", "/tile/0/000/", NULL, 400, "bad_tile_path", "trailing slash"},
	{"GET", "/tile/0/0000", NULL, 400, "bad_tile_path", "4-digit group"},
	{"GET", "/tile/0/x001", NULL, 400, "bad_tile_path", "x group without a last group"},
	{"GET", "/tile/0/x001/", NULL, 400, "bad_tile_path", "x group, empty last group"},
	{"GET", "/tile/0/001/002", NULL, 400, "bad_tile_path", "second group without x"},
	{"GET", "/tile/0/x018/x446/x744/x073/x709/x551/615", NULL, 400, "bad_tile_path",
	 "index beyond 2^63"},
	{"GET", "/tile/", NULL, 400, "bad_tile_path", "no level"},
	{"GET", "/tile/0/", NULL, 400, "bad_tile_path", "no index"},
	{"GET", "/tile/entries", NULL, 400, "bad_tile_path", "entries without a slash"},
	{"GET", "/tile/entries/", NULL, 400, "bad_tile_path", "entries without index"},
	{"GET", "/tile/entries/000.p/0", NULL, 400, "bad_tile_path", "bundle width 0"},
	{"GET", "/tile/data/000", NULL, 400, "bad_tile_path", "static-ct-api name"},
	/* tiles beyond the tree: 404 */
	{"GET", "/tile/0/003", NULL, 404, "not_found", "level-0 tile 3 beyond 600"},
	{"GET", "/tile/0/002", NULL, 404, "not_found", "full tile 2 not yet"},
	{"GET", "/tile/0/002.p/89", NULL, 404, "not_found", "partial wider than the tree"},
	{"GET", "/tile/1/000", NULL, 404, "not_found", "full level-1 tile not yet"},
	{"GET", "/tile/2/000.p/1", NULL, 404, "not_found", "level 2 empty at 600"},
	{"GET", "/tile/63/000.p/1", NULL, 404, "not_found", "level 63"},
	{"GET", "/tile/entries/x001/000", NULL, 404, "not_found", "bundle 1000"},
	{"GET", "/tile/0/x036/x028/x797/x018/x963/967", NULL, 404, "not_found",
	 "largest index a tree can reach"},
	{"GET", "/tile/0/x009/x223/x372/x036/x854/x775/807", NULL, 400, "bad_tile_path",
	 "index no tree of 2^63-1 entries reaches"},
	/* unknown routes: 404 */
	{"GET", "/", NULL, 404, "not_found", "root"},
	{"GET", "/checkpoint/", NULL, 404, "not_found", "checkpoint with a slash"},
	{"GET", "/checkpoints", NULL, 404, "not_found", "checkpoint plus s"},
	{"GET", "/CHECKPOINT", NULL, 404, "not_found", "upper case"},
	{"GET", "/tile", NULL, 404, "not_found", "tile without slash"},
	{"GET", "/healthz/x", NULL, 404, "not_found", "below healthz"},
	{"GET", "//checkpoint", NULL, 404, "not_found", "double slash"},
	{"GET", "/%63heckpoint", NULL, 404, "not_found", "percent-encoded route"},
	{"POST", "/nope", NULL, 404, "not_found", "unknown route, any method"},
	/* methods and bodies */
	{"POST", "/checkpoint", NULL, 405, "method_not_allowed", "POST checkpoint"},
	{"POST", "/checkpoint", "x=1", 405, "method_not_allowed", "POST with a body"},
	{"PUT", "/tile/0/000", NULL, 405, "method_not_allowed", "PUT tile"},
	{"DELETE", "/healthz", NULL, 405, "method_not_allowed", "DELETE healthz"},
	{"OPTIONS", "/checkpoint", NULL, 405, "method_not_allowed", "OPTIONS"},
	{"GET", "/checkpoint", "abc", 413, "body_not_allowed", "GET with a body"},
	{"GET", "/tile/0/000", "abc", 413, "body_not_allowed", "GET tile with a body"},
};

/* The error document is exactly {"error":{"code":C,"message":M}}. */
static void expect_error_doc(const struct reply *r, const char *code, const char *desc)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *e;

	if (!doc)
		fail_msg("%s: body is not JSON (%s): %s", desc, jerr.text, (const char *)r->body);
	assert_int_equal(json_object_size(doc), 1);
	e = json_object_get(doc, "error");
	assert_non_null(e);
	assert_int_equal(json_object_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(e, "code")), code);
	assert_non_null(json_string_value(json_object_get(e, "message")));
	json_decref(doc);
}

static void test_bad_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		const struct bad_request *t = &bad_requests[i];
		struct reply r;
		http_do(F.curl, F.base, t->method, t->path, t->body, &r);
		if (r.curl != CURLE_OK || r.status != t->status)
			fail_msg("%s (%s %s): curl %d status %ld, want %ld", t->desc, t->method,
				 t->path, (int)r.curl, r.status, t->status);
		assert_string_equal(r.ctype, "application/json");
		assert_string_equal(r.cache, "no-store");
		expect_error_doc(&r, t->code, t->desc);
		if (t->status == 405)
			assert_string_equal(r.allow, "GET, HEAD");
		reply_free(&r);
	}
}

/* ---- keep-alive ---------------------------------------------------------------- */

static void test_keep_alive(void **state)
{
	static const char *const paths[] = {"/checkpoint", "/tile/0/000", "/nope",
					     "/tile/0/1",   "/tile/9/000", "/healthz"};
	CURL *h = curl_easy_init();
	struct reply r;

	(void)state;
	assert_non_null(h);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_get(h, F.base, paths[i], &r);
		assert_int_equal(r.curl, CURLE_OK);
		/* One connection for all: errors keep it alive too. */
		if (r.new_conns != (i == 0 ? 1 : 0))
			fail_msg("GET %s opened %ld connections", paths[i], r.new_conns);
		assert_true(strcasecmp(r.conn, "close") != 0);
		reply_free(&r);
	}
	curl_easy_cleanup(h);
}

/* The timeout is per request, not per connection: a keep-alive connection
 * in steady use outlives it. */
static void test_keep_alive_outlives_timeout(void **state)
{
	CURL *h = curl_easy_init();
	uint64_t start = now_ms();
	struct reply r;

	(void)state;
	for (int i = 0; now_ms() - start < TIMEOUT_S * 1000 + 1500; i++) {
		http_get(h, F.base, "/healthz", &r);
		assert_int_equal(r.status, 200);
		if (r.new_conns != (i == 0 ? 1 : 0))
			fail_msg("request %d after %llu ms needed a new connection", i,
				 (unsigned long long)(now_ms() - start));
		reply_free(&r);
		sleep_ms(TIMEOUT_S * 1000 / 4);
	}
	curl_easy_cleanup(h);
}

/* ---- raw connections ----------------------------------------------------------- */

static int raw_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(api_server_port(F.srv))};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Has the server closed fd? Waits up to wait_ms for a sign. */
static bool raw_closed(int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;

	if (poll(&p, 1, wait_ms) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLERR))
		return true;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void expect_server_ok(void)
{
	struct reply r;

	http_get(F.curl, F.base, "/checkpoint", &r);
	assert_int_equal(r.curl, CURLE_OK);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

/* One header byte a second never completes a request: the server must close
 * the connection soon after timeout_s although bytes keep arriving, and
 * serve everyone else meanwhile. */
static void test_slow_client(void **state)
{
	static const char req[] = "GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaa\r\n\r\n";
	int fd = raw_connect();
	uint64_t start = now_ms(), closed_at = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(req) - 1 && now_ms() - start < 8000; i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1 || raw_closed(fd, 1000)) {
			closed_at = now_ms();
			break;
		}
		expect_server_ok();
	}
	close(fd);
	if (!closed_at)
		fail_msg("slow client still connected after %llu ms",
			 (unsigned long long)(now_ms() - start));
	assert_true(closed_at - start >= TIMEOUT_S * 1000 - 100);
	assert_true(closed_at - start <= 5000);
	expect_server_ok();
}

/* A connection that sends nothing is closed after the timeout too. */
static void test_idle_client(void **state)
{
	int fd = raw_connect();
	uint64_t start = now_ms();

	(void)state;
	while (!raw_closed(fd, 200) && now_ms() - start < 8000)
		;
	assert_true(now_ms() - start <= TIMEOUT_S * 1000 + 2000);
	close(fd);
	expect_server_ok();
}

/* Connections from one address beyond per_ip_limit are closed at once. */
static void test_per_ip_limit(void **state)
{
	enum { N = PER_IP_LIMIT + 4 };
	int fds[N];
	unsigned kept = 0;

	(void)state;
	for (int i = 0; i < N; i++)
		fds[i] = raw_connect();
	sleep_ms(300);
	for (int i = 0; i < N; i++)
		kept += !raw_closed(fds[i], 0);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	assert_true(kept >= 1);
	assert_true(kept <= PER_IP_LIMIT);
	/* Slots free again once the server has seen the closes. */
	sleep_ms(200);
	expect_server_ok();
}

/* ---- concurrency --------------------------------------------------------------- */

static void *client_main(void *arg)
{
	CURL *h = curl_easy_init();
	long bad = 0;
	struct reply r;

	for (int i = 0; h && i < 150; i++) {
		static const char *const paths[] = {"/checkpoint", "/tile/0/001",
						     "/tile/entries/002.p/88"};
		http_get(h, F.base, paths[i % 3], &r);
		bad += r.curl != CURLE_OK || r.status != 200;
		reply_free(&r);
	}
	curl_easy_cleanup(h);
	*(long *)arg = h ? bad : -1;
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	pthread_t t[4];
	long bad[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, client_main, &bad[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL); /* all, before any assertion can leave */
	for (int i = 0; i < 4; i++)
		assert_int_equal(bad[i], 0);
}

/* ---- start-up: listen addresses, ports, limits ---------------------------------- */

static bool ipv6_loopback_works(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static const struct listen_case {
	const char *listen;
	enum l3af_status want;
	bool needs_ipv6;
	const char *desc;
} listen_cases[] = {
	{"127.0.0.1:0", L3AF_OK, false, "IPv4, any port"},
	{"localhost:0", L3AF_OK, false, "host name"},
	{"[::1]:0", L3AF_OK, true, "IPv6 in brackets"},
	{"127.0.0.1", L3AF_E_INVALID, false, "no port"},
	{"127.0.0.1:", L3AF_E_INVALID, false, "empty port"},
	{"127.0.0.1:65536", L3AF_E_INVALID, false, "port too large"},
	{"127.0.0.1:080", L3AF_E_INVALID, false, "port with a leading zero"},
	{"127.0.0.1:-1", L3AF_E_INVALID, false, "negative port"},
	{"127.0.0.1:+1", L3AF_E_INVALID, false, "signed port"},
	{"127.0.0.1:1x", L3AF_E_INVALID, false, "junk after port"},
	{":0", L3AF_E_INVALID, false, "empty host"},
	{"::1:0", L3AF_E_INVALID, false, "IPv6 without brackets"},
	{"[::1]", L3AF_E_INVALID, false, "IPv6 without port"},
	{"[::1:0", L3AF_E_INVALID, false, "unclosed bracket"},
	{"[]:0", L3AF_E_INVALID, false, "empty brackets"},
	{"[127.0.0.1]:0", L3AF_E_INVALID, false, "IPv4 in brackets"},
};

/* Does this machine resolve "localhost"? (A bare chroot has no /etc/hosts.) */
static bool localhost_resolves(void)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	bool ok = getaddrinfo("localhost", "0", &hints, &res) == 0;

	if (res)
		freeaddrinfo(res);
	return ok;
}

static void test_listen_addresses(void **state)
{
	bool v6 = ipv6_loopback_works(), named = localhost_resolves();

	(void)state;
	for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
		const struct listen_case *t = &listen_cases[i];
		struct api_config cfg = {.listen = t->listen};
		struct api_server *srv = NULL;
		struct l3af_err err = {0};
		enum l3af_status rc;
		if (t->needs_ipv6 && !v6) {
			print_message("skipping %s: no IPv6 loopback here\n", t->listen);
			continue;
		}
		if (!strncmp(t->listen, "localhost", 9) && !named) {
			print_message("skipping %s: this machine does not resolve localhost "
				      "(no /etc/hosts?)\n", t->listen);
			continue;
		}
		rc = api_server_start(F.log, &cfg, &srv, &err);
		if (rc != t->want)
			fail_msg("%s ('%s'): %s, want %s (%s)", t->desc, t->listen,
				 l3af_status_name(rc), l3af_status_name(t->want), err.msg);
		if (t->want == L3AF_E_INVALID) {
			assert_null(srv);
			/* Syntax is fine there; only resolving rejects it. */
			assert_int_equal(api_listen_check(t->listen, NULL) == L3AF_OK,
					 strncmp(t->listen, "[127", 4) == 0);
			continue;
		}
		assert_int_equal(api_listen_check(t->listen, NULL), L3AF_OK);
		assert_true(api_server_port(srv) > 0);
		api_server_stop(srv);
	}
}

static void test_ipv6_serves(void **state)
{
	struct api_config cfg = {.listen = "[::1]:0"};
	struct api_server *srv = NULL;
	struct l3af_err err = {0};
	char base[64];
	CURL *h;
	struct reply r;

	(void)state;
	if (!ipv6_loopback_works())
		skip();
	assert_int_equal(api_server_start(F.log, &cfg, &srv, &err), L3AF_OK);
	snprintf(base, sizeof(base), "http://[::1]:%u", (unsigned)api_server_port(srv));
	h = curl_easy_init();
	http_get(h, base, "/healthz", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	curl_easy_cleanup(h);
	api_server_stop(srv);
}

static void test_port_in_use(void **state)
{
	char listen[64];
	struct api_config cfg = {.listen = listen};
	struct api_server *srv = NULL;
	struct l3af_err err = {0};

	(void)state;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)api_server_port(F.srv));
	assert_int_equal(api_server_start(F.log, &cfg, &srv, &err), L3AF_E_IO);
	assert_null(srv);
	if (!strstr(err.msg, "in use"))
		fail_msg("message does not say the address is in use: %s", err.msg);
	assert_non_null(strstr(err.msg, listen));
	expect_server_ok();
}

static void test_config_limits(void **state)
{
	struct api_config cfg = {.listen = "127.0.0.1:0", .threads = API_THREADS_MAX + 1};
	struct api_server *srv = NULL;
	struct l3af_err err = {0};
	char base[64];
	CURL *h;
	struct reply r;

	(void)state;
	assert_int_equal(api_server_start(F.log, &cfg, &srv, &err), L3AF_E_INVALID);
	assert_null(srv);
	/* One thread, defaults elsewhere, NULL diag: serves. */
	cfg.threads = 1;
	assert_int_equal(api_server_start(F.log, &cfg, &srv, NULL), L3AF_OK);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)api_server_port(srv));
	h = curl_easy_init();
	http_get(h, base, "/checkpoint", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	curl_easy_cleanup(h);
	api_server_stop(srv);
	api_server_stop(NULL);
}

/* Stopping does not wait for clients that hold connections open. */
static void test_stop_with_open_connections(void **state)
{
	struct api_config cfg = {.listen = "127.0.0.1:0", .timeout_s = 60};
	struct api_server *srv = NULL;
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fds[3];
	uint64_t start;

	(void)state;
	assert_int_equal(api_server_start(F.log, &cfg, &srv, NULL), L3AF_OK);
	a.sin_port = htons(api_server_port(srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	assert_int_equal(send(fds[1], "GET /chec", 9, MSG_NOSIGNAL), 9);
	sleep_ms(100);
	start = now_ms();
	api_server_stop(srv);
	assert_true(now_ms() - start < 2000);
	for (int i = 0; i < 3; i++) {
		assert_true(raw_closed(fds[i], 1000));
		close(fds[i]);
	}
}

/* api_server_start under allocation failure: fails cleanly (ASan checks for
 * leaks), then succeeds once allocations succeed. */
static void test_start_alloc_failure(void **state)
{
	struct api_config cfg = {.listen = "127.0.0.1:0"};
	enum l3af_status rc = L3AF_E_NOMEM;

	(void)state;
	for (unsigned long nth = 1; rc == L3AF_E_NOMEM && nth < 50; nth++) {
		struct api_server *srv = NULL;
		l3af_alloc_fail_at(nth);
		rc = api_server_start(F.log, &cfg, &srv, NULL);
		l3af_alloc_fail_at(0);
		if (rc == L3AF_OK)
			api_server_stop(srv);
		else
			assert_null(srv);
	}
	assert_int_equal(rc, L3AF_OK);
}

/* Out of memory while answering: 503, generic message, detail to diag; a new
 * connection that cannot be tracked is refused; then all is well again. */
static void test_out_of_memory(void **state)
{
	unsigned before;
	char last[600];
	CURL *h;
	struct reply r;

	(void)state;
	expect_server_ok(); /* the shared connection is open: no allocation to accept */
	before = diag_seen(NULL, 0);
	l3af_alloc_fail_at(1);
	http_get(F.curl, F.base, "/checkpoint", &r);
	l3af_alloc_fail_at(0);
	assert_int_equal(r.status, 503);
	expect_error_doc(&r, "unavailable", "out of memory");
	assert_true(diag_seen(last, sizeof(last)) > before);
	assert_non_null(strstr(last, "/checkpoint"));
	reply_free(&r);

	h = curl_easy_init();
	l3af_alloc_fail_at(1);
	http_get(h, F.base, "/checkpoint", &r);
	l3af_alloc_fail_at(0);
	assert_int_not_equal(r.curl, CURLE_OK);
	reply_free(&r);
	curl_easy_cleanup(h);
	expect_server_ok();
}

/* Damaged storage is a 500 with a generic message; the detail goes to diag.
 * MUST BE LAST: it deletes a stored tile behind the log's back. */
static void test_damage_is_500(void **state)
{
	char path[4096], last[600];
	sqlite3 *db = NULL;
	unsigned before = diag_seen(NULL, 0);
	struct reply r;

	(void)state;
	snprintf(path, sizeof(path), "%s/log.db", F.dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "DELETE FROM tiles WHERE id = 0", NULL, NULL, NULL) != SQLITE_OK) {
		print_message("skipping: storage schema changed (%s)\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		skip();
	}
	sqlite3_close(db);
	http_get(F.curl, F.base, "/tile/0/000", &r);
	assert_int_equal(r.status, 500);
	expect_error_doc(&r, "internal", "damaged tile");
	assert_null(strstr((const char *)r.body, "tile shorter"));
	reply_free(&r);
	assert_true(diag_seen(last, sizeof(last)) > before);
	assert_non_null(strstr(last, "/tile/0/000"));
	/* Everything else still works; bad input is still a 4xx. */
	expect_status("/tile/0/001", 200);
	expect_status("/tile/0/1", 400);
	expect_server_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiles_by_batch),
		cmocka_unit_test(test_checkpoint),
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_keep_alive_outlives_timeout),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_idle_client),
		cmocka_unit_test(test_per_ip_limit),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_ipv6_serves),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test(test_stop_with_open_connections),
		cmocka_unit_test(test_start_alloc_failure),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_damage_is_500), /* last: damages the log */
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
