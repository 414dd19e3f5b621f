/*
 * test_tlogd.c - the l3af-tlogd binary end to end: fork/exec the built
 * program on a fresh data directory, talk to it with libcurl, check its exit
 * codes, messages and signal handling. Every wait is bounded; children still
 * running when a test fails are killed in teardown.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "httputil.h"
#include "signer.h"

#define TLOGD L3AF_BINARY_DIR "/api/l3af-tlogd"
#define OUT_MAX 16384

struct child {
	pid_t pid;
	int out_fd, err_fd;
	char out[OUT_MAX], err[OUT_MAX];
	size_t out_len, err_len;
	int status; /* exit status once reaped, else -1 */
};

static struct child *live[8]; /* for teardown */

static uint64_t now_ms(void)
{
	return l3af_now_ns() / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void track(struct child *c, bool on)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (on && !live[i]) {
			live[i] = c;
			return;
		}
		if (!on && live[i] == c)
			live[i] = NULL;
	}
}

/* Start TLOGD with args (NULL-terminated); stdout and stderr are captured. */
static void spawn(struct child *c, const char *const *args)
{
	const char *argv[16] = {TLOGD};
	int out[2], err[2];
	size_t n = 1;

	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	memset(c, 0, sizeof(*c));
	c->status = -1;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(TLOGD, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	c->out_fd = out[0];
	c->err_fd = err[0];
	track(c, true);
}

static void drain_fd(int *fd, char *buf, size_t *len)
{
	ssize_t n;

	if (*fd < 0)
		return;
	n = read(*fd, buf + *len, OUT_MAX - 1 - *len);
	if (n > 0) {
		*len += (size_t)n;
		buf[*len] = '\0';
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(*fd);
		*fd = -1;
	}
}

/* Read what the child wrote, waiting up to wait_ms for something. */
static void child_read(struct child *c, int wait_ms)
{
	struct pollfd p[2] = {{.fd = c->out_fd, .events = POLLIN},
			      {.fd = c->err_fd, .events = POLLIN}};

	if (poll(p, 2, wait_ms) <= 0)
		return;
	if (p[0].revents)
		drain_fd(&c->out_fd, c->out, &c->out_len);
	if (p[1].revents)
		drain_fd(&c->err_fd, c->err, &c->err_len);
}

static bool child_says(struct child *c, const char *needle, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!strstr(c->err, needle) && now_ms() < end && c->err_fd >= 0)
		child_read(c, 100);
	return strstr(c->err, needle) != NULL;
}

/* Exit code within timeout_ms, or -1 (then the child is killed). */
static int child_wait(struct child *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int st;

	while (c->status < 0 && now_ms() < end) {
		pid_t r = waitpid(c->pid, &st, WNOHANG);
		if (r == c->pid)
			c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		else
			child_read(c, 50);
	}
	if (c->status < 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		track(c, false);
		return -1;
	}
	while (c->out_fd >= 0 || c->err_fd >= 0)
		child_read(c, 100);
	track(c, false);
	return c->status;
}

static int teardown_children(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (!live[i])
			continue;
		kill(live[i]->pid, SIGKILL);
		waitpid(live[i]->pid, NULL, 0);
		if (live[i]->out_fd >= 0)
			close(live[i]->out_fd);
		if (live[i]->err_fd >= 0)
			close(live[i]->err_fd);
		live[i] = NULL;
	}
	return 0;
}

/* ---- usage ------------------------------------------------------------------ */

static void test_help(void **state)
{
	static const char *const args[] = {"--help", NULL};
	static const char *const wants[] = {"Usage: l3af-tlogd", "--data DIR", "--listen",
					     "127.0.0.1:8080", "--origin", "--threads",
					     "Example", "Exit status", "log.vkey"};
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

/* Wait for the start-up line; returns the port it names. */
static unsigned wait_ready(struct child *c)
{
	const char *at;
	unsigned port = 0;

	if (!child_says(c, "serving origin", 10000))
		fail_msg("no start-up line; stderr:\n%s", c->err);
	at = strstr(c->err, "http://127.0.0.1:");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "http://127.0.0.1:%u/", &port), 1);
	assert_true(port > 0 && port < 65536);
	return port;
}

/* Poll /checkpoint until it answers 200 (bounded); returns the body. */
static char *fetch_checkpoint(unsigned port, size_t *len)
{
	char base[64];
	CURL *h = curl_easy_init();
	uint64_t end = now_ms() + 10000;
	struct reply r = {0};

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
	for (;;) {
		http_get(h, base, "/checkpoint", &r);
		if (r.status == 200 || now_ms() > end)
			break;
		reply_free(&r);
		sleep_ms(50);
	}
	curl_easy_cleanup(h);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; charset=utf-8");
	*len = r.len;
	return (char *)r.body; /* the caller frees */
}

/* The note verifies under DIR/log.vkey; returns its tree size. */
static uint64_t verify_checkpoint(const char *dir, const char *note, size_t len)
{
	char path[4096];
	char *vkey_text = NULL;
	size_t vkey_len = 0;
	struct signer_vkey vkey;
	struct signer_note_result res;
	struct tlog_checkpoint cp;
	struct l3af_err err = {0};

	snprintf(path, sizeof(path), "%s/log.vkey", dir);
	if (l3af_file_read(path, 4096, &vkey_text, &vkey_len, &err) != L3AF_OK)
		fail_msg("%s", err.msg);
	while (vkey_len > 0 && vkey_text[vkey_len - 1] == '\n')
		vkey_len--;
	if (signer_vkey_parse(vkey_text, vkey_len, &vkey, &err) != L3AF_OK)
		fail_msg("vkey: %s", err.msg);
	if (signer_note_open(note, len, &vkey, 1, &res, &err) != L3AF_OK)
		fail_msg("checkpoint does not verify: %s", err.msg);
	assert_int_equal(res.verified, 1);
	if (tlog_checkpoint_parse(note, res.text_len, &cp, &err) != L3AF_OK)
		fail_msg("checkpoint body: %s", err.msg);
	assert_string_equal(cp.origin, vkey.name);
	l3af_free(vkey_text);
	return cp.size;
}

static int stop_with(struct child *c, int sig)
{
	assert_int_equal(kill(c->pid, sig), 0);
	return child_wait(c, 5000);
}

static void append_entries(const char *dir, uint64_t from, uint64_t n)
{
	struct l3af_err err = {0};
	struct tlog *log = NULL;
	static uint8_t bufs[300][256];
	struct tlog_entry entries[300];
	uint64_t idx[300];

	assert_true(n <= 300);
	if (tlog_open(dir, TLOG_OPEN_WRITER, &log, &err) != L3AF_OK)
		fail_msg("open: %s", err.msg);
	for (uint64_t i = 0; i < n; i++) {
		entries[i].data = bufs[i];
		entries[i].len = tu_entry(from + i, bufs[i]);
	}
	if (tlog_append(log, entries, (size_t)n, idx, &err) != L3AF_OK)
		fail_msg("append: %s", err.msg);
	tlog_close(log);
}

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
	assert_int_equal(verify_checkpoint(data, cp1, len1), 0);

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
	assert_int_equal(stop_with(&d, SIGINT), 0);

	/* Entries appended while stopped are served after the next start. */
	append_entries(data, 0, 300);
	spawn(&d, (const char *const[]){"--data", data, "--listen", listen, NULL});
	wait_ready(&d);
	assert_non_null(strstr(d.err, "size 300"));
	cp3 = fetch_checkpoint(port, &len3);
	assert_int_equal(verify_checkpoint(data, cp3, len3), 300);
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
