/*
 * dedup.c - find an identical entry already in the log, at a cost that does
 * not grow with the log (docs/log.md "Deduplication").
 *
 * Keys are the first 8 bytes of the leaf hash, so they are random: inserting
 * each into one big B-tree dirties a different page per entry, and the append
 * rate falls as the log grows. Instead (an LSM-style design, like Tessera's
 * antispam that follows the log):
 *  - keys of recent entries live in memory: an "active" hash table, and a
 *    "frozen" sorted array of the previous generation;
 *  - each append transaction also writes a slice of the frozen array, in key
 *    order, into the table dedup(run, key, idx) as part of run r (one run per
 *    generation). Rows arrive in primary-key order, so every write lands at
 *    the right edge of the B-tree: sequential, however large the table;
 *  - a fixed-size Bloom filter (32 MiB) over the table's keys answers "not
 *    in the table" for almost every new entry, so the runs are searched only
 *    for duplicates and rare false positives (1 in ~2,700 at 10M entries,
 *    1 in ~13 at 50M: beyond that, runs want compacting; docs/log.md);
 *  - meta "dedup_upto": every entry below it is in a complete run;
 *    "dedup_run": the run being written. The memory part is exactly the
 *    entries from dedup_upto on. At start-up they are all written into the
 *    current run at once, which completes it, so memory starts empty and a
 *    restart never loses flush progress; after a failed transaction they
 *    are rebuilt into the frozen array. Rows are written with INSERT OR
 *    IGNORE, so rewriting a row already committed for the run is harmless.
 * Memory is bounded (generations and filter), not by the log. Equal 64-bit
 * prefixes of different entries are allowed everywhere: every candidate's
 * bytes are compared.
 */
#include "tlog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t tlog_dedup_generation = TLOG_DEDUP_GENERATION;

#define DD_BLOOM_BITS (1ull << 28) /* 32 MiB */
#define DD_BLOOM_PROBES 4

struct dd_pair {
	uint64_t key;
	uint64_t idx;
};

/* Key and index side by side: one cache miss per probe. */
struct dd_slot {
	uint64_t key;
	uint64_t idx1; /* index + 1; 0 = empty */
};

struct tlog_dedup {
	size_t generation;        /* entries per in-memory generation */
	struct dd_slot *slots;    /* active: open addressing, linear probing */
	size_t cap, count;
	struct dd_pair *frozen;   /* sorted; [flushed, nfrozen) not yet written */
	size_t nfrozen, flushed;
	uint64_t upto;            /* meta dedup_upto */
	uint64_t run;             /* meta dedup_run: the run frozen is written to */
	uint64_t *bloom;
	sqlite3_stmt *probe, *insert, *meta_set;
};

/* ---- Bloom filter ------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30, x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27, x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Double hashing: bit i = (h1 + i * h2) mod size (Kirsch-Mitzenmacher). */
static void bloom_add(struct tlog_dedup *d, uint64_t key)
{
	uint64_t h1 = key, h2 = mix64(key) | 1;

	for (int i = 0; i < DD_BLOOM_PROBES; i++, h1 += h2)
		d->bloom[(h1 & (DD_BLOOM_BITS - 1)) >> 6] |= 1ull << (h1 & 63);
}

static bool bloom_maybe(const struct tlog_dedup *d, uint64_t key)
{
	uint64_t h1 = key, h2 = mix64(key) | 1;

	for (int i = 0; i < DD_BLOOM_PROBES; i++, h1 += h2)
		if (!(d->bloom[(h1 & (DD_BLOOM_BITS - 1)) >> 6] & (1ull << (h1 & 63))))
			return false;
	return true;
}

uint64_t tlog_dedup_key(const uint8_t leaf[TLOG_HASH_BYTES])
{
	uint64_t key = 0;

	for (int i = 0; i < 8; i++)
		key = key << 8 | leaf[i];
	return key;
}

/* ---- lookups ------------------------------------------------------------- */

static size_t slot_of(const struct tlog_dedup *d, uint64_t key)
{
	return (size_t)((key ^ (key >> 29)) & (d->cap - 1));
}

