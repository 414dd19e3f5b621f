/*
 * test_submit_harden2.c - POST /v1/submit and /v1/admin at their limits and
 * with a failing log (docs/api.md "Limits"; moved out of
 * test_submit_harden.c, tests 4 to 6): uploads in progress and spooled
 * bytes are bounded, a publisher.keys entry the log refuses (a real full
 * file system) wakes every waiter and leaves the server stoppable, and
 * internal error text stays in the diagnostics.
 */
#include "testutil.h"
#include "httputil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "submit_fixture.h"

static char *big_note(size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc(n + 1);
	FILE *r = fopen("/dev/urandom", "rb");

	assert_non_null(s);
	assert_non_null(r);
	assert_int_equal(fread(s, 1, n, r), n);
	fclose(r);
	for (size_t i = 0; i < n; i++)
		s[i] = (i % 77 == 76) ? '\n' : abc[(unsigned char)s[i] & 63];
	s[n] = '\0';
	return s;
}

/* 4. The spool cap: a large upload that would exceed max_spool_bytes is 503
 * busy; a forged one is refused on its signature before it spools; a
 * small one still goes through. With room for one at a time, large uploads
 * in sequence give their reservation back. */
static void test_spool_cap(void **state)
{
	struct api_config cfg = {.max_spool_bytes = 256 * 1024};
	struct fx f;
	struct reply r;
	char *note = big_note(600 * 1024), *big, *small, *env_big, *env_forged, *env_small;
	size_t len = 0;

	(void)state;
	fx_setup(&f, &cfg);
	fx_register(&f, "acme", "acme-*", f.acme);
	big = fx_make_package(&f, "acme-big", "xdp_tail.bpf.o", note);
	l3af_free(fx_read_all(big, &len));
	assert_true(len > 300 * 1024);
	small = fx_make_package(&f, "acme-small", "xdp_tail.bpf.o", "small\n");
	env_big = fx_sign_package(big, "1.0.0", f.acme);
	env_forged = fx_sign_package(big, "1.0.0", f.other);
	env_small = fx_sign_package(small, "1.0.0", f.acme);
	fx_post_submit(f.h, f.base, env_big, big, &r);
	fx_expect_refusal(&r, 503, "busy");
	reply_free(&r);
	fx_post_submit(f.h, f.base, env_forged, big, &r);
	fx_expect_refusal(&r, 403, "signature");
	reply_free(&r);
	fx_post_submit(f.h, f.base, env_small, small, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	fx_server_stop(&f);
	f.cfg.max_spool_bytes = len + 128 * 1024; /* one at a time */
	fx_server_start(&f);
	for (int i = 0; i < 3; i++) {
		fx_post_submit(f.h, f.base, env_big, big, &r);
		if (r.status != 200)
			fail_msg("big upload %d: %ld %s", i, r.status, r.body);
		reply_free(&r);
	}
	assert_int_equal(fx_tmp_files(&f), 0);
	l3af_free(env_big);
	l3af_free(env_forged);
	l3af_free(env_small);
	free(big);
	free(small);
	free(note);
	fx_teardown(&f);
}

/* 5. max_uploads: with one submission in progress (a client that sent its
 * headers and part of its body), the next is 503 busy with Retry-After;
 * once it is gone, submissions go through again. */
static void test_max_uploads(void **state)
{
	struct api_config cfg = {.max_uploads = 1};
	struct fx f;
	struct reply r;
	char *pkg, *env, hdrs[FX_HEADERS_BYTES] = "", req[512];
	int fd;

	(void)state;
	fx_setup(&f, &cfg);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-slot", "xdp_tail.bpf.o", "slot\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	fd = fx_connect(&f);
	snprintf(req, sizeof(req),
		 "POST /v1/submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
		 "boundary=XyZ\r\nContent-Length: 100000\r\n\r\n--XyZ\r\n");
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	usleep(300 * 1000);

	fx_post_parts(f.h, f.base, env, pkg, NULL, false, NULL, hdrs, &r);
	fx_expect_refusal(&r, 503, "busy");
	if (!strstr(hdrs, "Retry-After: 1"))
		fail_msg("no Retry-After in: %s", hdrs);
	reply_free(&r);

	close(fd);
	for (int i = 0; i < 40; i++) {
		fx_post_submit(f.h, f.base, env, pkg, &r);
		if (r.status == 200)
			break;
		reply_free(&r);
		usleep(50 * 1000);
	}
	assert_int_equal(r.status, 200);
	reply_free(&r);
	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}

/* ---- a log on a small tmpfs, filled up: the log refuses the entry ---- */

struct waiter {
	const char *base, *env, *pkg;
	long status;
	char body[512];
	double seconds;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *submit_thread(void *arg)
{
	struct waiter *w = arg;
	CURL *h = curl_easy_init();
	struct reply r;
	double t0 = now_s();

	fx_post_submit(h, w->base, w->env, w->pkg, &r);
	w->seconds = now_s() - t0;
	w->status = r.status;
	snprintf(w->body, sizeof(w->body), "%s", r.body ? (const char *)r.body : "");
	reply_free(&r);
	curl_easy_cleanup(h);
	return NULL;
}

static void fill_up(const char *dir)
{
	char path[512], buf[4096];
	int fd;

	memset(buf, 'x', sizeof(buf));
	snprintf(path, sizeof(path), "%s/filler", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	while (write(fd, buf, sizeof(buf)) > 0)
		;
	while (write(fd, buf, 1) > 0)
		;
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "test_submit_harden: timed out (a request or stop hangs)\n";
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* 6. A publisher.keys entry the log refuses (a full file system): the update
 * is refused, the key set in force stays the old one, submissions waiting
 * for it (and later ones) get 503 at once, the server stops; the refusals
 * carry no storage detail. */
static void test_keys_append_fails(void **state)
{
	struct fx f;
	struct reply r;
	struct l3af_err err = {0};
	char *pkg, *env, *env_new, *upd, cmd[1024], saved[512], filler[600];
	struct waiter w[4];
	pthread_t th[4];
	double t0;
	uint64_t size;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	fx_server_stop(&f);
	/* move the log onto a 24 MiB tmpfs mounted at its own directory */
	snprintf(saved, sizeof(saved), "%s/saved", f.work);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", f.dir, saved);
	assert_int_equal(system(cmd), 0);
	if (mount("tmpfs", f.dir, "tmpfs", 0, "size=24m,mode=0700") != 0) {
		tu_rmtree(strdup(saved));
		fx_teardown(&f);
		skip();
	}
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", saved, f.dir);
	assert_int_equal(system(cmd), 0);
	fx_server_start(&f);
	pkg = fx_make_package(&f, "acme-full", "xdp_tail.bpf.o", "full\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	env_new = fx_sign_package(pkg, "1.0.0", f.other);
	upd = fx_admin_request(f.admin, "publisher.update", "acme", 2, "acme-*", f.other);
	size = fx_log_size(&f);
	fill_up(f.dir);
	signal(SIGALRM, on_alarm);
	alarm(60);

	/* the update is refused by the log; submissions signed with its new
	 * key would wait for it forever if its key set stayed pending */
	fx_post_json(f.h, f.base, "/v1/admin", upd, "application/json", &r);
	if (r.status == 200)
		fail_msg("the update was logged on a full file system: %s", r.body);
	fx_expect_refusal(&r, 503, "unavailable");
	if (strstr((const char *)r.body, f.dir) || strstr((const char *)r.body, "full") ||
	    strstr((const char *)r.body, "sqlite") || strstr((const char *)r.body, "index.db"))
		fail_msg("internal detail sent to the client: %s", r.body);
	reply_free(&r);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){.base = f.base, .env = i % 2 ? env : env_new, .pkg = pkg};
		assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (w[i].status != 503 || w[i].seconds > 10)
			fail_msg("submission %d: %ld after %.1f s: %s", i, w[i].status,
				 w[i].seconds, w[i].body);
		if (strstr(w[i].body, f.dir) || strstr(w[i].body, "full"))
			fail_msg("internal detail sent to the client: %s", w[i].body);
	}
	/* later submissions and admin requests: 503 at once, no detail */
	t0 = now_s();
	fx_post_submit(f.h, f.base, env, pkg, &r);
	if (r.status == 200)
		fail_msg("a submission was admitted after the log failed");
	assert_int_equal(r.status, 503);
	assert_true(now_s() - t0 < 10);
	reply_free(&r);
	l3af_free(upd);
	upd = fx_admin_request(f.admin, "publisher.register", "late", 1, "late-*", f.other);
	fx_post_json(f.h, f.base, "/v1/admin", upd, "application/json", &r);
	assert_int_equal(r.status, 503);
	if (strstr((const char *)r.body, f.dir) || strstr((const char *)r.body, "full") ||
	    strstr((const char *)r.body, "disk"))
		fail_msg("internal detail sent to the client: %s", r.body);
	reply_free(&r);
	t0 = now_s();
	fx_server_stop(&f);
	assert_true(now_s() - t0 < 20);
	alarm(0);
	/* the log is whole and still holds version 1 only */
	snprintf(filler, sizeof(filler), "%s/filler", f.dir);
	assert_int_equal(unlink(filler), 0);
	if (tlog_fsck(f.dir, NULL, NULL, &err) != L3AF_OK)
		fail_msg("tlog_fsck: %s", err.msg);
	fx_server_start(&f);
	assert_int_equal(fx_log_size(&f), size);
	fx_get_ok(&f, "/v1/publishers/acme", &r);
	assert_null(strstr((const char *)r.body, "\"version\":2"));
	reply_free(&r);
	fx_server_stop(&f);
	/* back to a plain directory for fx_teardown */
	tu_rmtree(strdup(saved));
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", f.dir, saved);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(umount(f.dir), 0);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", saved, f.dir);
	assert_int_equal(system(cmd), 0);
	tu_rmtree(strdup(saved));
	l3af_free(upd);
	l3af_free(env);
	l3af_free(env_new);
	free(pkg);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spool_cap),
		cmocka_unit_test(test_max_uploads),
		cmocka_unit_test(test_keys_append_fails),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
