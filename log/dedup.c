/*
 * dedup.c - find an identical entry already in the log, at a cost that does
 * not grow with the log (docs/log.md "Deduplication").
 *
 * Keys are the first 8 bytes of the leaf hash, so they are random: inserting
 * each into one big B-tree would dirty a different page per entry and the
 * append rate would fall as the log grows. Instead (a two-level LSM, like
 * Tessera's antispam that follows the log):
 *  - keys of recent entries live in memory: an "active" hash table, and a
 *    "frozen" sorted array of the previous generation;
 *  - each append transaction also moves a slice of the frozen array, in key
 *    order, into the SQLite table dedup(key, idx); a slice covers a narrow
 *    key range, so it dirties few pages;
 *  - meta "dedup_upto": every entry below this index is in the table. The
 *    memory part is exactly the entries from dedup_upto to the size, and is
 *    rebuilt from them at start-up (and after a failed transaction).
 * A fixed-size Bloom filter over the table's keys (32 MiB) answers "not in
 * the table" for almost every new entry without reading the table: at 10M
 * entries about one lookup in 6,000 still probes it, at 100M about half.
 * It is rebuilt from the table at start-up; rolled-back flushes only leave
 * false positives.
 * Memory is bounded by the generation size, not by the log. Equal 64-bit
 * prefixes of different entries are allowed everywhere: the table probes
 * key, key+1, ... and every candidate's bytes are compared.
 */
#include "tlog_internal.h"

#include <stdlib.h>
#include <string.h>

size_t tlog_dedup_generation = TLOG_DEDUP_GENERATION;

struct dd_pair {
	uint64_t key;
	uint64_t idx;
};

/* One cache line holds four slots; key and index side by side. */
struct dd_slot {
	uint64_t key;
	uint64_t idx1;
};

struct tlog_dedup {
	size_t generation;        /* entries per in-memory generation */
	/* active: open addressing, linear probing; idx1 = index + 1, 0 = empty */
	struct dd_slot *slots;
	size_t cap, count;
	/* frozen: sorted by key; [flushed, nfrozen) not yet in the table */
	struct dd_pair *frozen;
	size_t nfrozen, flushed;
	uint64_t upto;            /* meta dedup_upto */
	uint64_t *bloom;          /* DD_BLOOM_BITS bits over the table's keys */
	sqlite3_stmt *probe, *meta_set;
};

#define DD_BLOOM_BITS (1ull << 28) /* 32 MiB */
#define DD_BLOOM_PROBES 4

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

static size_t slot_of(const struct tlog_dedup *d, uint64_t key)
{
	/* Keys are already uniform; fold the top bits in anyway. */
	return (size_t)((key ^ (key >> 29)) & (d->cap - 1));
}

static void active_put(struct tlog_dedup *d, uint64_t key, uint64_t idx)
{
	size_t s = slot_of(d, key);

	while (d->slots[s].idx1)
		s = (s + 1) & (d->cap - 1);
	d->slots[s] = (struct dd_slot){key, idx + 1};
	d->count++;
}

/* Is entry e (leaf hash known) the entry at idx? */
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

static enum l3af_status find_active(struct tlog_writer *w, uint64_t key, const struct tlog_entry *e,
				    bool *found, uint64_t *index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	for (size_t s = slot_of(d, key); d->slots[s].idx1 && rc == L3AF_OK;
	     s = (s + 1) & (d->cap - 1)) {
		if (d->slots[s].key != key)
			continue;
		rc = same_entry(w, d->slots[s].idx1 - 1, e, found, err);
		if (rc == L3AF_OK && *found) {
			*index = d->slots[s].idx1 - 1;
			return L3AF_OK;
		}
	}
	return rc;
}

/* First position in [lo, hi) whose key is >= key (keys sorted, and
 * frozen[lo].key <= key <= frozen[hi - 1].key). */
