/*
 * test_damage.c - damaged data directories (monitor-keys-reliability F5,
 * F9): a page of garbage in the database, a truncated WAL, an altered stored
 * checkpoint (bad signature, or validly re-signed over a wrong root), an
 * altered tile, a flipped byte inside an entry, and the wrong log key. In
 * each case the writer's start-up check (where it can see the damage) and
 * fsck name it, and nothing new is signed.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "signer.h"
#include "tlog_internal.h" /* white box: tlog_dedup_generation */

static void fill(const char *dir, uint64_t from, uint64_t to)
{
	struct tlog *log = NULL;
	uint8_t buf[256];
	uint64_t idx;
	struct l3af_err err = {0};

	if (tlog_open(dir, TLOG_OPEN_WRITER, &log, &err) != L3AF_OK)
		fail_msg("open: %s", err.msg);
	for (uint64_t i = from; i < to; i += 100) {
		struct tlog_entry e[100];
		uint8_t bufs[100][256];
		uint64_t ix[100];
		size_t n = 0;
		for (uint64_t k = i; k < to && n < 100; k++, n++)
			e[n] = (struct tlog_entry){bufs[n], tu_entry(k, bufs[n])};
		assert_int_equal(tlog_append(log, e, n, ix, NULL), L3AF_OK);
	}
	(void)buf, (void)idx;
	tlog_close(log);
}

static char *make_log(uint64_t entries)
{
	char *dir = tu_tempdir("damage");

	assert_int_equal(tlog_create(dir, "damage.l3af.example", NULL), L3AF_OK);
	fill(dir, 0, entries);
	return dir;
}

static int64_t sql_int(const char *dir, const char *sql)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/log.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *dir, const char *sql)
{
	char path[4096];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/log.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

struct found {
	char text[8192];
	int lines;
};

static void collect(void *ctx, const char *line)
{
	struct found *f = ctx;

	f->lines++;
	strncat(f->text, line, sizeof(f->text) - strlen(f->text) - 2);
	strcat(f->text, "\n");
}

/* The writer refuses to open, naming `startup_says`; fsck finds `fsck_says`;
 * no checkpoint was added. Either phrase may be NULL (not expected there). */
static void expect_refusal(const char *dir, const char *startup_says, const char *fsck_says)
{
	struct tlog *log = NULL;
	struct l3af_err err = {0};
	struct found f = {{0}, 0};
	int64_t cps = sql_int(dir, "SELECT count(*) FROM checkpoints");

	if (startup_says) {
		assert_int_equal(tlog_open(dir, TLOG_OPEN_WRITER, &log, &err), L3AF_E_CORRUPT);
		if (!strstr(err.msg, startup_says))
			fail_msg("start-up said '%s', expected '%s'", err.msg, startup_says);
	}
	assert_int_equal(tlog_fsck(dir, collect, &f, NULL), L3AF_E_CORRUPT);
	assert_true(f.lines > 0);
	if (fsck_says && !strstr(f.text, fsck_says))
		fail_msg("fsck said:\n%s\nexpected '%s'", f.text, fsck_says);
	if (cps >= 0)
		assert_int_equal(sql_int(dir, "SELECT count(*) FROM checkpoints"), cps);
}

static void test_garbage_page(void **state)
{
	char *dir = make_log(3000), path[4096];
	struct stat st;
	uint8_t junk[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/log.db", dir);
	assert_int_equal(stat(path, &st), 0);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	fd = open(path, O_WRONLY);
	/* A page in the middle of the file: entry or tile data. */
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (st.st_size / 4096 / 2) * 4096), 4096);
	close(fd);
	expect_refusal(dir, "quick_check", "database");
	tu_rmtree(dir);
}

