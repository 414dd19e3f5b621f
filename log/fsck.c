/*
 * fsck.c - recompute everything a log stores and compare (docs/log.md
 * "fsck"): SQLite's integrity_check; every entry re-hashed in index order,
 * contiguous from 0; every tile rebuilt from those hashes and compared with
 * the stored row (full tiles exactly, the right edge at the stored size); the
 * dedup key of every entry; every stored checkpoint's signature, origin and
 * root at its size; and the record of the last published checkpoint.
 * Reads only: it opens the database read-only and takes no lock, so it can
 * run beside a live server (it then checks the snapshot it started with).
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct fsck {
	struct tlog *log; /* opened read-only: identity + read connection */
	sqlite3 *db;
	void (*report)(void *ctx, const char *line);
	void *ctx;
	unsigned long problems;
	struct tlog_edge edge[TLOG_LEVELS];
	uint8_t (*stored)[TLOG_HASH_BYTES]; /* one tile row being compared */
	sqlite3_stmt *tile;
	uint64_t size; /* entries found */
	uint64_t dedup_upto, dedup_run;
	uint64_t *keys; /* dedup key of each entry below dedup_upto */
};

static void problem(struct fsck *f, const char *fmt, ...) L3AF_PRINTF(2, 3);
static void problem(struct fsck *f, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	f->problems++;
	if (!f->report || f->problems > 1000)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->report(f->ctx, line);
}

static void integrity_check(struct fsck *f)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(f->db, "PRAGMA integrity_check(100)", -1, &st, NULL) != SQLITE_OK) {
		problem(f, "database: integrity_check could not run: %s", sqlite3_errmsg(f->db));
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);
		if (msg && strcmp(msg, "ok") != 0)
			problem(f, "database: %s", msg);
	}
	sqlite3_finalize(st);
}

/* Compare one rebuilt tile with its stored row. */
static void compare_tile(struct fsck *f, unsigned level, uint64_t n, const struct tlog_edge *e)
{
	int step;

	sqlite3_bind_int64(f->tile, 1, tlog_tile_key(level, n));
	step = sqlite3_step(f->tile);
	if (step != SQLITE_ROW) {
		problem(f, "tile %u/%llu: missing", level, (unsigned long long)n);
	} else if ((size_t)sqlite3_column_bytes(f->tile, 0) != e->width * TLOG_HASH_BYTES) {
		problem(f, "tile %u/%llu: holds %d bytes, entries imply %u hashes", level,
		        (unsigned long long)n, sqlite3_column_bytes(f->tile, 0), e->width);
	} else if (memcmp(sqlite3_column_blob(f->tile, 0), e->hashes, e->width * TLOG_HASH_BYTES) !=
	           0) {
		problem(f, "tile %u/%llu: differs from the hashes of the entries", level,
		        (unsigned long long)n);
	}
	sqlite3_reset(f->tile);
}

/* Add a leaf at index `at`, comparing each tile as it fills. */
static void rebuild_push(struct fsck *f, uint64_t at, const uint8_t leaf[TLOG_HASH_BYTES])
{
	uint8_t carry[TLOG_HASH_BYTES];

	memcpy(carry, leaf, TLOG_HASH_BYTES);
	for (unsigned level = 0; level < TLOG_LEVELS; level++) {
		struct tlog_edge *e = &f->edge[level];
		memcpy(e->hashes[e->width++], carry, TLOG_HASH_BYTES);
		if (e->width < TLOG_TILE_WIDTH)
			return;
		compare_tile(f, level, at / TLOG_TILE_WIDTH, e);
		tlog_hash_range((const uint8_t(*)[TLOG_HASH_BYTES])e->hashes, TLOG_TILE_WIDTH,
		                carry);
		e->width = 0;
		at /= TLOG_TILE_WIDTH;
	}
}

/* Remember the dedup key of each entry below dedup_upto (8 bytes each). */
static void note_key(struct fsck *f, uint64_t index, const uint8_t leaf[TLOG_HASH_BYTES])
{
	if (index < f->dedup_upto && f->keys)
		f->keys[index] = tlog_dedup_key(leaf);
}

/* Every entry below dedup_upto has exactly one row in a complete run, with
 * its own key; rows of the unfinished run point into the log. */
