/*
 * writer.c - the one writer of a log: start-up check, durable batched
 * append, and publication of each new checkpoint.
 *
 * Durability contract (docs/log.md "Durability"): tlog_append returns only
 * after one SQLite transaction holding the new entries, their dedup keys,
 * every tile they changed and the newly signed checkpoint has committed with
 * journal_mode=WAL and synchronous=FULL (the WAL is fsynced before COMMIT
 * returns). Then the checkpoint is recorded in DIR/published and fsynced, and
 * only then served. A crash at any point leaves either the whole batch or
 * none of it; the published record lets start-up notice a database that has
 * gone back behind what was served.
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- the published file: two slots of 4 KiB ------------------------------
 *   magic "L3AFPUB1" | seq u64 be | len u32 be | sha256(seq|len|note) | note
 * The slot seq % 2 is overwritten in place; a torn write spoils one slot,
 * never both. */
#define PUB_SLOT 4096
#define PUB_HDR (8 + 8 + 4 + 32)

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* On a hashing failure out is all 0xff, which no valid slot carries. */
static void pub_digest(const uint8_t *slot, size_t note_len, uint8_t out[32])
{
	if (l3af_sha256_concat(slot + 8, 12, slot + PUB_HDR, note_len, out) != L3AF_OK)
		memset(out, 0xff, 32);
}

static enum l3af_status published_write(struct tlog_writer *w, const char *note,
					size_t len, struct l3af_err *err)
{
	uint8_t slot[PUB_SLOT] = {0};
	uint64_t seq = w->published_seq + 1;

	if (len > PUB_SLOT - PUB_HDR)
		return l3af_fail(err, L3AF_E_LIMIT, "published: note too large");
	memcpy(slot, "L3AFPUB1", 8);
	be64(slot + 8, seq);
	slot[16] = (uint8_t)(len >> 24), slot[17] = (uint8_t)(len >> 16);
	slot[18] = (uint8_t)(len >> 8), slot[19] = (uint8_t)len;
	memcpy(slot + PUB_HDR, note, len);
	pub_digest(slot, len, slot + 20);
	if (pwrite(w->published_fd, slot, sizeof(slot), (off_t)(seq % 2) * PUB_SLOT) !=
		    (ssize_t)sizeof(slot) ||
	    fdatasync(w->published_fd) != 0)
		return l3af_fail(err, L3AF_E_IO, "write published checkpoint: %s",
				 strerror(errno));
	w->published_seq = seq;
	return L3AF_OK;
}

/* Parse the valid slot with the highest sequence number. */
static int published_pick(const uint8_t *buf, size_t got, uint64_t *seq, size_t *off,
			  size_t *len)
{
	int found = 0;

	for (size_t s = 0; s < 2 && (s + 1) * PUB_SLOT <= got; s++) {
		const uint8_t *slot = buf + s * PUB_SLOT;
		uint8_t d[32];
		size_t l = (size_t)slot[16] << 24 | (size_t)slot[17] << 16 |
			   (size_t)slot[18] << 8 | slot[19];
		if (memcmp(slot, "L3AFPUB1", 8) != 0 || l > PUB_SLOT - PUB_HDR)
			continue;
		pub_digest(slot, l, d);
		if (memcmp(d, slot + 20, 32) != 0)
			continue;
		if (!found || rd64(slot + 8) > *seq) {
			*seq = rd64(slot + 8);
			*off = s * PUB_SLOT + PUB_HDR;
			*len = l;
			found = 1;
		}
	}
	return found;
}

static enum l3af_status published_open(struct tlog *log, struct l3af_err *err)
{
	char path[PATH_MAX];
	uint8_t buf[2 * PUB_SLOT];
	size_t off, len;
	ssize_t got;
	enum l3af_status rc = tlog_path(log, NULL, TLOG_PUBLISHED_FILE, path, sizeof(path), err);

	if (rc != L3AF_OK)
		return rc;
	log->w->published_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (log->w->published_fd < 0)
		return l3af_fail(err, L3AF_E_IO, "open %s: %s", path, strerror(errno));
	/* The file must survive a power loss as surely as its records. */
	rc = l3af_fsync_parent(path, err);
	if (rc != L3AF_OK)
		return rc;
	got = pread(log->w->published_fd, buf, sizeof(buf), 0);
	if (got > 0 && published_pick(buf, (size_t)got, &log->w->published_seq, &off, &len))
		return L3AF_OK;
	log->w->published_seq = 0;
	return L3AF_OK;
}

