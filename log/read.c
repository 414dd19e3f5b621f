/*
 * read.c - the read side of a stored log: tiles, entry bundles, entries,
 * the published checkpoint and proofs. Thread safe: each call borrows one
 * pooled read connection (WAL readers never block the writer) and only
 * serves what the published checkpoint covers.
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <string.h>

enum l3af_status tlog_tile_fetch(struct tlog_reader *r, unsigned level, uint64_t n,
				 uint8_t hashes[TLOG_TILE_WIDTH][TLOG_HASH_BYTES],
				 unsigned *width, struct l3af_err *err)
{
	enum l3af_status rc = L3AF_OK;
	int step;

	sqlite3_bind_int64(r->tile, 1, tlog_tile_key(level, n));
	step = sqlite3_step(r->tile);
	if (step == SQLITE_ROW) {
		size_t bytes = (size_t)sqlite3_column_bytes(r->tile, 0);
		if (bytes == 0 || bytes > TLOG_TILE_BYTES || bytes % TLOG_HASH_BYTES != 0)
			rc = l3af_fail(err, L3AF_E_CORRUPT, "tile %u/%llu has %zu bytes", level,
				       (unsigned long long)n, bytes);
		else {
			memcpy(hashes, sqlite3_column_blob(r->tile, 0), bytes);
			*width = (unsigned)(bytes / TLOG_HASH_BYTES);
		}
	} else if (step == SQLITE_DONE) {
		rc = l3af_fail(err, L3AF_E_NOTFOUND, "tile %u/%llu is not stored", level,
			       (unsigned long long)n);
	} else {
		rc = tlog_sqlite_fail(r->db, err, L3AF_E_IO, "read tile");
	}
	sqlite3_reset(r->tile);
	return rc;
}

/* Hash source over stored tiles with a small cache, for one operation. */
static enum l3af_status cached_tile(struct tlog_tile_cache *c, unsigned level, uint64_t n,
				    unsigned *slot, struct l3af_err *err)
{
	int64_t key = tlog_tile_key(level, n);
	unsigned s;

	for (s = 0; s < 4; s++)
		if (c->width[s] && c->key[s] == key) {
			*slot = s;
			return L3AF_OK;
		}
	s = c->next++ % 4;
	c->width[s] = 0;
	enum l3af_status rc = tlog_tile_fetch(c->r, level, n, c->hashes[s], &c->width[s], err);
	if (rc != L3AF_OK)
		return rc == L3AF_E_NOTFOUND ? L3AF_E_CORRUPT : rc;
	c->key[s] = key;
	*slot = s;
	return L3AF_OK;
}

static enum l3af_status tile_node(void *ctx, unsigned height, uint64_t index,
				  uint8_t out[static TLOG_HASH_BYTES], struct l3af_err *err)
{
	struct tlog_tile_cache *c = ctx;
	unsigned level = height / TLOG_TILE_HEIGHT, sub = height % TLOG_TILE_HEIGHT, slot = 0;
	uint64_t first = index << sub, count = (uint64_t)1 << sub;
	uint64_t off = first % TLOG_TILE_WIDTH;
	enum l3af_status rc = cached_tile(c, level, first / TLOG_TILE_WIDTH, &slot, err);

	if (rc != L3AF_OK)
		return rc;
	if (off + count > c->width[slot])
		return l3af_fail(err, L3AF_E_CORRUPT, "tile %u/%llu too short for node %u/%llu",
				 level, (unsigned long long)(first / TLOG_TILE_WIDTH), height,
				 (unsigned long long)index);
	tlog_hash_range((const uint8_t(*)[TLOG_HASH_BYTES])c->hashes[slot] + off, (size_t)count,
			out);
	return L3AF_OK;
}

void tlog_tile_source(struct tlog_tile_cache *cache, struct tlog_reader *r,
		      struct tlog_hash_source *src)
{
	memset(cache->width, 0, sizeof(cache->width));
	cache->next = 0;
	cache->r = r;
	src->node = tile_node;
	src->ctx = cache;
}

