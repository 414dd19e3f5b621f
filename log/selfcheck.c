/*
 * selfcheck.c - what a writer checks before it signs anything (docs/log.md
 * "Start-up check"). Each check names the damage it finds; any failure is
 * L3AF_E_CORRUPT and the log is not opened, so nothing is signed over
 * damaged data. The full recomputation is fsck's job (fsck.c); this is the
 * part that is O(log n) plus SQLite's quick_check.
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <string.h>

static enum l3af_status quick_check(sqlite3 *db, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;
	int step;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, "database quick_check");
	step = sqlite3_step(st);
	if (step != SQLITE_ROW)
		rc = tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, "database quick_check");
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "database quick_check: %s",
			       (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc;
}

/* One integer from a query with one optional bound parameter. */
static enum l3af_status query_int(sqlite3 *db, const char *sql, int64_t bind, int64_t *out,
				  bool *null, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, sql);
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, bind);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, sql);
	} else {
		*null = sqlite3_column_type(st, 0) == SQLITE_NULL;
		*out = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The entries table must end exactly at the checkpoint's size. */
static enum l3af_status check_entry_count(struct tlog_writer *w, uint64_t size,
					  struct l3af_err *err)
{
	int64_t max = 0;
	bool null = true;
	enum l3af_status rc = query_int(w->db, "SELECT max(idx) FROM entries", 0, &max,
					&null, err);

	if (rc != L3AF_OK)
		return rc;
	if (size == 0 ? !null : (null || (uint64_t)max != size - 1))
		return l3af_fail(err, L3AF_E_CORRUPT,
				 "entries end at %lld but the latest checkpoint has size %llu",
				 null ? -1LL : (long long)max, (unsigned long long)size);
	return L3AF_OK;
}

/* Load the rightmost tile of each level; its stored width must be exactly
 * what the checkpoint's size implies. */
static enum l3af_status load_edges(struct tlog *log, uint64_t size, struct l3af_err *err)
{
	struct tlog_writer *w = log->w;
	struct tlog_reader self = {.db = w->db};
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(w->db, "SELECT hashes FROM tiles WHERE id = ?", -1, &self.tile,
			       NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "prepare tile read");
	for (unsigned level = 0; rc == L3AF_OK && level < TLOG_LEVELS; level++) {
		uint64_t at = size >> (level * TLOG_TILE_HEIGHT);
		unsigned want = (unsigned)(at % TLOG_TILE_WIDTH), got = 0;
		w->edge[level].width = 0;
		w->edge[level].dirty = false;
		if (want == 0)
			continue;
		rc = tlog_tile_fetch(&self, level, at / TLOG_TILE_WIDTH, w->edge[level].hashes,
				     &got, err);
		if (rc == L3AF_OK && got != want)
			rc = l3af_fail(err, L3AF_E_CORRUPT,
				       "tile %u/%llu holds %u hashes, size %llu implies %u", level,
				       (unsigned long long)(at / TLOG_TILE_WIDTH), got,
				       (unsigned long long)size, want);
		else if (rc != L3AF_OK)
			rc = l3af_fail(err, L3AF_E_CORRUPT, "tile %u/%llu of the right edge",
				       level, (unsigned long long)(at / TLOG_TILE_WIDTH));
		w->edge[level].width = got;
	}
	sqlite3_finalize(self.tile);
	w->size = size;
	return rc;
}

/* Re-hash the entries under the partial level-0 tile. */
static enum l3af_status check_edge_leaves(struct tlog_writer *w, struct l3af_err *err)
{
	unsigned width = w->edge[0].width;
	uint64_t first = w->size - width;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (width == 0)
		return L3AF_OK;
	if (sqlite3_prepare_v2(w->db, "SELECT idx, data FROM entries WHERE idx >= ? ORDER BY idx",
			       -1, &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "read edge entries");
	sqlite3_bind_int64(st, 1, (int64_t)first);
	for (unsigned i = 0; rc == L3AF_OK && i < width; i++) {
		uint8_t leaf[TLOG_HASH_BYTES];
		if (sqlite3_step(st) != SQLITE_ROW ||
		    (uint64_t)sqlite3_column_int64(st, 0) != first + i) {
			rc = l3af_fail(err, L3AF_E_CORRUPT, "entry %llu is missing",
				       (unsigned long long)(first + i));
			break;
		}
		tlog_hash_leaf(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			       leaf);
		if (memcmp(leaf, w->edge[0].hashes[i], TLOG_HASH_BYTES) != 0)
			rc = l3af_fail(err, L3AF_E_CORRUPT,
				       "entry %llu does not hash to its stored leaf hash",
				       (unsigned long long)(first + i));
	}
	sqlite3_finalize(st);
	return rc;
}

/* The last checkpoint served must not be ahead of, or differ from, the
 * database: that would mean lost or altered history. */
static enum l3af_status check_published(struct tlog *log, const struct tlog_checkpoint *cp,
					struct l3af_err *err)
{
	struct tlog_checkpoint pub;
	char *note = NULL;
	size_t len = 0;
	enum l3af_status rc = tlog_published_read(log->dir, &note, &len, err);

	if (rc == L3AF_E_NOTFOUND) {
		l3af_err_clear(err);
		return L3AF_OK; /* a log that never published (new, or pre-record) */
	}
	if (rc != L3AF_OK)
		return rc;
	rc = tlog_note_check(log, note, len, &pub, err);
	if (rc != L3AF_OK)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "published checkpoint record does not verify");
	else if (pub.size > cp->size)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "database (size %llu) is behind the last published checkpoint "
			       "(size %llu): committed data was lost (WAL truncated or deleted?)",
			       (unsigned long long)cp->size, (unsigned long long)pub.size);
	else if (pub.size == cp->size && memcmp(pub.root, cp->root, TLOG_HASH_BYTES) != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "published checkpoint and database differ at size %llu",
			       (unsigned long long)cp->size);
	else if (pub.size < cp->size) /* behind: a crash between COMMIT and the record */
		rc = tlog_published_matches(log, log->w->db, &pub, err);
	l3af_free(note);
	return rc;
}

