/*
 * test_storage.c - the stored log against a real SQLite file: create/open,
 * the one-writer lock, tiles and entry bundles at every size around tile
 * boundaries compared with a naive recomputation, proofs from storage,
 * deduplication, failed batches that change nothing, reopening, fsck and
 * export.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "signer.h"
#include "tlog_internal.h" /* white box: tlog_dedup_generation */

typedef uint8_t hash_t[TLOG_HASH_BYTES];

struct fixture {
	char *dir;
	struct tlog *log;
	hash_t *leaves; /* leaf hash of every appended entry */
	uint64_t size;
};

#define MAX_ENTRIES 70000

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct l3af_err err = {0};

	f->dir = tu_tempdir("storage");
	f->leaves = calloc(MAX_ENTRIES, sizeof(hash_t));
	if (tlog_create(f->dir, "test.l3af.example/log", &err) != L3AF_OK ||
	    tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err) != L3AF_OK) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tlog_close(f->log);
	tu_rmtree(f->dir);
	free(f->leaves);
	free(f);
	return 0;
}

/* Append entries [from, to) in one batch. */
static void append_range(struct fixture *f, uint64_t from, uint64_t to)
{
	size_t n = (size_t)(to - from);
	struct tlog_entry *e = calloc(n, sizeof(*e));
	uint8_t(*bufs)[256] = calloc(n, 256);
	uint64_t *idx = calloc(n, sizeof(*idx));
	struct l3af_err err = {0};

	for (size_t i = 0; i < n; i++) {
		e[i].data = bufs[i];
		e[i].len = tu_entry(from + i, bufs[i]);
		tlog_hash_leaf(e[i].data, e[i].len, f->leaves[from + i]);
	}
	if (tlog_append(f->log, e, n, idx, &err) != L3AF_OK)
		fail_msg("append: %s", err.msg);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(idx[i], from + i);
	f->size = to;
	free(e), free(bufs), free(idx);
}

