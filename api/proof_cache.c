/*
 * proof_cache.c - inclusion proofs for the v1 queries (bundles, the keys
 * entry's proof, /v1/proof/inclusion) through a bounded cache of "tile
 * trees": for a tile (level L, index N, width W) every complete subtree hash
 * inside it, heights 0..8 (the tile's own hashes at height 0).
 *
 * Why: a proof node at height 8L+s is the hash of 2^s consecutive hashes of
 * a level-L tile, so the log's own prover (tlog_prove_inclusion) reads a
 * tile from SQLite and recomputes about 2 x 255 SHA-256 per proof. Here a
 * tile tree is computed once (255 SHA-256) and every proof node inside it is
 * a 32-byte copy afterwards.
 *
 * Memory: API_PROOF_CACHE_SLOTS slots of one tile tree each (511 hashes,
 * 16,352 bytes), 128 sets of 4 ways keyed by (level, N), least recently
 * used way evicted: about 8 MiB at most, whatever the log's size. A full
 * tile (W = 256) never changes; a partial tile is cached with its width and
 * replaced by a wider one when a proof needs more of it (a narrower one is a
 * prefix, so both give the same hashes for the nodes they hold).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <string.h>

#define SETS (API_PROOF_CACHE_SLOTS / WAYS)
#define WAYS 4
#define TREE_NODES (2 * TLOG_TILE_WIDTH - 1) /* heights 0..8 of a full tile */

struct tree {
	uint8_t node[TREE_NODES][TLOG_HASH_BYTES];
};

struct way {
	struct tree *t; /* NULL: empty */
	int level;
	uint64_t n;
	unsigned width;
	uint64_t used; /* LRU stamp */
};

struct api_proof_cache {
	pthread_mutex_t lock;
	uint64_t clock;
	uint64_t hits, misses;
	struct way set[SETS][WAYS];
};

/* First node of height h (0..8) in struct tree. */
static size_t height_offset(unsigned h)
{
	return 2 * TLOG_TILE_WIDTH - (2 * TLOG_TILE_WIDTH >> h);
}

enum l3af_status api_proof_cache_new(struct api_proof_cache **out, struct l3af_err *err)
{
	struct api_proof_cache *c = l3af_calloc(1, sizeof(*c));

	if (!c)
		return l3af_fail(err, L3AF_E_NOMEM, "proof cache: out of memory");
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return L3AF_OK;
}

void api_proof_cache_free(struct api_proof_cache *c)
{
	if (!c)
		return;
	for (size_t s = 0; s < SETS; s++)
		for (size_t w = 0; w < WAYS; w++)
			l3af_free(c->set[s][w].t);
	pthread_mutex_destroy(&c->lock);
	l3af_free(c);
}