enum l3af_status tlog_checkpoint_get(struct tlog *log, char **out, size_t *len,
				     struct l3af_err *err)
{
	char *copy;

	pthread_mutex_lock(&log->pub_lock);
	copy = l3af_malloc(log->pub_note_len + 1);
	if (copy) {
		memcpy(copy, log->pub_note, log->pub_note_len + 1);
		*len = log->pub_note_len;
	}
	pthread_mutex_unlock(&log->pub_lock);
	if (!copy)
		return l3af_fail(err, L3AF_E_NOMEM, "checkpoint: out of memory");
	*out = copy;
	return L3AF_OK;
}

static enum l3af_status read_hash_tile(struct tlog *log, const struct tlog_tile_id *id,
				       uint8_t **out, size_t *len, struct l3af_err *err)
{
	uint8_t(*hashes)[TLOG_HASH_BYTES] = l3af_malloc(TLOG_TILE_BYTES);
	struct tlog_reader *r;
	unsigned got = 0;
	enum l3af_status rc;

	if (!hashes)
		return l3af_fail(err, L3AF_E_NOMEM, "tile: out of memory");
	r = tlog_reader_get(log);
	rc = tlog_tile_fetch(r, (unsigned)id->level, id->n, hashes, &got, err);
	tlog_reader_put(r);
	/* The published size says the tile exists: absent or short is damage. */
	if (rc == L3AF_E_NOTFOUND || (rc == L3AF_OK && got < id->width))
		rc = l3af_fail(err, L3AF_E_CORRUPT, "tile shorter than the published size implies");
	if (rc != L3AF_OK) {
		l3af_free(hashes);
		return rc;
	}
	/* A partial tile narrower than the stored row is its stable prefix. */
	*out = (uint8_t *)hashes;
	*len = (size_t)id->width * TLOG_HASH_BYTES;
	return L3AF_OK;
}

/* Entry bundle: uint16 big-endian length || entry, for each entry. */
static enum l3af_status read_bundle(struct tlog *log, const struct tlog_tile_id *id,
				    uint8_t **out, size_t *len, struct l3af_err *err)
{
	uint64_t first = id->n * TLOG_TILE_WIDTH;
	size_t cap = (size_t)id->width * (2 + 256), used = 0;
	uint8_t *buf = l3af_malloc(cap);
	struct tlog_reader *r;
	enum l3af_status rc = L3AF_OK;

	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM, "bundle: out of memory");
	r = tlog_reader_get(log);
	sqlite3_bind_int64(r->entries, 1, (int64_t)first);
	sqlite3_bind_int64(r->entries, 2, (int64_t)(first + id->width));
	for (unsigned i = 0; rc == L3AF_OK && i < id->width; i++) {
		if (sqlite3_step(r->entries) != SQLITE_ROW ||
		    (uint64_t)sqlite3_column_int64(r->entries, 0) != first + i) {
			rc = l3af_fail(err, L3AF_E_CORRUPT, "entry %llu missing",
				       (unsigned long long)(first + i));
			break;
		}
		size_t n = (size_t)sqlite3_column_bytes(r->entries, 1);
		if (n == 0 || n > TLOG_ENTRY_MAX) {
			rc = l3af_fail(err, L3AF_E_CORRUPT, "entry %llu has %zu bytes",
				       (unsigned long long)(first + i), n);
			break;
		}
		if (used + 2 + n > cap) {
			size_t ncap = (used + 2 + n) * 2;
			uint8_t *nb = l3af_realloc(buf, ncap);
			if (!nb) {
				rc = l3af_fail(err, L3AF_E_NOMEM, "bundle: out of memory");
				break;
			}
			buf = nb, cap = ncap;
		}
		buf[used] = (uint8_t)(n >> 8);
		buf[used + 1] = (uint8_t)n;
		memcpy(buf + used + 2, sqlite3_column_blob(r->entries, 1), n);
		used += 2 + n;
	}
	sqlite3_reset(r->entries);
	tlog_reader_put(r);
	if (rc != L3AF_OK) {
		l3af_free(buf);
		return rc;
	}
	*out = buf;
	*len = used;
	return L3AF_OK;
}