static void checkpoint_of(struct fixture *f, struct tlog_checkpoint *cp)
{
	struct signer_vkey vk;
	struct signer_note_result res;
	char path[4096], *vtext = NULL, *note = NULL;
	size_t vlen = 0, nlen = 0;

	snprintf(path, sizeof(path), "%s/log.vkey", f->dir);
	assert_int_equal(l3af_file_read(path, 4096, &vtext, &vlen, NULL), L3AF_OK);
	while (vlen && vtext[vlen - 1] == '\n')
		vlen--;
	assert_int_equal(signer_vkey_parse(vtext, vlen, &vk, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_get(f->log, &note, &nlen, NULL), L3AF_OK);
	assert_int_equal(signer_note_open(note, nlen, &vk, 1, &res, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_parse(note, res.text_len, cp, NULL), L3AF_OK);
	l3af_free(vtext), l3af_free(note);
}

/* Naive tile: hash i of tile (level, n) = MTH of the 256^level leaves under it. */
static void naive_tile(struct fixture *f, int level, uint64_t n, unsigned width, hash_t *out)
{
	uint64_t span = 1;

	for (int l = 0; l < level; l++)
		span *= TLOG_TILE_WIDTH;
	for (unsigned i = 0; i < width; i++)
		tu_naive_mth((const uint8_t(*)[32])f->leaves + (n * TLOG_TILE_WIDTH + i) * span,
			     span, out[i]);
}

static void check_hash_tile(struct fixture *f, int level, uint64_t n, unsigned width)
{
	struct tlog_tile_id id = {.level = level, .n = n, .width = width};
	hash_t want[TLOG_TILE_WIDTH];
	uint8_t *got = NULL;
	size_t len = 0;
	struct l3af_err err = {0};

	if (tlog_tile_read(f->log, &id, &got, &len, &err) != L3AF_OK)
		fail_msg("tile %d/%llu.p/%u at size %llu: %s", level, (unsigned long long)n, width,
			 (unsigned long long)f->size, err.msg);
	naive_tile(f, level, n, width, want);
	assert_int_equal(len, width * 32);
	assert_memory_equal(got, want, len);
	l3af_free(got);
}

static void check_bundle(struct fixture *f, uint64_t n, unsigned width)
{
	struct tlog_tile_id id = {.level = TLOG_TILE_ENTRIES, .n = n, .width = width};
	uint8_t *got = NULL, buf[256];
	size_t len = 0, pos = 0;

	assert_int_equal(tlog_tile_read(f->log, &id, &got, &len, NULL), L3AF_OK);
	for (unsigned i = 0; i < width; i++) {
		size_t elen = tu_entry(n * TLOG_TILE_WIDTH + i, buf);
		assert_true(pos + 2 + elen <= len);
		assert_int_equal(got[pos] << 8 | got[pos + 1], elen);
		assert_memory_equal(got + pos + 2, buf, elen);
		pos += 2 + elen;
	}
	assert_int_equal(pos, len);
	l3af_free(got);
}

/* Every tile and bundle the current size implies, plus a narrower prefix of
 * each partial tile, and one tile past the end (absent). */
static void check_all_tiles(struct fixture *f)
{
	struct tlog_tile_id past = {.level = 0, .n = f->size / 256 + 1, .width = 256};
	uint8_t *none = NULL;
	size_t len;

	for (int level = TLOG_TILE_ENTRIES; level < 3; level++) {
		for (uint64_t n = 0;; n++) {
			unsigned w = tlog_tile_width_at(level, n, f->size);
			if (w == 0)
				break;
			if (level == TLOG_TILE_ENTRIES)
				check_bundle(f, n, w);
			else
				check_hash_tile(f, level, n, w);
			if (w < 256 && w > 1 && level >= 0)
				check_hash_tile(f, level, n, w - 1);
		}
	}
	assert_int_equal(tlog_tile_read(f->log, &past, &none, &len, NULL), L3AF_E_NOTFOUND);
}

static void check_root_and_proofs(struct fixture *f, uint64_t prev_size, const uint8_t *prev_root)
{
	struct tlog_checkpoint cp;
	uint8_t root[32], proof[TLOG_PROOF_MAX][32];
	size_t n = 0;

	checkpoint_of(f, &cp);
	assert_int_equal(cp.size, f->size);
	tu_naive_mth((const uint8_t(*)[32])f->leaves, f->size, root);
	assert_memory_equal(cp.root, root, 32);
	for (uint64_t k = 0; k < 5 && f->size; k++) {
		uint64_t i = (f->size * k / 5 + k) % f->size;
		assert_int_equal(tlog_prove_inclusion(f->log, i, f->size, proof, &n, NULL), L3AF_OK);
		assert_int_equal(tlog_inclusion_verify(i, f->size, f->leaves[i],
						       (const uint8_t(*)[32])proof, n, cp.root, NULL),
				 L3AF_OK);
	}
	if (prev_size && prev_size <= f->size) {
		assert_int_equal(tlog_prove_consistency(f->log, prev_size, f->size, proof, &n, NULL),
				 L3AF_OK);
		assert_int_equal(tlog_consistency_verify(prev_size, f->size, prev_root, cp.root,
							 (const uint8_t(*)[32])proof, n, NULL),
				 L3AF_OK);
	}
}

static void test_empty_log(void **state)
{
	struct fixture *f = *state;
	struct tlog_checkpoint cp;
	uint8_t empty[32];
	struct stat st;
	char path[4096];

	checkpoint_of(f, &cp);
	tlog_hash_empty(empty);
	assert_int_equal(cp.size, 0);
	assert_memory_equal(cp.root, empty, 32);
	assert_string_equal(cp.origin, "test.l3af.example/log");
	snprintf(path, sizeof(path), "%s/log.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_tiles_around_boundaries(void **state)
{
	struct fixture *f = *state;
	static const uint64_t sizes[] = {1, 2, 255, 256, 257, 511, 512, 513, 1000, 65535,
					 65536, 65537, 65792, 65793, 66000};
	uint64_t prev = 0;
	uint8_t prev_root[32] = {0};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Grow in batches of at most 5000, as a busy server would. */
		while (f->size < sizes[i])
			append_range(f, f->size,
				     sizes[i] - f->size > 5000 ? f->size + 5000 : sizes[i]);
		check_all_tiles(f);
		check_root_and_proofs(f, prev, prev_root);
		struct tlog_checkpoint cp;
		checkpoint_of(f, &cp);
		prev = f->size;
		memcpy(prev_root, cp.root, 32);
	}
}

static void test_dedup_and_failed_batch(void **state)
{
	struct fixture *f = *state;
	uint8_t a[256], b[256];
	struct tlog_entry e[3];
	uint64_t idx[3];
	char *before = NULL, *after = NULL;
	size_t blen, alen;
	struct l3af_err err = {0};

	append_range(f, 0, 10);
	/* A logged entry, again, twice in one batch with a new one. */
	e[0] = (struct tlog_entry){a, tu_entry(3, a)};
	e[1] = (struct tlog_entry){b, tu_entry(10, b)};
	e[2] = e[1];
	assert_int_equal(tlog_append(f->log, e, 3, idx, NULL), L3AF_OK);
	assert_int_equal(idx[0], 3);
	assert_int_equal(idx[1], 10);
	assert_int_equal(idx[2], 10);
	assert_int_equal(tlog_size(f->log), 11);
	/* Only duplicates: nothing changes, not even the checkpoint. */
	assert_int_equal(tlog_checkpoint_get(f->log, &before, &blen, NULL), L3AF_OK);
	assert_int_equal(tlog_append(f->log, e, 2, idx, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_get(f->log, &after, &alen, NULL), L3AF_OK);
	assert_int_equal(blen, alen);
	assert_memory_equal(before, after, blen);
	l3af_free(after);
	/* A batch with a bad entry fails whole: no index used, no checkpoint. */
	uint8_t c[256];
	e[0] = (struct tlog_entry){c, tu_entry(11, c)};
	e[1] = (struct tlog_entry){c, 0};
	assert_int_equal(tlog_append(f->log, e, 2, idx, &err), L3AF_E_INVALID);
	assert_non_null(strstr(err.msg, "entry of 0 bytes"));
	assert_int_equal(tlog_size(f->log), 11);
	assert_int_equal(tlog_checkpoint_get(f->log, &after, &alen, NULL), L3AF_OK);
	assert_memory_equal(before, after, blen);
	l3af_free(before), l3af_free(after);
	f->size = 11;
	tlog_hash_leaf(b, tu_entry(10, b), f->leaves[10]);
	append_range(f, 11, 300);
	check_all_tiles(f);
	check_root_and_proofs(f, 0, NULL);
}

static void report_line(void *ctx, const char *line);

/* Small generations: keys move from memory to the table many times, across
 * restarts; every earlier entry is still found, and fsck sees the table. */
static void test_dedup_generations(void **state)
{
	struct fixture *f = *state;
	struct l3af_err err = {0};
	int problems = 0;

	tlog_close(f->log);
	tlog_dedup_generation = 50;
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
	for (uint64_t round = 0; round < 12; round++) {
		uint64_t n = 1 + round * 37 % 180;
		append_range(f, f->size, f->size + n);
		/* Every earlier entry, again: same index, nothing appended. */
		for (uint64_t i = 0; i < f->size; i += 1 + round) {
			uint8_t buf[256];
			struct tlog_entry e = {buf, tu_entry(i, buf)};
			uint64_t idx = UINT64_MAX;
			assert_int_equal(tlog_append(f->log, &e, 1, &idx, NULL), L3AF_OK);
			assert_int_equal(idx, i);
		}
		assert_int_equal(tlog_size(f->log), f->size);
		if (round % 3 == 2) {
			tlog_close(f->log);
			assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
		}
	}
	tlog_dedup_generation = TLOG_DEDUP_GENERATION;
	assert_int_equal(tlog_fsck(f->dir, report_line, &problems, NULL), L3AF_OK);
	assert_int_equal(problems, 0);
	check_all_tiles(f);
}

/* Review findings: a failed batch in the middle of a dedup run, and
 * restarts while runs are unfinished, must leave the log working. */
static void test_dedup_failures_and_restarts(void **state)
{
	struct fixture *f = *state;
	struct l3af_err err = {0};
	int problems = 0;
	uint8_t buf[256];
	uint64_t idx;

	tlog_close(f->log);
	tlog_dedup_generation = 1000;
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
	append_range(f, 0, 1002);
	append_range(f, 1002, 1200); /* part of the first run is written */
	struct tlog_entry bad[2] = {{buf, tu_entry(5000, buf)}, {buf, 0}};
	uint64_t ix[2];
	assert_int_equal(tlog_append(f->log, bad, 2, ix, NULL), L3AF_E_INVALID);
	append_range(f, 1200, 1400); /* must not collide with the committed rows */
	for (int restart = 0; restart < 3; restart++) {
		tlog_close(f->log);
		assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
		for (int b = 0; b < 5; b++)
			append_range(f, f->size, f->size + 130);
	}
	struct tlog_entry again = {buf, tu_entry(17, buf)};
	assert_int_equal(tlog_append(f->log, &again, 1, &idx, NULL), L3AF_OK);
	assert_int_equal(idx, 17);
	tlog_dedup_generation = TLOG_DEDUP_GENERATION;
	assert_int_equal(tlog_fsck(f->dir, report_line, &problems, NULL), L3AF_OK);
	assert_int_equal(problems, 0);
}

/* A crashed tlog_create leaves a key and a half-built database; the next
 * create must clean up and succeed. */
static void test_create_after_crash(void **state)
{
	char *dir = tu_tempdir("create"), path[4096];
	struct tlog *log = NULL;

	snprintf(path, sizeof(path), "%s/log.key", dir);
	assert_int_equal(l3af_file_create(path, "stale", 5, 0600, NULL), L3AF_OK);
	snprintf(path, sizeof(path), "%s/log.db.new", dir);
	assert_int_equal(l3af_file_create(path, "half", 4, 0644, NULL), L3AF_OK);
	assert_false(tlog_exists(dir));
	assert_int_equal(tlog_create(dir, "after.crash.example", NULL), L3AF_OK);
	assert_int_equal(tlog_open(dir, TLOG_OPEN_WRITER, &log, NULL), L3AF_OK);
	tlog_close(log);
	assert_int_equal(access(path, F_OK), -1);
	tu_rmtree(dir);
}

static void report_line(void *ctx, const char *line)
{
	fprintf(stderr, "fsck: %s\n", line);
	(*(int *)ctx)++;
}

static void test_reopen_lock_fsck_export(void **state)
{
	struct fixture *f = *state;
	struct tlog *second = NULL, *reader = NULL;
	struct l3af_err err = {0};
	int problems = 0;
	char *out;
	char path[4096];
	struct stat st;

	append_range(f, 0, 700);
	/* One writer per directory. */
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &second, &err), L3AF_E_BUSY);
	assert_non_null(strstr(err.msg, "in use"));
	/* Readers need no lock. */
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_READONLY, &reader, NULL), L3AF_OK);
	assert_int_equal(tlog_size(reader), 700);
	tlog_close(reader);
	assert_int_equal(tlog_fsck(f->dir, report_line, &problems, NULL), L3AF_OK);
	assert_int_equal(problems, 0);
	/* Close and reopen: the start-up check passes and appends go on. */
	tlog_close(f->log);
	f->log = NULL;
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
	assert_int_equal(tlog_size(f->log), 700);
	append_range(f, 700, 1100);
	check_all_tiles(f);
	check_root_and_proofs(f, 0, NULL);
	/* Export, then export again: the second run adds only what is new. */
	out = tu_tempdir("export");
	assert_int_equal(tlog_export(f->log, out, &err), L3AF_OK);
	snprintf(path, sizeof(path), "%s/tile/0/003", out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8192);
	snprintf(path, sizeof(path), "%s/tile/0/004.p/76", out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 76 * 32);
	snprintf(path, sizeof(path), "%s/tile/1/000.p/4", out);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/tile/entries/004.p/76", out);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/checkpoint", out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(tlog_export(f->log, out, &err), L3AF_OK);
	tu_rmtree(out);
	problems = 0;
	assert_int_equal(tlog_fsck(f->dir, report_line, &problems, NULL), L3AF_OK);
	assert_int_equal(problems, 0);
}

static void test_create_refuses_existing_and_bad_origin(void **state)
{
	struct fixture *f = *state;
	struct l3af_err err = {0};
	char *dir = tu_tempdir("origin");

	assert_int_equal(tlog_create(f->dir, "other", &err), L3AF_E_EXISTS);
	assert_int_equal(tlog_create(dir, "has space", NULL), L3AF_E_INVALID);
	assert_int_equal(tlog_create(dir, "a+b", NULL), L3AF_E_INVALID);
	assert_int_equal(tlog_create(dir, "", NULL), L3AF_E_INVALID);
	assert_false(tlog_exists(dir));
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses_existing_and_bad_origin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tiles_around_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_and_failed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_lock_fsck_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_failures_and_restarts, setup, teardown),
		cmocka_unit_test(test_create_after_crash),
	};
	return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