static void check_dedup(struct fsck *f)
{
	sqlite3_stmt *st = NULL;
	uint64_t rows = 0;
	uint8_t *seen = f->dedup_upto ? l3af_calloc((size_t)(f->dedup_upto + 7) / 8, 1) : NULL;

	if ((f->dedup_upto && (!seen || !f->keys)) ||
	    sqlite3_prepare_v2(f->db, "SELECT run, key, idx FROM dedup", -1, &st, NULL) != SQLITE_OK) {
		problem(f, "dedup: cannot be checked (%s)", seen ? sqlite3_errmsg(f->db) : "memory");
		l3af_free(seen);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t run = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t key = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 2);
		if (run >= f->dedup_run) {
			if (idx >= f->size)
				problem(f, "dedup: unfinished run points at entry %llu beyond the log",
					(unsigned long long)idx);
			continue;
		}
		if (idx >= f->dedup_upto || (seen[idx / 8] & (1u << (idx % 8)))) {
			problem(f, "dedup: run %llu has a stray or repeated row for entry %llu",
				(unsigned long long)run, (unsigned long long)idx);
			continue;
		}
		seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
		rows++;
		if (f->keys[idx] != key)
			problem(f, "dedup: entry %llu is filed under the wrong key",
				(unsigned long long)idx);
	}
	sqlite3_finalize(st);
	for (uint64_t idx = 0; rows != f->dedup_upto && idx < f->dedup_upto; idx++)
		if (!(seen[idx / 8] & (1u << (idx % 8))))
			problem(f, "dedup: entry %llu has no key", (unsigned long long)idx);
	l3af_free(seen);
}

static void scan_entries(struct fsck *f)
{
	sqlite3_stmt *st = NULL;
	uint64_t expect = 0;

	if (sqlite3_prepare_v2(f->db, "SELECT idx, data FROM entries ORDER BY idx", -1, &st,
	                       NULL) != SQLITE_OK) {
		problem(f, "entries: cannot be read: %s", sqlite3_errmsg(f->db));
		return;
	}
	for (;;) {
		int step = sqlite3_step(st);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			problem(f, "entries: read stopped after index %llu: %s",
			        (unsigned long long)expect, sqlite3_errmsg(f->db));
			break;
		}
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		uint8_t leaf[TLOG_HASH_BYTES];
		if (idx != expect) {
			problem(f, "entries: index %llu follows %llu (not contiguous)",
			        (unsigned long long)idx, (unsigned long long)expect - 1);
			break;
		}
		if (len == 0 || len > TLOG_ENTRY_MAX)
			problem(f, "entry %llu: %zu bytes", (unsigned long long)idx, len);
		tlog_hash_leaf(sqlite3_column_blob(st, 1), len, leaf);
		note_key(f, idx, leaf);
		rebuild_push(f, idx, leaf);
		expect++;
	}
	sqlite3_finalize(st);
	f->size = expect;
	/* The right edge: partial tiles as they stand at the full size. */
	for (unsigned level = 0; level < TLOG_LEVELS; level++)
		if (f->edge[level].width)
			compare_tile(f, level,
			             (f->size >> (level * TLOG_TILE_HEIGHT)) / TLOG_TILE_WIDTH,
			             &f->edge[level]);
}

/* No tile row may exist that the size does not imply. */
static void check_extra_tiles(struct fsck *f)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(f->db, "SELECT id FROM tiles", -1, &st, NULL) != SQLITE_OK) {
		problem(f, "tiles: cannot be read: %s", sqlite3_errmsg(f->db));
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		unsigned level = (unsigned)(id >> 56);
		uint64_t n = id & ((1ull << 56) - 1);
		if (level >= TLOG_LEVELS || tlog_tile_width_at((int)level, n, f->size) == 0)
			problem(f, "tile %u/%llu: stored but beyond the log's size %llu", level,
			        (unsigned long long)n, (unsigned long long)f->size);
	}
	sqlite3_finalize(st);
}

static void check_one_checkpoint(struct fsck *f, struct tlog_hash_source *src, int64_t row,
                                 const char *note, size_t len)
{
	struct tlog_checkpoint cp;
	struct l3af_err err = {0};
	uint8_t root[TLOG_HASH_BYTES];

	if (tlog_note_check(f->log, note, len, &cp, &err) != L3AF_OK) {
		problem(f, "checkpoint %lld: %s", (long long)row, err.msg);
		return;
	}
	if ((int64_t)cp.size != row) {
		problem(f, "checkpoint %lld: note says size %llu", (long long)row,
		        (unsigned long long)cp.size);
		return;
	}
	if (cp.size > f->size) {
		problem(f, "checkpoint %lld: beyond the %llu entries stored", (long long)row,
		        (unsigned long long)f->size);
		return;
	}
	if (tlog_tree_hash(src, cp.size, root, &err) != L3AF_OK) {
		problem(f, "checkpoint %lld: root not computable: %s", (long long)row, err.msg);
		return;
	}
	if (memcmp(root, cp.root, TLOG_HASH_BYTES) != 0)
		problem(f, "checkpoint %lld: root differs from the tree's", (long long)row);
}