/* Is e the entry at idx? */
static enum l3af_status same_entry(struct tlog_writer *w, uint64_t idx, const struct tlog_entry *e,
				   bool *same, struct l3af_err *err)
{
	int rc;

	sqlite3_bind_int64(w->entry_select, 1, (int64_t)idx);
	rc = sqlite3_step(w->entry_select);
	*same = rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(w->entry_select, 0) == e->len &&
		memcmp(sqlite3_column_blob(w->entry_select, 0), e->data, e->len) == 0;
	sqlite3_reset(w->entry_select);
	if (rc != SQLITE_ROW)
		return l3af_fail(err, L3AF_E_CORRUPT, "dedup points at missing entry %llu",
				 (unsigned long long)idx);
	return L3AF_OK;
}

/* Check one candidate index; on a match set *index. */
static enum l3af_status candidate(struct tlog_writer *w, uint64_t idx, const struct tlog_entry *e,
				  bool *found, uint64_t *index, struct l3af_err *err)
{
	enum l3af_status rc = same_entry(w, idx, e, found, err);

	if (rc == L3AF_OK && *found)
		*index = idx;
	return rc;
}

static enum l3af_status find_active(struct tlog_writer *w, uint64_t key, const struct tlog_entry *e,
				    bool *found, uint64_t *index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	for (size_t s = slot_of(d, key); d->slots[s].idx1 && rc == L3AF_OK && !*found;
	     s = (s + 1) & (d->cap - 1))
		if (d->slots[s].key == key)
			rc = candidate(w, d->slots[s].idx1 - 1, e, found, index, err);
	return rc;
}

/* First position in [lo, hi) whose key is >= key, given
 * a[lo].key <= key <= a[hi - 1].key. Keys are uniform, so guess where the
 * key sits within the range and walk a few steps (one or two cache misses);
 * fall back to a binary search if the guess was poor. */
