/*
 * tlogd_child.h - run the built l3af-tlogd in the api tests (header-only,
 * static): fork/exec with stdout and stderr captured, bounded waits for its
 * output and exit, teardown that kills what a failed test left running, and
 * the checks shared by test_tlogd.c and test_tlogd_ops.c. Include after
 * testutil.h and httputil.h.
 */
#ifndef L3AF_TESTS_TLOGD_CHILD_H
#define L3AF_TESTS_TLOGD_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "signer.h"

#define TLOGD L3AF_BINARY_DIR "/api/l3af-tlogd"
#define OUT_MAX 65536

struct child {
	pid_t pid;
	int out_fd, err_fd;
	char out[OUT_MAX], err[OUT_MAX];
	size_t out_len, err_len;
	int status; /* exit status once reaped, else -1 */
};

static struct child *live[8]; /* for teardown */

static inline uint64_t now_ms(void)
{
	return l3af_now_ns() / 1000000u;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static inline void track(struct child *c, bool on)
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
static inline void spawn(struct child *c, const char *const *args)
{
	const char *argv[32] = {TLOGD};
	int out[2], err[2];
	size_t n = 1;

	for (; args[n - 1] && n < 31; n++)
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

static inline void drain_fd(int *fd, char *buf, size_t *len)
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
static inline void child_read(struct child *c, int wait_ms)
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

static inline bool child_says(struct child *c, const char *needle, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!strstr(c->err, needle) && now_ms() < end && c->err_fd >= 0)
		child_read(c, 100);
	return strstr(c->err, needle) != NULL;
}

/* Exit code within timeout_ms, or -1 (then the child is killed). */
static inline int child_wait(struct child *c, int timeout_ms)
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

static inline int teardown_children(void **state)
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

/* Wait for the start-up line (msg=serving ... url=http://127.0.0.1:PORT/, or
 * its JSON form); returns the port it names. */
static inline unsigned wait_ready(struct child *c)
{
	const char *at;
	unsigned port = 0;

	if (!child_says(c, "http://127.0.0.1:", 10000))
		fail_msg("no start-up line; stderr:\n%s", c->err);
	at = strstr(c->err, "http://127.0.0.1:");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "http://127.0.0.1:%u/", &port), 1);
	assert_true(port > 0 && port < 65536);
	return port;
}

/* Poll /checkpoint until it answers 200 (bounded); returns the body. */
static inline char *fetch_checkpoint(unsigned port, size_t *len)
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
static inline uint64_t verify_checkpoint(const char *dir, const char *note, size_t len)
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

static inline int stop_with(struct child *c, int sig)
{
	assert_int_equal(kill(c->pid, sig), 0);
	return child_wait(c, 5000);
}

static inline void append_entries(const char *dir, uint64_t from, uint64_t n)
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

/* Register publisher "pubN" through POST /v1/admin, signed with DIR/admin.key
 * (the real write path: the entry is published when this returns 200). */
static inline void admin_register(unsigned port, const char *dir, const char *origin, unsigned n)
{
	char path[4200], base[64], *payload = NULL, *env = NULL;
	struct signer_privkey *admin = NULL, *pk = NULL;
	struct signer_admin_request req;
	struct l3af_err err = {0};
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *h = curl_easy_init();
	struct reply r = {0};

	snprintf(path, sizeof(path), "%s/admin.key", dir);
	if (signer_privkey_load(path, &admin, &err) != L3AF_OK)
		fail_msg("admin.key: %s", err.msg);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &pk, &err), L3AF_OK);
	memset(&req, 0, sizeof(req));
	snprintf(req.action, sizeof(req.action), "publisher.register");
	snprintf(req.origin, sizeof(req.origin), "%s", origin);
	for (size_t i = 0; i < sizeof(req.nonce); i++)
		req.nonce[i] = (uint8_t)(rand() ^ (int)(n * 7 + i));
	req.not_before = l3af_wall_s() - 5;
	req.not_after = l3af_wall_s() + 300;
	snprintf(req.params.publisher, sizeof(req.params.publisher), "pub%u", n);
	req.params.version = 1;
	req.params.nnamespaces = 1;
	snprintf(req.params.namespaces[0], sizeof(req.params.namespaces[0]), "pub%u-*", n);
	req.params.threshold = 1;
	req.params.nkeys = 1;
	req.params.keys[0] = *signer_privkey_pubkey(pk);
	if (signer_admin_request_build(&req, &payload, &err) != L3AF_OK ||
	    signer_dsse_sign(admin, SIGNER_ADMIN_PAYLOAD_TYPE, (const uint8_t *)payload,
			     strlen(payload), &env, &err) != L3AF_OK)
		fail_msg("admin request: %s", err.msg);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	http_do(h, base, "POST", "/v1/admin", env, &r);
	if (r.status != 200)
		fail_msg("POST /v1/admin: %ld %s", r.status, r.body ? (char *)r.body : "");
	reply_free(&r);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	l3af_free(payload);
	l3af_free(env);
	signer_privkey_free(pk);
	signer_privkey_free(admin);
}

#endif