static void check_checkpoints(struct fsck *f)
{
	struct tlog_tile_cache *cache = l3af_malloc(sizeof(*cache));
	struct tlog_reader r = {.db = f->db, .tile = f->tile};
	struct tlog_hash_source src;
	sqlite3_stmt *st = NULL;
	int64_t last = -1;

	if (!cache) {
		problem(f, "checkpoints: out of memory");
		return;
	}
	tlog_tile_source(cache, &r, &src);
	if (sqlite3_prepare_v2(f->db, "SELECT size, note FROM checkpoints ORDER BY size", -1, &st,
	                       NULL) != SQLITE_OK) {
		l3af_free(cache);
		{
			problem(f, "checkpoints: cannot be read: %s", sqlite3_errmsg(f->db));
			return;
		}
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		check_one_checkpoint(f, &src, last, sqlite3_column_blob(st, 1),
		                     (size_t)sqlite3_column_bytes(st, 1));
		tlog_tile_source(cache, &r, &src); /* fresh cache per checkpoint */
	}
	sqlite3_finalize(st);
	l3af_free(cache);
	if (last != (int64_t)f->size)
		problem(f, "checkpoints: the latest covers %lld entries, %llu are stored",
		        (long long)last, (unsigned long long)f->size);
}

static void check_published_record(struct fsck *f, const char *dir)
{
	struct tlog_checkpoint cp;
	struct l3af_err err = {0};
	char *note = NULL;
	size_t len = 0;

	enum l3af_status rc = tlog_published_read(dir, &note, &len, &err);

	if (rc == L3AF_E_NOTFOUND)
		return;
	if (rc != L3AF_OK) {
		problem(f, "published record: %s", err.msg);
		return;
	}
	if (tlog_note_check(f->log, note, len, &cp, &err) != L3AF_OK)
		problem(f, "published record: %s", err.msg);
	else if (cp.size > f->size)
		problem(f,
		        "published record: size %llu was served, the database holds %llu "
		        "entries: committed data was lost",
		        (unsigned long long)cp.size, (unsigned long long)f->size);
	else if (tlog_published_matches(f->log, f->db, &cp, &err) != L3AF_OK)
		problem(f, "published record: %s", err.msg);
	l3af_free(note);
}

/* A meta count, or a problem reported and 0. */
static uint64_t meta_int(struct fsck *f, const char *key)
{
	struct l3af_err err = {0};
	uint64_t v = 0;

	if (tlog_meta_get(f->db, key, NULL, 0, &v, &err) != L3AF_OK)
		problem(f, "meta: %s", err.msg);
	return v;
}

static enum l3af_status fsck_prepare(struct fsck *f, struct l3af_err *err)
{
	f->db = f->log->readers[0].db;
	if (sqlite3_prepare_v2(f->db, "SELECT hashes FROM tiles WHERE id = ?", -1, &f->tile,
			       NULL) != SQLITE_OK)
		return tlog_sqlite_fail(f->db, err, L3AF_E_CORRUPT, "prepare fsck statements");
	/* One read transaction: a consistent snapshot even beside a writer. */
	if (sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(f->db, err, L3AF_E_IO, "begin read");
	f->dedup_upto = meta_int(f, "dedup_upto");
	f->dedup_run = meta_int(f, "dedup_run");
	if (f->dedup_upto > (uint64_t)1 << 40) {
		problem(f, "meta: dedup_upto %llu is absurd", (unsigned long long)f->dedup_upto);
		f->dedup_upto = 0;
	}
	f->keys = f->dedup_upto ? l3af_malloc((size_t)f->dedup_upto * sizeof(*f->keys)) : NULL;
	return L3AF_OK;
}

enum l3af_status tlog_fsck(const char *dir, void (*report)(void *ctx, const char *line), void *ctx,
                           struct l3af_err *err)
{
	struct fsck f = {.report = report, .ctx = ctx};
	enum l3af_status rc = tlog_open(dir, TLOG_OPEN_IDENTITY_ONLY, &f.log, err);

	if (rc == L3AF_OK)
		rc = fsck_prepare(&f, err);
	if (rc == L3AF_OK) {
		integrity_check(&f);
		scan_entries(&f);
		check_dedup(&f);
		check_extra_tiles(&f);
		check_checkpoints(&f);
		check_published_record(&f, dir);
		sqlite3_exec(f.db, "COMMIT", NULL, NULL, NULL);
		if (f.problems)
			rc = l3af_fail(err, L3AF_E_CORRUPT, "fsck found %lu problem%s", f.problems,
			               f.problems == 1 ? "" : "s");
	}
	sqlite3_finalize(f.tile);
	l3af_free(f.keys);
	tlog_close(f.log);
	return rc;
}