static size_t lower_bound(const struct dd_pair *a, size_t lo, size_t hi, uint64_t key)
{
	uint64_t kmin = a[lo].key, span = a[hi - 1].key - kmin;
	size_t g = lo;

	if (span)
		g = lo + (size_t)(((unsigned __int128)(key - kmin) * (hi - lo - 1)) / span);
	for (int steps = 0; steps < 32; steps++) {
		if (g > lo && a[g - 1].key >= key)
			g--;
		else if (g < hi && a[g].key < key)
			g++;
		else
			return g;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static enum l3af_status find_frozen(struct tlog_writer *w, uint64_t key, const struct tlog_entry *e,
				    bool *found, uint64_t *index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	size_t lo = d->flushed, hi = d->nfrozen;
	enum l3af_status rc = L3AF_OK;

	if (lo >= hi || key < d->frozen[lo].key || key > d->frozen[hi - 1].key)
		return L3AF_OK;
	for (lo = lower_bound(d->frozen, lo, hi, key);
	     lo < hi && d->frozen[lo].key == key && rc == L3AF_OK && !*found; lo++)
		rc = candidate(w, d->frozen[lo].idx, e, found, index, err);
	return rc;
}

/* Search every run written so far (including the part of the current one). */
static enum l3af_status find_table(struct tlog_writer *w, uint64_t key, const struct tlog_entry *e,
				   bool *found, uint64_t *index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	for (uint64_t run = 0; run <= d->run && rc == L3AF_OK && !*found; run++) {
		int step = SQLITE_DONE;
		sqlite3_bind_int64(d->probe, 1, (int64_t)run);
		sqlite3_bind_int64(d->probe, 2, (int64_t)key);
		while (rc == L3AF_OK && !*found && (step = sqlite3_step(d->probe)) == SQLITE_ROW)
			rc = candidate(w, (uint64_t)sqlite3_column_int64(d->probe, 0), e, found, index,
				       err);
		if (rc == L3AF_OK && !*found && step != SQLITE_DONE)
			rc = tlog_sqlite_fail(w->db, err, L3AF_E_IO, "dedup lookup");
		sqlite3_reset(d->probe);
	}
	return rc;
}

enum l3af_status tlog_dedup_find(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				 const struct tlog_entry *e, bool *found, uint64_t *index,
				 struct l3af_err *err)
{
	uint64_t key = tlog_dedup_key(leaf);
	enum l3af_status rc;

	*found = false;
	rc = find_active(w, key, e, found, index, err);
	if (rc == L3AF_OK && !*found)
		rc = find_frozen(w, key, e, found, index, err);
	if (rc == L3AF_OK && !*found && bloom_maybe(w->dedup, key))
		rc = find_table(w, key, e, found, index, err);
	return rc;
}

/* ---- generations and runs ------------------------------------------------ */

static int pair_cmp(const void *a, const void *b)
{
	const struct dd_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void active_put(struct tlog_dedup *d, uint64_t key, uint64_t idx)
{
	size_t s = slot_of(d, key);

	while (d->slots[s].idx1)
		s = (s + 1) & (d->cap - 1);
	d->slots[s] = (struct dd_slot){key, idx + 1};
	d->count++;
}

/* The active table becomes the frozen array (which must be drained). */
static void freeze(struct tlog_dedup *d)
{
	size_t n = 0;

	for (size_t s = 0; s < d->cap; s++)
		if (d->slots[s].idx1)
			d->frozen[n++] = (struct dd_pair){d->slots[s].key, d->slots[s].idx1 - 1};
	qsort(d->frozen, n, sizeof(*d->frozen), pair_cmp);
	d->nfrozen = n;
	d->flushed = 0;
	memset(d->slots, 0, d->cap * sizeof(*d->slots));
	d->count = 0;
}

static enum l3af_status meta_set(struct tlog_writer *w, const char *key, uint64_t value,
				 struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	int step;

	sqlite3_bind_int64(d->meta_set, 1, (int64_t)value);
	sqlite3_bind_text(d->meta_set, 2, key, -1, SQLITE_STATIC);
	step = sqlite3_step(d->meta_set);
	sqlite3_reset(d->meta_set);
	if (step != SQLITE_DONE || sqlite3_changes(w->db) != 1)
		return tlog_sqlite_fail(w->db, err, L3AF_E_IO, "update dedup meta");
	return L3AF_OK;
}

/* The frozen run is complete: everything below the active generation's
 * first index is in the table. */
static enum l3af_status finish_run(struct tlog_writer *w, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	uint64_t lowest_active = w->size;
	enum l3af_status rc;

	for (size_t s = 0; s < d->cap; s++)
		if (d->slots[s].idx1 && d->slots[s].idx1 - 1 < lowest_active)
			lowest_active = d->slots[s].idx1 - 1;
	rc = meta_set(w, "dedup_upto", lowest_active, err);
	if (rc == L3AF_OK)
		rc = meta_set(w, "dedup_run", d->run + 1, err);
	if (rc == L3AF_OK) {
		d->upto = lowest_active;
		d->run++;
		d->nfrozen = d->flushed = 0;
	}
	return rc;
}

/* Write up to budget frozen pairs, in key order, into the current run. */
static enum l3af_status flush_slice(struct tlog_writer *w, size_t budget, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;

	for (size_t n = 0; n < budget && d->flushed < d->nfrozen; n++) {
		struct dd_pair *p = &d->frozen[d->flushed];
		int step;
		sqlite3_bind_int64(d->insert, 1, (int64_t)d->run);
		sqlite3_bind_int64(d->insert, 2, (int64_t)p->key);
		sqlite3_bind_int64(d->insert, 3, (int64_t)p->idx);
		step = sqlite3_step(d->insert);
		sqlite3_reset(d->insert);
		if (step != SQLITE_DONE)
			return tlog_sqlite_fail(w->db, err, L3AF_E_IO, "insert dedup key");
		bloom_add(d, p->key);
		d->flushed++;
	}
	if (d->nfrozen == 0 || d->flushed < d->nfrozen)
		return L3AF_OK;
	return finish_run(w, err);
}

enum l3af_status tlog_dedup_add(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				uint64_t index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	if (d->count >= d->generation) {
		/* Normally drained long ago (each batch writes at least as many
		 * pairs as it adds); if not, finish it now. */
		rc = flush_slice(w, d->nfrozen - d->flushed, err);
		if (rc == L3AF_OK)
			freeze(d);
	}
	if (rc == L3AF_OK)
		active_put(d, tlog_dedup_key(leaf), index);
	return rc;
}

enum l3af_status tlog_dedup_flush(struct tlog_writer *w, size_t added, struct l3af_err *err)
{
	/* Twice the pairs added, and at least 256: the frozen generation is
	 * written before the active one fills. */
	return flush_slice(w, added * 2 > 256 ? added * 2 : 256, err);
}

/* ---- start-up -------------------------------------------------------------- */

/* Rebuild the memory part from the entries at or above dedup_upto into the
 * frozen array. At most two generations are pending: start-up completes the
 * run, and a generation is frozen only after the previous one is written. */
enum l3af_status tlog_dedup_rebuild(struct tlog_writer *w, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = tlog_meta_get(w->db, "dedup_upto", NULL, 0, &d->upto, err);

	memset(d->slots, 0, d->cap * sizeof(*d->slots));
	d->count = d->nfrozen = d->flushed = 0;
	if (rc == L3AF_OK)
		rc = tlog_meta_get(w->db, "dedup_run", NULL, 0, &d->run, err);
	if (rc == L3AF_OK && d->upto > w->size)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "dedup_upto %llu beyond size %llu",
			       (unsigned long long)d->upto, (unsigned long long)w->size);
	if (rc != L3AF_OK)
		return rc;
	if (sqlite3_prepare_v2(w->db, "SELECT idx, data FROM entries WHERE idx >= ? ORDER BY idx", -1,
			       &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "read entries for dedup");
	sqlite3_bind_int64(st, 1, (int64_t)d->upto);
	while (rc == L3AF_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint8_t leaf[TLOG_HASH_BYTES];
		if (d->nfrozen >= 2 * d->generation) {
			rc = l3af_fail(err, L3AF_E_CORRUPT,
				       "dedup: %llu entries above dedup_upto %llu (at most %zu expected)",
				       (unsigned long long)(w->size - d->upto),
				       (unsigned long long)d->upto, 2 * d->generation);
			break;
		}
		tlog_hash_leaf(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), leaf);
		d->frozen[d->nfrozen++] = (struct dd_pair){tlog_dedup_key(leaf),
							   (uint64_t)sqlite3_column_int64(st, 0)};
	}
	sqlite3_finalize(st);
	qsort(d->frozen, d->nfrozen, sizeof(*d->frozen), pair_cmp);
	return rc;
}

/* The table's keys go into the filter. */
static enum l3af_status bloom_load(struct tlog_writer *w, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	int step;

	if (sqlite3_prepare_v2(w->db, "SELECT key FROM dedup", -1, &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "read dedup keys");
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		bloom_add(w->dedup, (uint64_t)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "read dedup keys");
	return L3AF_OK;
}

/* Start-up: write everything pending into the current run in one
 * transaction and finish it (about 1 s per million entries pending). */
static enum l3af_status complete_run(struct tlog_writer *w, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc;

	if (d->nfrozen == 0)
		return L3AF_OK;
	if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_IO, "dedup: begin");
	rc = flush_slice(w, d->nfrozen, err);
	if (rc == L3AF_OK && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = tlog_sqlite_fail(w->db, err, L3AF_E_IO, "dedup: commit");
	if (rc != L3AF_OK)
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

enum l3af_status tlog_dedup_open(struct tlog_writer *w, size_t generation, struct l3af_err *err)
{
	struct tlog_dedup *d = l3af_calloc(1, sizeof(*d));
	enum l3af_status rc;

	if (!d)
		return l3af_fail(err, L3AF_E_NOMEM, "dedup: out of memory");
	w->dedup = d;
	d->generation = generation;
	for (d->cap = 16; d->cap < generation * 2; d->cap <<= 1)
		;
	d->slots = l3af_calloc(d->cap, sizeof(*d->slots));
	d->frozen = l3af_malloc(2 * generation * sizeof(*d->frozen));
	d->bloom = l3af_calloc(DD_BLOOM_BITS / 64, sizeof(*d->bloom));
	if (!d->slots || !d->frozen || !d->bloom)
		return l3af_fail(err, L3AF_E_NOMEM, "dedup: out of memory for %zu entries",
				 generation);
	if (sqlite3_prepare_v3(w->db, "SELECT idx FROM dedup WHERE run = ? AND key = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &d->probe, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "INSERT OR IGNORE INTO dedup(run, key, idx) VALUES(?, ?, ?)", -1,
			       SQLITE_PREPARE_PERSISTENT, &d->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "UPDATE meta SET value = ? WHERE key = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &d->meta_set, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "prepare dedup statements");
	rc = bloom_load(w, err);
	if (rc == L3AF_OK)
		rc = tlog_dedup_rebuild(w, err);
	if (rc == L3AF_OK)
		rc = complete_run(w, err);
	return rc;
}

void tlog_dedup_close(struct tlog_dedup *d)
{
	if (!d)
		return;
	sqlite3_finalize(d->probe);
	sqlite3_finalize(d->insert);
	sqlite3_finalize(d->meta_set);
	l3af_free(d->slots);
	l3af_free(d->frozen);
	l3af_free(d->bloom);
	l3af_free(d);
}

uint64_t tlog_dedup_upto(const struct tlog_dedup *d)
{
	return d->upto;
}