enum l3af_status tlog_published_read(const char *dir, char **note, size_t *len,
				     struct l3af_err *err)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t got = 0, off, l;
	uint64_t seq;
	enum l3af_status rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, TLOG_PUBLISHED_FILE) >=
	    sizeof(path))
		return l3af_fail(err, L3AF_E_LIMIT, "path too long");
	/* Absent is fine (a log that never published); present but unreadable
	 * or with no valid slot is damage, never a silent "no record". */
	rc = l3af_file_read(path, 2 * PUB_SLOT, &buf, &got, err);
	if (rc == L3AF_E_NOTFOUND)
		return rc;
	if (rc != L3AF_OK) {
		if (err)
			err->code = L3AF_E_CORRUPT;
		return L3AF_E_CORRUPT;
	}
	if (got == 0) { /* created by a writer that has not appended yet */
		l3af_free(buf);
		return L3AF_E_NOTFOUND;
	}
	if (!published_pick((const uint8_t *)buf, got, &seq, &off, &l)) {
		l3af_free(buf);
		return l3af_fail(err, L3AF_E_CORRUPT, "%s: no valid record", path);
	}
	memmove(buf, buf + off, l);
	buf[l] = '\0';
	*note = buf;
	*len = l;
	return L3AF_OK;
}

/* ---- the right edge of the tree ------------------------------------------ */

/* Hash source over the writer's edge tiles. The RFC 9162 recursion for the
 * root of the current size only ever asks for subtrees inside the rightmost
 * tile of each level (everything left of it is summarised one level up). */
static enum l3af_status edge_node(void *ctx, unsigned height, uint64_t index,
				  uint8_t out[static TLOG_HASH_BYTES], struct l3af_err *err)
{
	struct tlog_writer *w = ctx;
	unsigned level = height / TLOG_TILE_HEIGHT, sub = height % TLOG_TILE_HEIGHT;
	uint64_t first = index << sub, count = (uint64_t)1 << sub;
	uint64_t edge_start = (w->size >> (level * TLOG_TILE_HEIGHT)) / TLOG_TILE_WIDTH *
			      TLOG_TILE_WIDTH;

	if (level >= TLOG_LEVELS || first < edge_start ||
	    first - edge_start + count > w->edge[level].width)
		return l3af_fail(err, L3AF_E_INTERNAL, "edge: node %u/%llu outside the edge",
				 height, (unsigned long long)index);
	tlog_hash_range((const uint8_t(*)[TLOG_HASH_BYTES])w->edge[level].hashes +
				(first - edge_start),
			(size_t)count, out);
	return L3AF_OK;
}

enum l3af_status tlog_edge_root(struct tlog_writer *w, uint8_t root[TLOG_HASH_BYTES],
				  struct l3af_err *err)
{
	struct tlog_hash_source src = {.node = edge_node, .ctx = w};

	return tlog_tree_hash(&src, w->size, root, err);
}

static enum l3af_status step_done(sqlite3 *db, sqlite3_stmt *st, const char *what,
				  struct l3af_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return tlog_sqlite_fail(db, err, L3AF_E_IO, what);
	return L3AF_OK;
}

static enum l3af_status tile_store(struct tlog_writer *w, unsigned level, uint64_t n,
				   const struct tlog_edge *e, struct l3af_err *err)
{
	sqlite3_bind_int64(w->tile_upsert, 1, tlog_tile_key(level, n));
	sqlite3_bind_blob(w->tile_upsert, 2, e->hashes, (int)(e->width * TLOG_HASH_BYTES),
			  SQLITE_STATIC);
	return step_done(w->db, w->tile_upsert, "store tile", err);
}

/* Add one leaf hash at the current size; full tiles are stored and carried
 * one level up. w->size is advanced by the caller. */
static enum l3af_status edge_push(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				  struct l3af_err *err)
{
	uint8_t carry[TLOG_HASH_BYTES];
	uint64_t at = w->size; /* index of the new hash at level 0 */

	memcpy(carry, leaf, TLOG_HASH_BYTES);
	for (unsigned level = 0; level < TLOG_LEVELS; level++) {
		struct tlog_edge *e = &w->edge[level];
		memcpy(e->hashes[e->width++], carry, TLOG_HASH_BYTES);
		e->dirty = true;
		if (e->width < TLOG_TILE_WIDTH)
			return L3AF_OK;
		enum l3af_status rc = tile_store(w, level, at / TLOG_TILE_WIDTH, e, err);
		if (rc != L3AF_OK)
			return rc;
		tlog_hash_range((const uint8_t(*)[TLOG_HASH_BYTES])e->hashes, TLOG_TILE_WIDTH,
				carry);
		e->width = 0;
		e->dirty = false;
		at /= TLOG_TILE_WIDTH;
	}
	return l3af_fail(err, L3AF_E_LIMIT, "log is full");
}