enum l3af_status tlog_selfcheck(struct tlog *log, unsigned flags, struct l3af_err *err)
{
	struct tlog_writer *w = log->w;
	struct tlog_checkpoint cp;
	struct signer_vkey kv;
	uint8_t root[TLOG_HASH_BYTES];
	enum l3af_status rc = L3AF_OK;

	if (!(flags & TLOG_OPEN_NO_QUICK_CHECK))
		rc = quick_check(w->db, err);
	signer_key_vkey(log->key, &kv);
	if (rc == L3AF_OK && (kv.id != log->vkey.id || kv.type != log->vkey.type ||
			      strcmp(kv.name, log->vkey.name) != 0 ||
			      memcmp(kv.pub, log->vkey.pub, sizeof(kv.pub)) != 0))
		rc = l3af_fail(err, L3AF_E_CORRUPT, "log.key is not the key this log was made with");
	if (rc == L3AF_OK)
		rc = tlog_load_checkpoint(log, w->db, &cp, err);
	if (rc == L3AF_OK)
		rc = check_entry_count(w, cp.size, err);
	if (rc == L3AF_OK)
		rc = load_edges(log, cp.size, err);
	if (rc == L3AF_OK)
		rc = tlog_edge_root(w, root, err);
	if (rc == L3AF_OK && memcmp(root, cp.root, TLOG_HASH_BYTES) != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "stored tiles give a root that differs from the latest checkpoint's "
			       "(size %llu)", (unsigned long long)cp.size);
	if (rc == L3AF_OK)
		rc = check_edge_leaves(w, err);
	if (rc == L3AF_OK)
		rc = check_published(log, &cp, err);
	if (rc != L3AF_OK) {
		/* Whatever stopped the check, the answer is: do not sign. Damage
		 * is reported as L3AF_E_CORRUPT; "could not check" (I/O, memory,
		 * busy) keeps its own code. */
		if (rc == L3AF_E_VERIFY || rc == L3AF_E_INVALID || rc == L3AF_E_NOTFOUND)
			rc = L3AF_E_CORRUPT;
		l3af_err_prefix(err, "start-up check of %s refused the log", log->dir);
		if (err)
			err->code = rc;
		return rc;
	}
	return L3AF_OK;
}