void api_proof_cache_stats(struct api_proof_cache *c, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static size_t set_of(int level, uint64_t n)
{
	uint64_t h = (n ^ ((uint64_t)level << 56)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) % SETS;
}

/* Copy node (sub, k) of tile (level, n) if a cached tree holds it. */
static bool lookup(struct api_proof_cache *c, int level, uint64_t n, unsigned sub, uint64_t k,
		   unsigned need, uint8_t out[static TLOG_HASH_BYTES])
{
	struct way *ways = c->set[set_of(level, n)];
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	for (size_t w = 0; w < WAYS; w++) {
		struct way *x = &ways[w];
		if (x->t && x->level == level && x->n == n && x->width >= need) {
			memcpy(out, x->t->node[height_offset(sub) + k], TLOG_HASH_BYTES);
			x->used = ++c->clock;
			hit = true;
			break;
		}
	}
	c->hits += hit;
	c->misses += !hit;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* Put t in: over a narrower tree of the same tile, else over the LRU way. */
static void insert(struct api_proof_cache *c, int level, uint64_t n, unsigned width,
		   struct tree *t)
{
	struct way *ways = c->set[set_of(level, n)], *victim = &ways[0];
	struct tree *old;

	pthread_mutex_lock(&c->lock);
	for (size_t w = 0; w < WAYS; w++) {
		struct way *x = &ways[w];
		if (x->t && x->level == level && x->n == n) {
			victim = x;
			break;
		}
		if (!x->t || (victim->t && x->used < victim->used))
			victim = x;
	}
	if (victim->t && victim->level == level && victim->n == n && victim->width >= width) {
		old = t; /* another thread was first */
	} else {
		old = victim->t;
		*victim = (struct way){.t = t, .level = level, .n = n, .width = width,
				       .used = ++c->clock};
	}
	pthread_mutex_unlock(&c->lock);
	l3af_free(old);
}

/* Read tile (level, n, width) and hash every complete subtree in it. */
static enum l3af_status build(struct tlog *log, int level, uint64_t n, unsigned width,
			      struct tree **out, struct l3af_err *err)
{
	struct tlog_tile_id id = {.level = level, .n = n, .width = width};
	struct tree *t = l3af_malloc(sizeof(*t));
	uint8_t *bytes = NULL;
	size_t len = 0;
	enum l3af_status rc;

	if (!t)
		return l3af_fail(err, L3AF_E_NOMEM, "proof cache: out of memory");
	rc = tlog_tile_read(log, &id, &bytes, &len, err);
	if (rc == L3AF_E_NOTFOUND) /* the published tree says it exists */
		rc = l3af_fail(err, L3AF_E_CORRUPT, "tile %d/%llu missing", level,
			       (unsigned long long)n);
	if (rc == L3AF_OK && len != (size_t)width * TLOG_HASH_BYTES)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "tile %d/%llu has %zu bytes", level,
			       (unsigned long long)n, len);
	if (rc != L3AF_OK) {
		l3af_free(bytes);
		l3af_free(t);
		return rc;
	}
	memcpy(t->node, bytes, len);
	l3af_free(bytes);
	for (unsigned h = 1; h <= TLOG_TILE_HEIGHT; h++) {
		size_t lo = height_offset(h - 1), hi = height_offset(h);
		for (size_t k = 0; k < (width >> h); k++)
			tlog_hash_node(t->node[lo + 2 * k], t->node[lo + 2 * k + 1], t->node[hi + k]);
	}
	*out = t;
	return L3AF_OK;
}

struct source {
	struct api_server *s;
	uint64_t size;
};

static enum l3af_status cached_node(void *ctx, unsigned height, uint64_t index,
				    uint8_t out[static TLOG_HASH_BYTES], struct l3af_err *err)
{
	struct source *src = ctx;
	struct api_proof_cache *c = src->s->proofs;
	int level = (int)(height / TLOG_TILE_HEIGHT);
	unsigned sub = height % TLOG_TILE_HEIGHT, width;
	uint64_t first = index << sub, n = first / TLOG_TILE_WIDTH;
	unsigned off = (unsigned)(first % TLOG_TILE_WIDTH), need = off + (1u << sub);
	struct tree *t = NULL;
	enum l3af_status rc;

	if (lookup(c, level, n, sub, off >> sub, need, out))
		return L3AF_OK;
	width = tlog_tile_width_at(level, n, src->size);
	if (width < need)
		return l3af_fail(err, L3AF_E_INTERNAL, "node %u/%llu outside the tree of size %llu",
				 height, (unsigned long long)index, (unsigned long long)src->size);
	rc = build(src->s->log, level, n, width, &t, err);
	if (rc != L3AF_OK)
		return rc;
	memcpy(out, t->node[height_offset(sub) + (off >> sub)], TLOG_HASH_BYTES);
	insert(c, level, n, width, t);
	return L3AF_OK;
}

enum l3af_status api_prove_inclusion(struct api_server *s, uint64_t index, uint64_t size,
				     uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
				     struct l3af_err *err)
{
	struct source src = {.s = s, .size = size};
	struct tlog_hash_source hs = {.node = cached_node, .ctx = &src};

	if (size > tlog_size(s->log))
		return l3af_fail(err, L3AF_E_NOTFOUND, "size %llu is beyond the published tree",
				 (unsigned long long)size);
	return tlog_inclusion_prove(&hs, index, size, proof, n, err);
}