/* Store the partial edge tiles that changed in this batch. */
static enum l3af_status edge_flush(struct tlog_writer *w, struct l3af_err *err)
{
	for (unsigned level = 0; level < TLOG_LEVELS; level++) {
		struct tlog_edge *e = &w->edge[level];
		uint64_t n = (w->size >> (level * TLOG_TILE_HEIGHT)) / TLOG_TILE_WIDTH;
		if (!e->dirty || e->width == 0)
			continue;
		enum l3af_status rc = tile_store(w, level, n, e, err);
		if (rc != L3AF_OK)
			return rc;
		e->dirty = false;
	}
	return L3AF_OK;
}

static enum l3af_status append_one(struct tlog_writer *w, const struct tlog_entry *e,
				   uint64_t *index, struct l3af_err *err)
{
	uint8_t leaf[TLOG_HASH_BYTES];
	bool found = false;
	enum l3af_status rc;

	if (e->len == 0 || e->len > TLOG_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "entry of %zu bytes (1..%d allowed)",
				 e->len, TLOG_ENTRY_MAX);
	tlog_hash_leaf(e->data, e->len, leaf);
	rc = tlog_dedup_find(w, leaf, e, &found, index, err);
	if (rc != L3AF_OK || found)
		return rc;
	sqlite3_bind_int64(w->entry_insert, 1, (int64_t)w->size);
	sqlite3_bind_blob(w->entry_insert, 2, e->data, (int)e->len, SQLITE_STATIC);
	rc = step_done(w->db, w->entry_insert, "insert entry", err);
	if (rc == L3AF_OK)
		rc = tlog_dedup_add(w, leaf, w->size, err);
	if (rc == L3AF_OK)
		rc = edge_push(w, leaf, err);
	if (rc == L3AF_OK)
		*index = w->size++;
	return rc;
}

static enum l3af_status checkpoint_store(struct tlog *log, char **note, size_t *note_len,
					 struct l3af_err *err)
{
	struct tlog_writer *w = log->w;
	struct tlog_checkpoint cp = {.size = w->size};
	char body[TLOG_CHECKPOINT_BODY_MAX];
	size_t body_len;
	enum l3af_status rc = tlog_edge_root(w, cp.root, err);

	memcpy(cp.origin, log->origin, sizeof(cp.origin));
	if (rc == L3AF_OK)
		rc = tlog_checkpoint_format(&cp, body, sizeof(body), &body_len, err);
	if (rc == L3AF_OK)
		rc = signer_note_sign(log->key, body, body_len, 0, note, note_len, err);
	if (rc != L3AF_OK)
		return rc;
	sqlite3_bind_int64(w->checkpoint_insert, 1, (int64_t)w->size);
	sqlite3_bind_blob(w->checkpoint_insert, 2, *note, (int)*note_len, SQLITE_STATIC);
	return step_done(w->db, w->checkpoint_insert, "store checkpoint", err);
}

/* Make the committed checkpoint the one readers see. Takes ownership of note. */
static void publish(struct tlog *log, char *note, size_t len, uint64_t size)
{
	char *old;

	pthread_mutex_lock(&log->pub_lock);
	old = log->pub_note;
	log->pub_note = note;
	log->pub_note_len = len;
	log->pub_size = size;
	pthread_mutex_unlock(&log->pub_lock);
	l3af_free(old);
}

static enum l3af_status append_txn(struct tlog *log, const struct tlog_entry *entries,
				   size_t n, uint64_t *indices, char **note, size_t *note_len,
				   struct l3af_err *err)
{
	struct tlog_writer *w = log->w;
	uint64_t size0 = w->size;
	enum l3af_status rc = step_done(w->db, w->begin, "begin", err);

	for (size_t i = 0; rc == L3AF_OK && i < n; i++)
		rc = append_one(w, &entries[i], &indices[i], err);
	if (rc == L3AF_OK && w->size != size0)
		rc = edge_flush(w, err);
	if (rc == L3AF_OK && w->size != size0)
		rc = tlog_dedup_flush(w, (size_t)(w->size - size0), err);
	if (rc == L3AF_OK && w->size != size0)
		rc = checkpoint_store(log, note, note_len, err);
	if (rc == L3AF_OK)
		rc = step_done(w->db, w->commit, "commit", err);
	return rc;
}

