/*
 * testutil.h - small helpers shared by the tests (header-only, static).
 * Includes cmocka itself, so include this instead of <cmocka.h>.
 */
#ifndef L3AF_TESTUTIL_H
#define L3AF_TESTUTIL_H

#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlog.h"

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *tu_tempdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;

	assert_true(asprintf(&path, "%s/l3af-%s-XXXXXX", base ? base : "/tmp", tag) > 0);
	assert_non_null(mkdtemp(path));
	return path;
}

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* rm -rf dir, then free the string. */
static inline void tu_rmtree(char *dir)
{
	if (dir)
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* Deterministic entry number i: about 200 bytes, distinct for distinct i. */
static inline size_t tu_entry(uint64_t i, uint8_t buf[256])
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
	int n = snprintf((char *)buf, 256, "{\"entry\":%llu,\"pad\":\"", (unsigned long long)i);
	size_t len = 180 + (size_t)(i % 40);

	for (size_t k = (size_t)n; k < len - 2; k++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[k] = (uint8_t)('a' + x % 26);
	}
	buf[len - 2] = '"';
	buf[len - 1] = '}';
	return len;
}

/* RFC 9162 MTH over leaf hashes, written out plainly (independent of
 * tlog_hash_range) so that tests compare against the definition. */
static inline void tu_naive_mth(const uint8_t (*leaves)[TLOG_HASH_BYTES], uint64_t n,
				uint8_t out[TLOG_HASH_BYTES])
{
	uint8_t l[TLOG_HASH_BYTES], r[TLOG_HASH_BYTES];
	uint64_t k = 1;

	if (n == 0) {
		tlog_hash_empty(out);
		return;
	}
	if (n == 1) {
		memcpy(out, leaves[0], TLOG_HASH_BYTES);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	tu_naive_mth(leaves, k, l);
	tu_naive_mth(leaves + k, n - k, r);
	tlog_hash_node(l, r, out);
}

/* An in-memory tree of n leaves (leaf i = the 8-byte little-endian i),
 * every complete subtree hash stored level by level, and a hash source over
 * it for proof generation. */
struct tu_memtree {
	uint64_t leaves;
	unsigned levels;
	uint8_t (*level[64])[TLOG_HASH_BYTES];
};

static inline void tu_memtree_build(struct tu_memtree *t, uint64_t n)
{
	t->leaves = n;
	t->level[0] = malloc(n * TLOG_HASH_BYTES);
	assert_non_null(t->level[0]);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t data[8];
		for (int b = 0; b < 8; b++)
			data[b] = (uint8_t)(i >> (8 * b));
		tlog_hash_leaf(data, sizeof(data), t->level[0][i]);
	}
	t->levels = 1;
	for (uint64_t w = n / 2; w >= 1; w /= 2) {
		uint8_t(*up)[TLOG_HASH_BYTES] = malloc(w * TLOG_HASH_BYTES);
		uint8_t(*down)[TLOG_HASH_BYTES] = t->level[t->levels - 1];
		assert_non_null(up);
		for (uint64_t i = 0; i < w; i++)
			tlog_hash_node(down[2 * i], down[2 * i + 1], up[i]);
		t->level[t->levels++] = up;
	}
}

static inline void tu_memtree_free(struct tu_memtree *t)
{
	for (unsigned i = 0; i < t->levels; i++)
		free(t->level[i]);
}

static inline enum l3af_status tu_memtree_node(void *ctx, unsigned height, uint64_t index,
					       uint8_t out[static TLOG_HASH_BYTES],
					       struct l3af_err *err)
{
	struct tu_memtree *t = ctx;

	if (height >= t->levels || ((index + 1) << height) > t->leaves)
		return l3af_fail(err, L3AF_E_INTERNAL, "node %u/%llu out of range", height,
				 (unsigned long long)index);
	memcpy(out, t->level[height][index], TLOG_HASH_BYTES);
	return L3AF_OK;
}

#endif