static void test_truncated_wal(void **state)
{
	char *dir = make_log(500), path[4096];
	struct l3af_err err = {0};
	pid_t pid;
	int status;

	/* A writer that dies without a clean close leaves its commits in the
	 * WAL; the published record remembers the last checkpoint served. */
	pid = fork();
	if (pid == 0) {
		struct tlog *log = NULL;
		if (tlog_open(dir, TLOG_OPEN_WRITER, &log, NULL) != L3AF_OK)
			_exit(2);
		for (uint64_t i = 500; i < 2000; i += 100) {
			struct tlog_entry e[100];
			uint8_t bufs[100][256];
			uint64_t ix[100];
			for (int k = 0; k < 100; k++)
				e[k] = (struct tlog_entry){bufs[k], tu_entry(i + (uint64_t)k, bufs[k])};
			if (tlog_append(log, e, 100, ix, NULL) != L3AF_OK)
				_exit(3);
		}
		raise(SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	snprintf(path, sizeof(path), "%s/log.db-wal", dir);
	/* Keep the WAL header and the first frame only. */
	assert_int_equal(truncate(path, 32 + 24 + 4096), 0);
	expect_refusal(dir, "behind the last published checkpoint", "published record");
	(void)err;
	tu_rmtree(dir);
}

static void test_altered_checkpoint_signature(void **state)
{
	char *dir = make_log(700);

	/* Flip one character of the root in the latest stored note. */
	sql_exec(dir, "UPDATE checkpoints SET note = CAST(substr(note, 1, 25) || "
		      "CASE substr(note, 26, 1) WHEN 'A' THEN 'B' ELSE 'A' END || "
		      "substr(note, 27) AS BLOB) WHERE size = (SELECT max(size) FROM checkpoints)");
	expect_refusal(dir, "stored checkpoint", "checkpoint 700");
	tu_rmtree(dir);
}

static void test_resigned_wrong_root(void **state)
{
	char *dir = make_log(700), path[4096], body[256], *note = NULL;
	struct signer_key *key = NULL;
	struct tlog_checkpoint cp = {.size = 700};
	size_t blen = 0, nlen = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	/* Someone holding the key signs a checkpoint over the wrong root. */
	snprintf(path, sizeof(path), "%s/log.key", dir);
	assert_int_equal(signer_key_load(path, &key, NULL), L3AF_OK);
	strcpy(cp.origin, "damage.l3af.example");
	memset(cp.root, 0x42, 32);
	assert_int_equal(tlog_checkpoint_format(&cp, body, sizeof(body), &blen, NULL), L3AF_OK);
	assert_int_equal(signer_note_sign(key, body, blen, 0, &note, &nlen, NULL), L3AF_OK);
	snprintf(path, sizeof(path), "%s/log.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE checkpoints SET note = ? WHERE size = 700",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, note, (int)nlen, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	expect_refusal(dir, "root that differs", "checkpoint 700: root differs");
	signer_key_free(key);
	l3af_free(note);
	tu_rmtree(dir);
}

static void test_altered_tile(void **state)
{
	char *dir = make_log(1000);

	/* The right-edge level-0 tile (tile 3, 232 hashes): flip its first byte. */
	sql_exec(dir, "UPDATE tiles SET hashes = CAST(zeroblob(1) || substr(hashes, 2) AS BLOB) "
		      "WHERE id = 3");
	expect_refusal(dir, "root that differs", "tile 0/3");
	tu_rmtree(dir);
}

static void test_flipped_entry_byte(void **state)
{
	char *dir = make_log(1000);

	/* Entry 5 lies in a full tile far from the right edge: the start-up
	 * check does not read it, fsck does. */
	sql_exec(dir, "UPDATE entries SET data = CAST(replace(CAST(data AS TEXT), '\"entry\":5,', "
		      "'\"entry\":6,') AS BLOB) WHERE idx = 5");
	expect_refusal(dir, NULL, "tile 0/0");
	tu_rmtree(dir);
}

static void test_dedup_row_lost(void **state)
{
	char *dir = tu_tempdir("damage");

	/* Small generations, so that complete runs exist; then lose a row. */
	tlog_dedup_generation = 64;
	assert_int_equal(tlog_create(dir, "damage.l3af.example", NULL), L3AF_OK);
	fill(dir, 0, 1000);
	tlog_dedup_generation = TLOG_DEDUP_GENERATION;
	assert_true(sql_int(dir, "SELECT value FROM meta WHERE key = 'dedup_upto'") > 100);
	sql_exec(dir, "DELETE FROM dedup WHERE idx = 7");
	expect_refusal(dir, NULL, "dedup: entry 7 has no key");
	tu_rmtree(dir);
}

static void test_published_record_garbage(void **state)
{
	char *dir = make_log(10), path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/published", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a record", 12), 12);
	close(fd);
	expect_refusal(dir, "no valid record", "published record");
	tu_rmtree(dir);
}

static void test_wrong_key(void **state)
{
	char *dir = make_log(10), path[4096];
	struct signer_key *other = NULL;

	snprintf(path, sizeof(path), "%s/log.key", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(signer_key_generate("damage.l3af.example", SIGNER_TYPE_ED25519, &other,
					     NULL),
			 L3AF_OK);
	assert_int_equal(signer_key_save(other, path, NULL), L3AF_OK);
	signer_key_free(other);
	struct tlog *log = NULL;
	struct l3af_err err = {0};
	assert_int_equal(tlog_open(dir, TLOG_OPEN_WRITER, &log, &err), L3AF_E_CORRUPT);
	assert_non_null(strstr(err.msg, "not the key this log was made with"));
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_page),
		cmocka_unit_test(test_truncated_wal),
		cmocka_unit_test(test_altered_checkpoint_signature),
		cmocka_unit_test(test_resigned_wrong_root),
		cmocka_unit_test(test_altered_tile),
		cmocka_unit_test(test_flipped_entry_byte),
		cmocka_unit_test(test_dedup_row_lost),
		cmocka_unit_test(test_published_record_garbage),
		cmocka_unit_test(test_wrong_key),
	};
	return cmocka_run_group_tests_name("damage", tests, NULL, NULL);
}