static size_t lower_bound(const struct dd_pair *a, size_t lo, size_t hi, uint64_t key)
{
	uint64_t kmin = a[lo].key, span = a[hi - 1].key - kmin;
	size_t n = hi - lo, g = lo;

	if (span)
		g = lo + (size_t)(((unsigned __int128)(key - kmin) * (n - 1)) / span);
	for (int steps = 0; steps < 32; steps++) {
		if (g > lo && a[g - 1].key >= key)
			g--;
		else if (g < hi && a[g].key < key)
			g++;
		else
			return g;
	}
	while (lo < hi) { /* the guess was poor: binary search */
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

	/* Keys are uniform, so guess where the key sits within the remaining
	 * part's key range and walk a few steps (one or two cache misses);
	 * fall back to a binary search if the walk runs long. */
	if (lo >= hi || key < d->frozen[lo].key || key > d->frozen[hi - 1].key)
		return L3AF_OK;
	lo = lower_bound(d->frozen, lo, hi, key);
	for (; lo < d->nfrozen && d->frozen[lo].key == key && rc == L3AF_OK; lo++) {
		rc = same_entry(w, d->frozen[lo].idx, e, found, err);
		if (rc == L3AF_OK && *found) {
			*index = d->frozen[lo].idx;
			return L3AF_OK;
		}
	}
	return rc;
}

/* Probe the table from key; *free_key receives the first absent key. */
static enum l3af_status probe_table(struct tlog_writer *w, uint64_t key, const struct tlog_entry *e,
				    bool *found, uint64_t *index, uint64_t *free_key,
				    struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	for (;; key++) {
		sqlite3_bind_int64(d->probe, 1, (int64_t)key);
		int step = sqlite3_step(d->probe);
		uint64_t idx = (uint64_t)sqlite3_column_int64(d->probe, 0);
		sqlite3_reset(d->probe);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			return tlog_sqlite_fail(w->db, err, L3AF_E_IO, "dedup lookup");
		if (!e)
			continue;
		rc = same_entry(w, idx, e, found, err);
		if (rc != L3AF_OK || *found) {
			*index = idx;
			return rc;
		}
	}
	if (free_key)
		*free_key = key;
	return L3AF_OK;
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
		rc = probe_table(w, key, e, found, index, NULL, err);
	return rc;
}

/* Sort helper for freezing. */
static int pair_cmp(const void *a, const void *b)
{
	const struct dd_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Turn the active table into the frozen array (which must be drained). */
static enum l3af_status freeze(struct tlog_dedup *d, struct l3af_err *err)
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
	return n <= d->generation * 2 ? L3AF_OK
				      : l3af_fail(err, L3AF_E_INTERNAL, "dedup: generation overflow");
}

static enum l3af_status set_upto(struct tlog_writer *w, uint64_t upto, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	int step;

	sqlite3_bind_int64(d->meta_set, 1, (int64_t)upto);
	step = sqlite3_step(d->meta_set);
	sqlite3_reset(d->meta_set);
	if (step != SQLITE_DONE)
		return tlog_sqlite_fail(w->db, err, L3AF_E_IO, "update dedup_upto");
	d->upto = upto;
	return L3AF_OK;
}

static int insert_pair(struct tlog_writer *w, uint64_t key, uint64_t idx)
{
	int step;

	sqlite3_bind_int64(w->dedup_insert, 1, (int64_t)key);
	sqlite3_bind_int64(w->dedup_insert, 2, (int64_t)idx);
	step = sqlite3_step(w->dedup_insert);
	sqlite3_reset(w->dedup_insert);
	return step;
}

/* Move up to budget frozen pairs into the table, in key order. When the
 * frozen array is empty, dedup_upto moves to where the active one starts. */
static enum l3af_status flush_slice(struct tlog_writer *w, size_t budget, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;
	uint64_t lowest_active = UINT64_MAX;

	for (size_t n = 0; n < budget && d->flushed < d->nfrozen && rc == L3AF_OK; n++) {
		struct dd_pair *p = &d->frozen[d->flushed];
		uint64_t key = p->key;
		int step = insert_pair(w, key, p->idx);
		if (step == SQLITE_CONSTRAINT) {
			/* Taken by an equal prefix: the next free key after it. */
			bool found = false;
			uint64_t ignored;
			rc = probe_table(w, key, NULL, &found, &ignored, &key, err);
			step = rc == L3AF_OK ? insert_pair(w, key, p->idx) : SQLITE_DONE;
		}
		if (rc == L3AF_OK && step != SQLITE_DONE)
			rc = tlog_sqlite_fail(w->db, err, L3AF_E_IO, "insert dedup key");
		if (rc == L3AF_OK)
			bloom_add(d, p->key);
		d->flushed++;
	}
	if (rc != L3AF_OK || d->flushed < d->nfrozen || d->nfrozen == 0)
		return rc;
	/* Drained: everything not in the active table is now in the table. */
	for (size_t s = 0; s < d->cap; s++)
		if (d->slots[s].idx1 && d->slots[s].idx1 - 1 < lowest_active)
			lowest_active = d->slots[s].idx1 - 1;
	d->nfrozen = d->flushed = 0;
	return set_upto(w, lowest_active == UINT64_MAX ? w->size : lowest_active, err);
}

enum l3af_status tlog_dedup_add(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				uint64_t index, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	enum l3af_status rc = L3AF_OK;

	if (d->count >= d->generation) {
		/* Normally drained long ago (each batch flushes at least as many
		 * pairs as it adds); if not, finish it now. */
		rc = flush_slice(w, d->nfrozen - d->flushed, err);
		if (rc == L3AF_OK)
			rc = freeze(d, err);
	}
	if (rc == L3AF_OK)
		active_put(d, tlog_dedup_key(leaf), index);
	return rc;
}

enum l3af_status tlog_dedup_flush(struct tlog_writer *w, size_t added, struct l3af_err *err)
{
	/* Twice the pairs added, and at least 256: the frozen generation
	 * drains before the active one fills. */
	return flush_slice(w, added * 2 > 256 ? added * 2 : 256, err);
}

/* Rebuild the memory part from the entries at or above dedup_upto. */
enum l3af_status tlog_dedup_rebuild(struct tlog_writer *w, struct l3af_err *err)
{
	struct tlog_dedup *d = w->dedup;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;
	int64_t upto = 0;

	memset(d->slots, 0, d->cap * sizeof(*d->slots));
	d->count = d->nfrozen = d->flushed = 0;
	if (sqlite3_prepare_v2(w->db, "SELECT value FROM meta WHERE key = 'dedup_upto'", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return l3af_fail(err, L3AF_E_CORRUPT, "database: meta 'dedup_upto' missing");
	}
	upto = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (upto < 0 || (uint64_t)upto > w->size)
		return l3af_fail(err, L3AF_E_CORRUPT, "dedup_upto %lld beyond size %llu",
				 (long long)upto, (unsigned long long)w->size);
	d->upto = (uint64_t)upto;
	if (sqlite3_prepare_v2(w->db, "SELECT idx, data FROM entries WHERE idx >= ? ORDER BY idx", -1,
			       &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "read entries for dedup");
	sqlite3_bind_int64(st, 1, upto);
	/* Everything unflushed goes to the frozen array, which drains first. */
	while (rc == L3AF_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint8_t leaf[TLOG_HASH_BYTES];
		if (d->nfrozen >= 2 * d->generation) {
			rc = l3af_fail(err, L3AF_E_CORRUPT, "dedup: %llu unflushed entries",
				       (unsigned long long)(w->size - d->upto));
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

/* Every key slot in the table goes into the filter. A probed slot S holds
 * an entry whose natural key K < S lies in the same run of occupied slots,
 * and K is itself a slot of that run, so every natural key is covered. */
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

enum l3af_status tlog_dedup_open(struct tlog_writer *w, size_t generation, struct l3af_err *err)
{
	struct tlog_dedup *d = l3af_calloc(1, sizeof(*d));

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
	if (sqlite3_prepare_v3(w->db, "SELECT idx FROM dedup WHERE key = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &d->probe, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "UPDATE meta SET value = ? WHERE key = 'dedup_upto'", -1,
			       SQLITE_PREPARE_PERSISTENT, &d->meta_set, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(w->db, err, L3AF_E_CORRUPT, "prepare dedup statements");
	enum l3af_status rc = bloom_load(w, err);
	return rc == L3AF_OK ? tlog_dedup_rebuild(w, err) : rc;
}

void tlog_dedup_close(struct tlog_dedup *d)
{
	if (!d)
		return;
	sqlite3_finalize(d->probe);
	sqlite3_finalize(d->meta_set);
	l3af_free(d->slots);
	l3af_free(d->bloom);
	l3af_free(d->frozen);
	l3af_free(d);
}

uint64_t tlog_dedup_upto(const struct tlog_dedup *d)
{
	return d->upto;
}