enum l3af_status tlog_append(struct tlog *log, const struct tlog_entry *entries, size_t n,
			     uint64_t *indices, struct l3af_err *err)
{
	struct tlog_writer *w = log->w;
	uint64_t size0;
	char *note = NULL;
	size_t note_len = 0;
	enum l3af_status rc;

	if (!w)
		return l3af_fail(err, L3AF_E_INVALID, "append: log was opened read-only");
	if (w->broken)
		return l3af_fail(err, L3AF_E_IO, "append: the log needs a restart after an error");
	size0 = w->size;
	memcpy(w->saved, w->edge, sizeof(w->edge));
	rc = append_txn(log, entries, n, indices, &note, &note_len, err);
	if (rc != L3AF_OK) {
		sqlite3_step(w->rollback);
		sqlite3_reset(w->rollback);
		memcpy(w->edge, w->saved, sizeof(w->edge));
		w->size = size0;
		l3af_free(note);
		/* The in-memory dedup keys of the failed batch must go too. After
		 * an I/O error or damage nothing more is acknowledged until a
		 * restart has run the start-up check (never retry and carry on). */
		if (rc == L3AF_E_IO || rc == L3AF_E_CORRUPT || tlog_dedup_rebuild(w, NULL) != L3AF_OK)
			w->broken = true;
		return rc;
	}
	if (!note)
		return L3AF_OK; /* every entry was already logged */
	/* Committed. If recording it fails the checkpoint is still durable in
	 * the database; it is served anyway, and the error is reported. */
	rc = published_write(w, note, note_len, err);
	publish(log, note, note_len, w->size);
	return rc;
}

/* ---- open: statements, start-up check, edge tiles ------------------------- */

static enum l3af_status prepare_all(struct tlog_writer *w, struct l3af_err *err)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{offsetof(struct tlog_writer, begin), "BEGIN IMMEDIATE"},
		{offsetof(struct tlog_writer, commit), "COMMIT"},
		{offsetof(struct tlog_writer, rollback), "ROLLBACK"},
		{offsetof(struct tlog_writer, entry_insert),
		 "INSERT INTO entries(idx, data) VALUES(?, ?)"},
		{offsetof(struct tlog_writer, entry_select), "SELECT data FROM entries WHERE idx = ?"},
		{offsetof(struct tlog_writer, dedup_insert),
		 "INSERT INTO dedup(key, idx) VALUES(?, ?)"},
		{offsetof(struct tlog_writer, tile_upsert),
		 "INSERT OR REPLACE INTO tiles(id, hashes) VALUES(?, ?)"},
		{offsetof(struct tlog_writer, checkpoint_insert),
		 "INSERT INTO checkpoints(size, note) VALUES(?, ?)"},
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		sqlite3_stmt **slot = (sqlite3_stmt **)((char *)w + stmts[i].off);
		if (sqlite3_prepare_v3(w->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
				       NULL) != SQLITE_OK)
			return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, stmts[i].sql);
	}
	return L3AF_OK;
}

void tlog_writer_close(struct tlog_writer *w)
{
	tlog_dedup_close(w->dedup);
	sqlite3_stmt *all[] = {w->begin, w->commit, w->rollback, w->entry_insert,
			       w->entry_select, w->dedup_insert,
			       w->tile_upsert, w->checkpoint_insert};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	if (w->db) {
		/* Fold the WAL into the database on a clean shutdown; not after
		 * the start-up check refused the log (leave the evidence as is). */
		if (w->opened)
			sqlite3_exec(w->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		sqlite3_close(w->db);
	}
	if (w->published_fd >= 0)
		close(w->published_fd);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	sodium_memzero(w, sizeof(*w));
	l3af_free(w);
}

enum l3af_status tlog_writer_open(struct tlog *log, const char *db_path, unsigned flags,
				  struct l3af_err *err)
{
	char path[PATH_MAX];
	enum l3af_status rc;

	log->w = l3af_calloc(1, sizeof(*log->w));
	if (!log->w)
		return l3af_fail(err, L3AF_E_NOMEM, "writer: out of memory");
	log->w->published_fd = log->w->lock_fd = -1;
	if (sqlite3_open_v2(db_path, &log->w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return tlog_sqlite_fail(log->w->db, err, L3AF_E_IO, "open database for writing");
	sqlite3_busy_timeout(log->w->db, 5000);
	if (sqlite3_exec(log->w->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;"
			 "PRAGMA mmap_size=17179869184",
			 NULL, NULL, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(log->w->db, err, L3AF_E_IO, "configure database");
	rc = prepare_all(log->w, err);
	if (rc == L3AF_OK)
		rc = tlog_path(log, NULL, TLOG_KEY_FILE, path, sizeof(path), err);
	if (rc == L3AF_OK)
		rc = signer_key_load(path, &log->key, err);
	if (rc == L3AF_OK)
		rc = published_open(log, err);
	if (rc == L3AF_OK)
		rc = tlog_selfcheck(log, flags, err);
	if (rc == L3AF_OK)
		rc = tlog_dedup_open(log->w, tlog_dedup_generation, err);
	log->w->opened = rc == L3AF_OK;
	return rc;
}