enum l3af_status tlog_tile_read(struct tlog *log, const struct tlog_tile_id *id,
				uint8_t **out, size_t *len, struct l3af_err *err)
{
	uint64_t size = tlog_size(log);
	unsigned have = tlog_tile_width_at(id->level, id->n, size);

	if (id->width == 0 || id->width > TLOG_TILE_WIDTH)
		return l3af_fail(err, L3AF_E_INVALID, "tile width %u", id->width);
	/* A partial tile narrower than what exists is a stable prefix of it. */
	if (have < id->width)
		return l3af_fail(err, L3AF_E_NOTFOUND, "tile not in the published tree (size %llu)",
				 (unsigned long long)size);
	if (id->level == TLOG_TILE_ENTRIES)
		return read_bundle(log, id, out, len, err);
	return read_hash_tile(log, id, out, len, err);
}

enum l3af_status tlog_entry_read(struct tlog *log, uint64_t index, uint8_t **out,
				 size_t *len, struct l3af_err *err)
{
	struct tlog_reader *r;
	uint8_t *buf = NULL;
	enum l3af_status rc = L3AF_OK;

	if (index >= tlog_size(log))
		return l3af_fail(err, L3AF_E_NOTFOUND, "entry %llu is not in the published tree",
				 (unsigned long long)index);
	r = tlog_reader_get(log);
	sqlite3_bind_int64(r->entries, 1, (int64_t)index);
	sqlite3_bind_int64(r->entries, 2, (int64_t)index + 1);
	if (sqlite3_step(r->entries) != SQLITE_ROW) {
		rc = l3af_fail(err, L3AF_E_CORRUPT, "entry %llu missing", (unsigned long long)index);
	} else {
		*len = (size_t)sqlite3_column_bytes(r->entries, 1);
		buf = l3af_malloc(*len ? *len : 1);
		if (!buf)
			rc = l3af_fail(err, L3AF_E_NOMEM, "entry: out of memory");
		else
			memcpy(buf, sqlite3_column_blob(r->entries, 1), *len);
	}
	sqlite3_reset(r->entries);
	tlog_reader_put(r);
	if (rc == L3AF_OK)
		*out = buf;
	return rc;
}

/* Run a proof generator against the stored tiles. */
static enum l3af_status with_tiles(struct tlog *log, uint64_t a, uint64_t b, int consistency,
				   uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
				   struct l3af_err *err)
{
	struct tlog_tile_cache *cache = l3af_malloc(sizeof(*cache));
	struct tlog_hash_source src;
	struct tlog_reader *r;
	enum l3af_status rc;

	if (!cache)
		return l3af_fail(err, L3AF_E_NOMEM, "proof: out of memory");
	r = tlog_reader_get(log);
	tlog_tile_source(cache, r, &src);
	rc = consistency ? tlog_consistency_prove(&src, a, b, proof, n, err)
			 : tlog_inclusion_prove(&src, a, b, proof, n, err);
	tlog_reader_put(r);
	l3af_free(cache);
	return rc;
}

enum l3af_status tlog_prove_inclusion(struct tlog *log, uint64_t index, uint64_t size,
				      uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
				      struct l3af_err *err)
{
	if (size > tlog_size(log))
		return l3af_fail(err, L3AF_E_NOTFOUND, "size %llu is beyond the published tree",
				 (unsigned long long)size);
	return with_tiles(log, index, size, 0, proof, n, err);
}

enum l3af_status tlog_prove_consistency(struct tlog *log, uint64_t size1, uint64_t size2,
					uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
					struct l3af_err *err)
{
	if (size2 > tlog_size(log))
		return l3af_fail(err, L3AF_E_NOTFOUND, "size %llu is beyond the published tree",
				 (unsigned long long)size2);
	return with_tiles(log, size1, size2, 1, proof, n, err);
}
