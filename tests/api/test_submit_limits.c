/*
 * test_submit_limits.c - POST /v1/submit at its limits, in process (real
 * log, real server, real packages; libcurl and raw sockets): an artifact
 * part over max_artifact_bytes, a client that disconnects half way through
 * the body, lying Content-Lengths, chunked uploads, and slow-header clients
 * cut off while normal submissions keep succeeding. Every refusal leaves
 * the log, its checkpoint and its lookup rows unchanged and DIR/tmp empty.
 */
#include "testutil.h"
#include "httputil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "submit_fixture.h"

#define BOUNDARY "l3afBoundary7MA4YWxkTrZu0gW"

/* ---- state snapshots: a refusal changes none of these ---- */

struct snap {
	uint64_t size;
	char *checkpoint;
};

static void snap_take(struct fx *f, struct snap *s)
{
	struct reply r;

	s->size = tlog_size(f->log);
	fx_get_ok(f, "/checkpoint", &r);
	s->checkpoint = strdup((char *)r.body);
	reply_free(&r);
}

/* Unchanged, nothing left in DIR/tmp, and no row for `name`. */
static void snap_same(struct fx *f, struct snap *s, const char *name)
{
	struct reply r;
	char path[128];
	json_t *j;

	assert_int_equal(tlog_size(f->log), s->size);
	fx_get_ok(f, "/checkpoint", &r);
	assert_string_equal((char *)r.body, s->checkpoint);
	reply_free(&r);
	assert_int_equal(fx_tmp_files(f), 0);
	snprintf(path, sizeof(path), "/v1/lookup?name=%s", name);
	fx_get_ok(f, path, &r);
	j = fx_reply_json(&r);
	assert_int_equal(json_array_size(json_object_get(j, "entries")), 0);
	json_decref(j);
	reply_free(&r);
	free(s->checkpoint);
	s->checkpoint = NULL;
}

/* A normal submission that must be admitted as a new entry. */
static uint64_t submit_new(struct fx *f, const char *env, const char *pkg)
{
	struct reply r;
	json_t *j;
	uint64_t idx;

	fx_post_submit(f->h, f->base, env, pkg, &r);
	if (r.status != 200)
		fail_msg("submit %s: %ld %s", pkg, r.status, r.body);
	j = fx_reply_json(&r);
	assert_false(json_boolean_value(json_object_get(j, "existing")));
	idx = (uint64_t)json_integer_value(json_object_get(j, "index"));
	json_decref(j);
	reply_free(&r);
	return idx;
}

/* ---- raw requests ---- */

/* The multipart/form-data body curl would send (malloc'd). */
static char *multipart_body(const char *env, const char *archive, size_t *len)
{
	size_t alen = 0, cap;
	char *art = fx_read_all(archive, &alen), *body, *p;
	const char *name = strrchr(archive, '/') + 1;

	cap = strlen(env) + alen + 1024;
	body = malloc(cap);
	assert_non_null(body);
	p = body + sprintf(body,
			   "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"envelope\""
			   "\r\n\r\n%s\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; "
			   "name=\"artifact\"; filename=\"%s\"\r\nContent-Type: "
			   "application/octet-stream\r\n\r\n",
			   env, name);
	memcpy(p, art, alen);
	p += alen;
	p += sprintf(p, "\r\n--" BOUNDARY "--\r\n");
	*len = (size_t)(p - body);
	l3af_free(art);
	return body;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t k = send(fd, data, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		assert_true(k > 0);
		data += k;
		len -= (size_t)k;
	}
}

/* The status of the first answer on fd within ms (0: closed or none). */
static long read_status(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[512] = "";
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0)
		return 0;
	return strtol(buf + 9, NULL, 10);
}

/*
 * POST /v1/submit declaring content_length, then send `sent` bytes of body;
 * then close (hangup) or half-close and wait for an answer. Returns the
 * status of the answer (0: none).
 */
static long raw_submit(const struct fx *f, const char *body, size_t sent,
		       unsigned long long content_length, bool hangup)
{
	char hdr[256];
	int fd = fx_connect(f);
	long status = 0;

	snprintf(hdr, sizeof(hdr),
		 "POST /v1/submit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Content-Type: multipart/form-data; boundary=" BOUNDARY "\r\n"
		 "Content-Length: %llu\r\n\r\n",
		 content_length);
	send_all(fd, hdr, strlen(hdr));
	send_all(fd, body, sent);
	if (!hangup) {
		shutdown(fd, SHUT_WR);
		status = read_status(fd, 20000);
	}
	close(fd);
	return status;
}

