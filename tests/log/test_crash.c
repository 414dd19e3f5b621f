/*
 * test_crash.c - crash safety (shared/research monitor-keys-reliability C.3,
 * D1-D4, D6-D7). A child process appends batches and reports each
 * acknowledgement (index and entry id) and each checkpoint it was given over
 * a pipe; the parent kills it with SIGKILL at a random moment, many times.
 * After every kill the parent reopens the log (the start-up check must pass)
 * and checks the oracle: every acknowledged entry is present byte-identical
 * at its index, an entry acknowledged twice has one index, and every
 * checkpoint ever returned is consistent with the current tree. At the end
 * fsck must find nothing wrong.
 *
 * L3AF_CRASH_ITERATIONS sets the number of kills (default 40).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "signer.h"
#include "tlog_internal.h" /* white box: tlog_dedup_generation */

#define MAX_ACKS 400000
#define MAX_CPS 20000

struct oracle {
	uint64_t ack_index[MAX_ACKS]; /* by entry id; UINT64_MAX = not acknowledged */
	struct tlog_checkpoint cps[MAX_CPS];
	size_t ncps;
	uint64_t next_id;
};

static struct oracle *oracle;

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w, n -= (size_t)w;
	}
	return 0;
}

/* Child: append batches of entries [first_id, ...), some of them repeats of
 * earlier ids, and report after each acknowledged batch:
 *   u32 n | n x (u64 id, u64 index) | u32 note_len | note */
static void child(const char *dir, uint64_t first_id, unsigned seed, int fd)
{
	struct tlog *log = NULL;
	struct tlog_entry e[300];
	uint8_t bufs[300][256];
	uint64_t ids[300], idx[300], next = first_id;

	srand(seed);
	/* Small dedup generations, so kills land in every phase of a flush. */
	tlog_dedup_generation = 700;
	if (tlog_open(dir, TLOG_OPEN_WRITER, &log, NULL) != L3AF_OK)
		_exit(3);
	for (;;) {
		uint32_t n = 1 + (uint32_t)(rand() % 300), note_len32;
		for (uint32_t i = 0; i < n; i++) {
			/* One in ten is a repeat of an earlier entry (a retry). */
			ids[i] = (next > 0 && rand() % 10 == 0) ? (uint64_t)rand() % next : next++;
			e[i] = (struct tlog_entry){bufs[i], tu_entry(ids[i], bufs[i])};
		}
		if (tlog_append(log, e, n, idx, NULL) != L3AF_OK)
			_exit(4);
		char *note = NULL;
		size_t note_len = 0;
		if (tlog_checkpoint_get(log, &note, &note_len, NULL) != L3AF_OK)
			_exit(5);
		/* One record per write: a kill leaves whole records or a tail. */
		uint8_t rec[4 + 300 * 16 + 4 + 4096];
		size_t off = 0;
		memcpy(rec, &n, 4), off = 4;
		for (uint32_t i = 0; i < n; i++) {
			memcpy(rec + off, &ids[i], 8), memcpy(rec + off + 8, &idx[i], 8);
			off += 16;
		}
		note_len32 = (uint32_t)note_len;
		memcpy(rec + off, &note_len32, 4), off += 4;
		memcpy(rec + off, note, note_len), off += note_len;
		l3af_free(note);
		if (write_all(fd, rec, off) != 0)
			_exit(6);
	}
}

/* Parse whole records out of buf; returns bytes consumed. */
static size_t take_records(const uint8_t *buf, size_t len, const struct signer_vkey *vk)
{
	size_t pos = 0;

	for (;;) {
		uint32_t n, note_len;
		if (len - pos < 4)
			return pos;
		memcpy(&n, buf + pos, 4);
		if (len - pos < 4 + (size_t)n * 16 + 4)
			return pos;
		memcpy(&note_len, buf + pos + 4 + (size_t)n * 16, 4);
		size_t rec = 4 + (size_t)n * 16 + 4 + note_len;
		if (len - pos < rec)
			return pos;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t id, index;
			memcpy(&id, buf + pos + 4 + i * 16, 8);
			memcpy(&index, buf + pos + 4 + i * 16 + 8, 8);
			assert_true(id < MAX_ACKS);
			/* D6: an entry acknowledged twice has one index. */
			if (oracle->ack_index[id] != UINT64_MAX)
				assert_int_equal(oracle->ack_index[id], index);
			oracle->ack_index[id] = index;
			if (id >= oracle->next_id)
				oracle->next_id = id + 1;
		}
		const char *note = (const char *)buf + pos + 4 + (size_t)n * 16 + 4;
		struct signer_note_result res;
		assert_int_equal(signer_note_open(note, note_len, vk, 1, &res, NULL), L3AF_OK);
		assert_true(oracle->ncps < MAX_CPS);
		assert_int_equal(tlog_checkpoint_parse(note, res.text_len,
						       &oracle->cps[oracle->ncps++], NULL),
				 L3AF_OK);
		pos += rec;
	}
}

