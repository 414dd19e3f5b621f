/*
 * test_tlogd.c - the l3af-tlogd binary end to end: fork/exec the built
 * program on a fresh data directory, talk to it with libcurl, check its exit
 * codes, messages and signal handling. Every wait is bounded; children still
 * running when a test fails are killed in teardown.
 */
#include "testutil.h"

#include "httputil.h"
#include "tlogd_child.h"

/* ---- usage ------------------------------------------------------------------ */

static void test_help(void **state)
{
	static const char *const args[] = {"--help", NULL};
	static const char *const wants[] = {"Usage: l3af-tlogd", "--data DIR", "--listen",
					     "127.0.0.1:8080", "--origin", "--threads",
					     "Example", "Exit status", "log.vkey", "--config",
					     "admin.key", "--export-dir", "--log-format"};
	struct child c;

	(void)state;
	spawn(&c, args);
	assert_int_equal(child_wait(&c, 5000), 0);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		if (!strstr(c.out, wants[i]))
			fail_msg("--help does not mention '%s':\n%s", wants[i], c.out);
}

static void test_usage_errors(void **state)
{
	char *dir = tu_tempdir("tlogd-usage");
	char data[4096];
	const struct {
		const char *args[8];
		const char *say;
	} cases[] = {
		{{"--bogus", NULL}, "unknown option"},
		{{NULL}, "--data DIR is required"},
		{{"--data", NULL}, "needs a value"},
		{{"--data", data, "extra", NULL}, "unexpected argument"},
		{{"--data", data, "--listen", "1.2.3.4", NULL}, "--listen"},
		{{"--data", data, "--listen", "127.0.0.1:70000", NULL}, "--listen"},
		{{"--data", data, "--threads", "0", NULL}, "--threads"},
		{{"--data", data, "--threads", "65", NULL}, "--threads"},
		{{"--data", data, "--origin", "has space", NULL}, "--origin"},
		{{"--data", data, "--threads", "1", "--threads", "2", NULL}, "given twice"},
		{{"--data", data, "--log-format", "xml", NULL}, "--log-format"},
		{{"--data", data, "--export-interval-ms", "0", NULL}, "--export-interval-ms"},
		{{"--data", data, "--config", "/nonexistent/l3af.conf", NULL}, "/nonexistent"},
	};

	(void)state;
	snprintf(data, sizeof(data), "%s/data", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct child c;
		spawn(&c, cases[i].args);
		int code = child_wait(&c, 5000);
		if (code != 2 || !strstr(c.err, cases[i].say) || !strstr(c.err, "--help"))
			fail_msg("case %zu: exit %d, stderr:\n%s", i, code, c.err);
		/* A usage error touches nothing. */
		assert_false(tlog_exists(data));
	}
	tu_rmtree(dir);
}

/* ---- a server's life ---------------------------------------------------------- */

static void test_lifecycle(void **state)
{
	char *tmp = tu_tempdir("tlogd");
	char data[4096], listen[64], vkey[4200];
	struct child a, b, c, d;
	char *cp1, *cp2, *cp3;
	size_t len1, len2, len3;
	unsigned port;
	struct stat st;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(vkey, sizeof(vkey), "%s/log.vkey", data);

	/* First start: creates the log (default origin, with a notice). */
	spawn(&a, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", NULL});
	port = wait_ready(&a);
	assert_non_null(strstr(a.err, "notice"));
	assert_non_null(strstr(a.err, "--origin"));
	assert_non_null(strstr(a.err, vkey));
	assert_non_null(strstr(a.err, "l3af-tlog.local/log"));
	assert_int_equal(stat(vkey, &st), 0);
	cp1 = fetch_checkpoint(port, &len1);
	/* The new log holds its genesis entry (test_tlogd_ops.c checks it). */
	assert_int_equal(verify_checkpoint(data, cp1, len1), 1);

	/* A second writer on the same DIR is refused; so is a wrong origin. */
	spawn(&b, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", NULL});
	assert_int_equal(child_wait(&b, 10000), 1);
	if (!strstr(b.err, "in use"))
		fail_msg("second instance stderr:\n%s", b.err);

	/* SIGTERM: clean exit. */
	assert_int_equal(stop_with(&a, SIGTERM), 0);
	assert_non_null(strstr(a.err, "SIGTERM"));

	/* Restart on the same DIR and port: the same checkpoint. A wrong
	 * --origin is refused first. */
	spawn(&c, (const char *const[]){"--data", data, "--origin", "other.example/log", NULL});
	assert_int_equal(child_wait(&c, 10000), 2);
	if (!strstr(c.err, "does not match"))
		fail_msg("wrong origin stderr:\n%s", c.err);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	spawn(&d, (const char *const[]){"--data", data, "--listen", listen, "--origin",
					"l3af-tlog.local/log", "--threads", "1", NULL});
	assert_int_equal(wait_ready(&d), port);
	assert_null(strstr(d.err, "notice"));
	cp2 = fetch_checkpoint(port, &len2);
	assert_int_equal(len2, len1);
	assert_memory_equal(cp2, cp1, len1);
	/* Two entries through the write API (signed with DIR/admin.key). */
	admin_register(port, data, "l3af-tlog.local/log", 1);
	admin_register(port, data, "l3af-tlog.local/log", 2);
	assert_int_equal(stop_with(&d, SIGINT), 0);
	assert_non_null(strstr(d.err, "appended=2 size=3"));

	/* They are served after the next start. */
	spawn(&d, (const char *const[]){"--data", data, "--listen", listen, NULL});
	wait_ready(&d);
	assert_non_null(strstr(d.err, "size=3 "));
	cp3 = fetch_checkpoint(port, &len3);
	assert_int_equal(verify_checkpoint(data, cp3, len3), 3);
	assert_int_equal(stop_with(&d, SIGTERM), 0);

	free(cp1);
	free(cp2);
	free(cp3);
	tu_rmtree(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_help, teardown_children),
		cmocka_unit_test_teardown(test_usage_errors, teardown_children),
		cmocka_unit_test_teardown(test_lifecycle, teardown_children),
	};

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