/* Let the server notice a hangup before the state is compared. */
static void settle(void)
{
	struct timespec ts = {0, 300 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/* ---- the tests ---- */

/* An artifact of exactly max_artifact_bytes is admitted; one byte more in
 * another archive is 413 too_large from the part, with nothing appended. */
static void test_artifact_over_cap(void **state)
{
	struct fx f;
	struct snap s;
	struct reply r;
	char *small, *big, *env_small, *env_big, note[6000];
	size_t small_len = 0, big_len = 0;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	small = fx_make_package(&f, "acme-small", "xdp_tail.bpf.o", "# small\n");
	l3af_free(fx_read_all(small, &small_len));
	/* a README that does not compress away */
	for (size_t i = 0; i + 1 < sizeof(note); i++)
		note[i] = (char)('!' + (i * 7919u + (i >> 3) * 104729u) % 90u);
	note[sizeof(note) - 1] = '\0';
	big = fx_make_package(&f, "acme-big", "xdp_tail.bpf.o", note);
	l3af_free(fx_read_all(big, &big_len));
	assert_true(big_len > small_len);
	/* restart with the small archive's size as the cap */
	fx_server_stop(&f);
	f.cfg.max_artifact_bytes = small_len;
	fx_server_start(&f);
	env_small = fx_sign_package(small, "1.0.0", f.acme);
	env_big = fx_sign_package(big, "1.0.0", f.acme);

	snap_take(&f, &s);
	fx_post_submit(f.h, f.base, env_big, big, &r);
	fx_expect_refusal(&r, 413, "too_large");
	reply_free(&r);
	snap_same(&f, &s, "acme-big");
	/* the server keeps serving: an artifact of exactly the cap is fine */
	assert_int_equal(submit_new(&f, env_small, small), 2);
	assert_int_equal(fx_lookup_one(&f, "acme-small"), 2);
	assert_int_equal(fx_tmp_files(&f), 0);

	l3af_free(env_small), l3af_free(env_big);
	free(small), free(big);
	fx_teardown(&f);
}

/* Half a body then a hangup; a lying Content-Length either way; then the
 * same package submitted properly is a new entry. */
static void test_truncated_bodies(void **state)
{
	struct fx f;
	struct snap s;
	char *pkg, *env, *body;
	size_t len = 0;
	long st;
	/* a body cut inside a part then half-closed is sometimes only closed
	 * at the timeout (libmicrohttpd does not always see the EOF): keep it
	 * short */
	struct api_config cfg = {.timeout_s = 3};

	(void)state;
	fx_setup(&f, &cfg);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-half", "tc_count.bpf.o", "# half\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	body = multipart_body(env, pkg, &len);
	snap_take(&f, &s);

	/* half of the body (inside the artifact part), then a hangup */
	(void)raw_submit(&f, body, len / 2 + strlen(env) / 2, len, true);
	/* all but the closing boundary, then a hangup */
	(void)raw_submit(&f, body, len - 8, len, true);
	/* all but the closing boundary, half-closed: no answer can be right */
	st = raw_submit(&f, body, len - 8, len, false);
	assert_true(st != 200);
	/* Content-Length larger than the body: the complete multipart is sent,
	 * then the client half-closes; the body never ends, nothing is logged */
	st = raw_submit(&f, body, len, len + 100, false);
	assert_true(st != 200);
	/* Content-Length smaller than the body: the server reads a truncated
	 * multipart body (the rest would be the next request) */
	st = raw_submit(&f, body, len, len - 40, false);
	if (st != 400)
		fail_msg("a short Content-Length: want 400, got %ld", st);
	st = raw_submit(&f, body, len, len / 2, false);
	if (st != 400)
		fail_msg("half a Content-Length: want 400, got %ld", st);
	settle();
	snap_same(&f, &s, "acme-half");

	/* the same bytes, honestly framed: admitted as new */
	assert_int_equal(raw_submit(&f, body, len, len, false), 200);
	assert_int_equal(tlog_size(f.log), s.size + 1);
	assert_int_equal(fx_lookup_one(&f, "acme-half"), s.size);
	assert_int_equal(fx_tmp_files(&f), 0);

	free(body);
	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}

/* A chunked upload (no Content-Length) is 411, from curl and raw. */
static void test_chunked(void **state)
{
	struct fx f;
	struct snap s;
	struct reply r;
	struct curl_slist *hs = NULL;
	char *pkg, *env;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-chunk", "xdp_tail.bpf.o", "# chunked\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	snap_take(&f, &s);

	hs = curl_slist_append(hs, "Transfer-Encoding: chunked");
	fx_post_parts(f.h, f.base, env, pkg, NULL, false, hs, NULL, &r);
	curl_slist_free_all(hs);
	fx_expect_refusal(&r, 411, "length_required");
	reply_free(&r);

	/* raw: the headers and the first chunk's size; the answer comes before
	 * any body byte is read (sending the body could then meet a reset) */
	{
		size_t len = 0;
		char *body = multipart_body(env, pkg, &len), hdr[256];
		int fd = fx_connect(&f);

		snprintf(hdr, sizeof(hdr),
			 "POST /v1/submit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Content-Type: multipart/form-data; boundary=" BOUNDARY "\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
			 len);
		send_all(fd, hdr, strlen(hdr));
		assert_int_equal(read_status(fd, 20000), 411);
		close(fd);
		free(body);
	}
	snap_same(&f, &s, "acme-chunk");
	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}

/* ---- slow clients ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct trickler {
	int fd;
	double cut_after; /* seconds until the server closed; < 0: never */
	size_t sent;
};

/* One header byte every 2 s until the server closes (at most 20 s). */
static void *trickle_main(void *arg)
{
	static const char req[] = "POST /v1/submit HTTP/1.1\r\nHost: slow\r\n"
				  "Content-Type: multipart/form-data; boundary=b\r\n";
	struct trickler *t = arg;
	double t0 = now_s();

	t->cut_after = -1;
	while (now_s() - t0 < 20 && t->sent < sizeof(req) - 1) {
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		char c;

		if (send(t->fd, req + t->sent, 1, MSG_NOSIGNAL) != 1)
			break;
		t->sent++;
		/* wait 2 s for the close (EOF or reset), else the next byte */
		if (poll(&p, 1, 2000) == 1 && recv(t->fd, &c, 1, 0) <= 0)
			break;
	}
	if (now_s() - t0 < 20)
		t->cut_after = now_s() - t0;
	return NULL;
}

/* The artifact part before the envelope part: refused (400) at the start of
 * the artifact, so no unauthenticated byte is kept; then the same parts in
 * order are admitted. */
static void test_artifact_before_envelope(void **state)
{
	struct fx f;
	struct snap s;
	struct reply r;
	char *pkg, *env;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-order", "xdp_tail.bpf.o", "# order\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	snap_take(&f, &s);

	fx_post_parts(f.h, f.base, env, pkg, NULL, true, NULL, NULL, &r);
	fx_expect_refusal(&r, 400, "bad_request");
	assert_non_null(strstr((const char *)r.body, "envelope part must come before"));
	reply_free(&r);
	snap_same(&f, &s, "acme-order");
	assert_int_equal(fx_tmp_files(&f), 0);

	submit_new(&f, env, pkg);
	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}

static void test_slow_clients_while_submitting(void **state)
{
	enum { SLOW = 4, PKGS = 3 };
	struct fx f;
	struct api_config cfg = {.timeout_s = 2};
	struct trickler tr[SLOW];
	pthread_t th[SLOW];
	char *pkg[PKGS], *env[PKGS], name[32];
	uint64_t idx[PKGS];

	(void)state;
	fx_setup(&f, &cfg);
	fx_register(&f, "acme", "acme-*", f.acme);
	for (int i = 0; i < PKGS; i++) {
		snprintf(name, sizeof(name), "acme-n%d", i);
		pkg[i] = fx_make_package(&f, name, i % 2 ? "tc_count.bpf.o" : "xdp_tail.bpf.o",
					 name);
		env[i] = fx_sign_package(pkg[i], "1.0.0", f.acme);
	}
	for (int i = 0; i < SLOW; i++) {
		tr[i] = (struct trickler){.fd = fx_connect(&f)};
		assert_int_equal(pthread_create(&th[i], NULL, trickle_main, &tr[i]), 0);
	}
	/* normal submissions, spread over the time the tricklers live */
	for (int i = 0; i < PKGS; i++) {
		struct timespec ts = {1, 0};
		CURL *h = curl_easy_init();

		idx[i] = 0;
		{
			struct reply r;
			json_t *j;
			fx_post_submit(h, f.base, env[i], pkg[i], &r);
			if (r.status != 200)
				fail_msg("submit %d beside slow clients: %ld %s", i, r.status,
					 r.body);
			j = fx_reply_json(&r);
			idx[i] = (uint64_t)json_integer_value(json_object_get(j, "index"));
			json_decref(j);
			reply_free(&r);
		}
		curl_easy_cleanup(h);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < SLOW; i++) {
		pthread_join(th[i], NULL);
		close(tr[i].fd);
		if (tr[i].cut_after < 0 || tr[i].cut_after > 8.0)
			fail_msg("slow client %d: cut after %.1f s (sent %zu bytes)", i,
				 tr[i].cut_after, tr[i].sent);
		/* it could not have been cut before the 2 s timeout */
		assert_true(tr[i].cut_after >= 1.9);
	}
	for (int i = 0; i < PKGS; i++) {
		snprintf(name, sizeof(name), "acme-n%d", i);
		assert_int_equal(fx_lookup_one(&f, name), idx[i]);
		l3af_free(env[i]);
		free(pkg[i]);
	}
	assert_int_equal(tlog_size(f.log), 2 + PKGS);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_artifact_over_cap),
		cmocka_unit_test(test_truncated_bodies),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_artifact_before_envelope),
		cmocka_unit_test(test_slow_clients_while_submitting),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