/* Run one child until the kill; collect what it acknowledged. */
static void one_crash(const char *dir, const struct signer_vkey *vk, unsigned seed)
{
	static uint8_t buf[1 << 20];
	size_t have = 0;
	int fds[2];
	pid_t pid;
	uint64_t kill_at = l3af_now_ns() + (uint64_t)(5 + rand() % 150) * 1000000u;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(dir, oracle->next_id + 1000, seed, fds[1]);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	for (int killed = 0;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		if (!killed && l3af_now_ns() >= kill_at) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		poll(&p, 1, 5);
		ssize_t r = read(fds[0], buf + have, sizeof(buf) - have);
		if (r > 0) {
			have += (size_t)r;
			size_t used = take_records(buf, have, vk);
			memmove(buf, buf + used, have - used);
			have -= used;
		} else if (r == 0) {
			break;
		}
	}
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fds[0]);
}

/* D1, D3, D4: check the reopened log against everything acknowledged. */
static void check_oracle(const char *dir)
{
	struct tlog *log = NULL;
	struct l3af_err err = {0};
	uint8_t proof[TLOG_PROOF_MAX][32], buf[256], root[32];
	size_t n = 0;
	char *note = NULL;
	size_t note_len = 0;

	tlog_dedup_generation = 700;
	if (tlog_open(dir, TLOG_OPEN_WRITER, &log, &err) != L3AF_OK)
		fail_msg("reopen after kill: %s", err.msg);
	uint64_t size = tlog_size(log);
	for (uint64_t id = 0; id < oracle->next_id; id++) {
		uint64_t index = oracle->ack_index[id];
		if (index == UINT64_MAX)
			continue;
		uint8_t *got = NULL;
		size_t len = 0;
		assert_true(index < size);
		assert_int_equal(tlog_entry_read(log, index, &got, &len, NULL), L3AF_OK);
		assert_int_equal(len, tu_entry(id, buf));
		assert_memory_equal(got, buf, len);
		l3af_free(got);
	}
	assert_int_equal(tlog_checkpoint_get(log, &note, &note_len, NULL), L3AF_OK);
	struct tlog_checkpoint now;
	assert_int_equal(tlog_checkpoint_parse(note, strstr(note, "\n\n") - note + 1, &now, NULL),
			 L3AF_OK);
	l3af_free(note);
	memcpy(root, now.root, 32);
	for (size_t i = 0; i < oracle->ncps; i++) {
		const struct tlog_checkpoint *cp = &oracle->cps[i];
		assert_true(cp->size <= size);
		if (cp->size == 0)
			continue;
		assert_int_equal(tlog_prove_consistency(log, cp->size, size, proof, &n, NULL), L3AF_OK);
		assert_int_equal(tlog_consistency_verify(cp->size, size, cp->root, root,
							 (const uint8_t(*)[32])proof, n, NULL),
				 L3AF_OK);
	}
	tlog_close(log);
}

static void fsck_report(void *ctx, const char *line)
{
	fprintf(stderr, "fsck: %s\n", line);
}

static void test_kill_during_appends(void **state)
{
	char *dir = tu_tempdir("crash"), path[4096], *vtext = NULL;
	struct signer_vkey vk;
	size_t vlen = 0;
	int iterations = getenv("L3AF_CRASH_ITERATIONS") ? atoi(getenv("L3AF_CRASH_ITERATIONS")) : 40;
	unsigned seed = (unsigned)time(NULL);

	fprintf(stderr, "crash test: %d kills, seed %u\n", iterations, seed);
	srand(seed);
	oracle = calloc(1, sizeof(*oracle));
	memset(oracle->ack_index, 0xff, sizeof(oracle->ack_index));
	assert_int_equal(tlog_create(dir, "crash.l3af.example", NULL), L3AF_OK);
	snprintf(path, sizeof(path), "%s/log.vkey", dir);
	assert_int_equal(l3af_file_read(path, 4096, &vtext, &vlen, NULL), L3AF_OK);
	assert_int_equal(signer_vkey_parse(vtext, vlen - 1, &vk, NULL), L3AF_OK);
	l3af_free(vtext);
	for (int i = 0; i < iterations && oracle->next_id + 400000 / (iterations + 1) < MAX_ACKS;
	     i++) {
		one_crash(dir, &vk, seed + (unsigned)i);
		check_oracle(dir);
	}
	size_t acked = 0;
	for (uint64_t id = 0; id < oracle->next_id; id++)
		acked += oracle->ack_index[id] != UINT64_MAX;
	fprintf(stderr, "crash test: %zu entries and %zu checkpoints acknowledged\n", acked,
		oracle->ncps);
	assert_true(acked > 0);
	assert_int_equal(tlog_fsck(dir, fsck_report, NULL, NULL), L3AF_OK);
	free(oracle);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_appends),
	};
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
