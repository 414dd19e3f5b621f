/*
 * test_proof_cache.c - the server's cached inclusion proofs (api/proof_cache.c)
 * equal the log's own (tlog_prove_inclusion) on a real 70,000-entry log:
 * tiles at levels 0, 1 and 2, full and partial, at many tree sizes, with the
 * cache both cold and warm and slots evicted and replaced by wider partials.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_internal.h"
#include "testutil.h"

#define ENTRIES 70000u
#define BATCH 4096u

static char *dir;
static struct tlog *log_;
static struct api_server *srv;

static int setup(void **state)
{
	static uint8_t buf[BATCH][256];
	static struct tlog_entry ents[BATCH];
	static uint64_t idx[BATCH];
	struct l3af_err err = {0};
	struct api_config cfg = {.listen = "127.0.0.1:0"};

	(void)state;
	dir = tu_tempdir("proofcache");
	assert_int_equal(tlog_create(dir, "proof-cache.test/log", &err), L3AF_OK);
	assert_int_equal(tlog_open(dir, TLOG_OPEN_WRITER, &log_, &err), L3AF_OK);
	for (uint64_t done = 0; done < ENTRIES;) {
		size_t n = ENTRIES - done < BATCH ? (size_t)(ENTRIES - done) : BATCH;
		for (size_t i = 0; i < n; i++) {
			ents[i].data = buf[i];
			ents[i].len = tu_entry(done + i, buf[i]);
		}
		assert_int_equal(tlog_append(log_, ents, n, idx, &err), L3AF_OK);
		done += n;
	}
	assert_int_equal(api_server_start(log_, &cfg, &srv, &err), L3AF_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	api_server_stop(srv);
	tlog_close(log_);
	tu_rmtree(dir);
	return 0;
}

static void check(uint64_t index, uint64_t size)
{
	static uint8_t a[TLOG_PROOF_MAX][TLOG_HASH_BYTES], b[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	struct l3af_err err = {0};
	size_t na = 0, nb = 0;

	assert_int_equal(api_prove_inclusion(srv, index, size, a, &na, &err), L3AF_OK);
	assert_int_equal(tlog_prove_inclusion(log_, index, size, b, &nb, &err), L3AF_OK);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * TLOG_HASH_BYTES);
}

/* Edges: first and last entries at sizes around tile boundaries, growing
 * sizes (partial tiles replaced by wider ones), then random pairs (which
 * evict: 70,000 entries need 274 level-0 tiles, more than a set holds). */
static void test_cached_proofs_equal_log_proofs(void **state)
{
	static const uint64_t sizes[] = {1, 2, 3, 255, 256, 257, 511, 512, 513, 65535,
					 65536, 65537, 69999, 70000};
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t s = sizes[i];
		check(0, s);
		check(s - 1, s);
		check(s / 2, s);
	}
	for (uint64_t s = 300; s < 1400; s += 7)
		check(s - 1 - s % 5, s);
	srand(7);
	for (int t = 0; t < 4000; t++) {
		uint64_t size = 1 + ((uint64_t)rand() * RAND_MAX + (uint64_t)rand()) % ENTRIES;
		if (t % 3 == 0)
			size = ENTRIES - (uint64_t)rand() % 600;
		check(((uint64_t)rand() * RAND_MAX + (uint64_t)rand()) % size, size);
	}
	uint64_t hits = 0, misses = 0;
	api_proof_cache_stats(srv->proofs, &hits, &misses);
	assert_true(hits > 0 && misses > 0);
}

/* Out of range is refused, as tlog_prove_inclusion refuses it. */
static void test_refusals(void **state)
{
	static uint8_t a[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	struct l3af_err err = {0};
	size_t n = 0;

	(void)state;
	assert_int_not_equal(api_prove_inclusion(srv, 5, 5, a, &n, &err), L3AF_OK);
	l3af_err_clear(&err);
	assert_int_not_equal(api_prove_inclusion(srv, 0, ENTRIES + 1, a, &n, &err), L3AF_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cached_proofs_equal_log_proofs),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
