/*
 * test_merkle.c - RFC 9162 hashing and proofs.
 *  - every file of tests/vectors/merkle (transparency-dev/merkle testdata):
 *    happy paths verify, every mutated case fails;
 *  - the RFC 6962 reference tree roots (transparency-dev/merkle testonly);
 *  - generated proofs for every (index, size) up to 300 and every
 *    consistency pair up to 150, each also failing after single-bit changes;
 *  - random proofs in a tree of 10^6 leaves.
 * Proof generation is checked against an independent, naive MTH.
 */
#include "testutil.h"

#include <glob.h>
#include <jansson.h>

typedef uint8_t hash_t[TLOG_HASH_BYTES];

/* ---- an in-memory tree: every complete subtree hash, level by level ------ */


static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- public vectors ---------------------------------------------------- */

static int b64_hash(json_t *v, uint8_t out[TLOG_HASH_BYTES])
{
	size_t n = 0;
	const char *s = json_string_value(v);

	if (!s || l3af_base64_decode(out, TLOG_HASH_BYTES, &n, s, strlen(s)) != L3AF_OK)
		return -1;
	return n == TLOG_HASH_BYTES ? 0 : -1;
}

/* Decode a proof array; -1 if any hash is not 32 bytes (rejected by policy). */
static int b64_proof(json_t *arr, hash_t *proof, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (json_is_null(arr))
		return 0;
	if (json_array_size(arr) > TLOG_PROOF_MAX)
		return -1;
	json_array_foreach(arr, i, v) {
		if (b64_hash(v, proof[i]) != 0)
			return -1;
	}
	*n = json_array_size(arr);
	return 0;
}

/* A vector our policy rejects although wantErr is false: 12-byte "roots"
 * at equal sizes. Hashes are 32 bytes here, always (docs/log.md). */
static const char *const policy_rejects[] = {
	"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
};

static int is_policy_reject(const char *path)
{
	for (size_t i = 0; i < sizeof(policy_rejects) / sizeof(policy_rejects[0]); i++) {
		size_t a = strlen(path), b = strlen(policy_rejects[i]);
		if (a >= b && strcmp(path + a - b, policy_rejects[i]) == 0)
			return 1;
	}
	return 0;
}

static int run_inclusion_vector(json_t *j)
{
	hash_t proof[TLOG_PROOF_MAX];
	uint8_t leaf[TLOG_HASH_BYTES], root[TLOG_HASH_BYTES];
	size_t n;
	json_int_t idx = json_integer_value(json_object_get(j, "leafIdx"));
	json_int_t size = json_integer_value(json_object_get(j, "treeSize"));

	if (idx < 0 || size < 0 || b64_hash(json_object_get(j, "leafHash"), leaf) ||
	    b64_hash(json_object_get(j, "root"), root) ||
	    b64_proof(json_object_get(j, "proof"), proof, &n))
		return -1;
	return tlog_inclusion_verify((uint64_t)idx, (uint64_t)size, leaf,
				     (const uint8_t(*)[TLOG_HASH_BYTES])proof, n, root, NULL) ==
			       L3AF_OK
		       ? 0
		       : -1;
}

static int run_consistency_vector(json_t *j)
{
	hash_t proof[TLOG_PROOF_MAX];
	uint8_t r1[TLOG_HASH_BYTES], r2[TLOG_HASH_BYTES];
	size_t n;
	json_int_t s1 = json_integer_value(json_object_get(j, "size1"));
	json_int_t s2 = json_integer_value(json_object_get(j, "size2"));

	if (s1 < 0 || s2 < 0 || b64_hash(json_object_get(j, "root1"), r1) ||
	    b64_hash(json_object_get(j, "root2"), r2) ||
	    b64_proof(json_object_get(j, "proof"), proof, &n))
		return -1;
	return tlog_consistency_verify((uint64_t)s1, (uint64_t)s2, r1, r2,
				       (const uint8_t(*)[TLOG_HASH_BYTES])proof, n, NULL) == L3AF_OK
		       ? 0
		       : -1;
}

static void run_vector_dir(const char *kind, int (*run)(json_t *), unsigned *happy,
			   unsigned *mutated)
{
	char pattern[512];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/merkle/%s/*/*.json", L3AF_VECTORS_DIR, kind);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	snprintf(pattern, sizeof(pattern), "%s/merkle/%s/*/*/*.json", L3AF_VECTORS_DIR, kind);
	int more = glob(pattern, GLOB_APPEND, NULL, &g);
	assert_true(more == 0 || more == GLOB_NOMATCH);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		json_error_t jerr;
		json_t *j = json_load_file(g.gl_pathv[i], JSON_REJECT_DUPLICATES, &jerr);
		int got;
		if (j) {
			got = run(j);
		} else {
			/* Indices of 2^64 - 1 do not fit jansson's integers, nor our
			 * sizes (at most 2^63 - 1): such a vector is rejected. */
			if (!strstr(jerr.text, "too big integer"))
				fail_msg("%s: %s", g.gl_pathv[i], jerr.text);
			j = json_load_file(g.gl_pathv[i], JSON_DECODE_INT_AS_REAL, &jerr);
			assert_non_null(j);
			got = -1;
		}
		int want_err = json_is_true(json_object_get(j, "wantErr"));
		if (!want_err && is_policy_reject(g.gl_pathv[i])) {
			assert_int_equal(got, -1);
		} else if (want_err != (got != 0)) {
			fail_msg("%s: wantErr %d but verification %s", g.gl_pathv[i], want_err,
				 got ? "failed" : "passed");
		}
		*(want_err ? mutated : happy) += 1;
		json_decref(j);
	}
	globfree(&g);
}

static void test_vectors(void **state)
{
	unsigned happy = 0, mutated = 0;

	run_vector_dir("inclusion", run_inclusion_vector, &happy, &mutated);
	run_vector_dir("consistency", run_consistency_vector, &happy, &mutated);
	/* 196 files in all (tests/vectors/README.md). */
	assert_int_equal(happy + mutated, 196);
	assert_true(happy >= 10);
	assert_true(mutated >= 150);
}

/* RFC 6962 reference tree, transparency-dev/merkle testonly/constants.go. */
static void test_reference_roots(void **state)
{
	static const char *const inputs[] = {"", "00", "10", "2021", "3031", "40414243",
					     "5051525354555657",
					     "606162636465666768696a6b6c6d6e6f"};
	static const char *const roots[] = {
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	};
	hash_t leaves[8];
	uint8_t root[TLOG_HASH_BYTES], want[TLOG_HASH_BYTES], data[16];

	for (int i = 0; i < 8; i++) {
		size_t len = strlen(inputs[i]) / 2;
		assert_int_equal(l3af_hex_decode(data, len, inputs[i], 2 * len), L3AF_OK);
		tlog_hash_leaf(data, len, leaves[i]);
	}
	tlog_hash_empty(root);
	assert_int_equal(l3af_hex_decode(want, 32, roots[0], 64), L3AF_OK);
	assert_memory_equal(root, want, 32);
	for (int n = 1; n <= 8; n++) {
		assert_int_equal(l3af_hex_decode(want, 32, roots[n], 64), L3AF_OK);
		tlog_hash_range((const uint8_t(*)[32])leaves, (size_t)n, root);
		assert_memory_equal(root, want, 32);
	}
}

/* ---- generated proofs ---------------------------------------------------- */

static struct tu_memtree small, big;

static void flip(uint8_t *p, unsigned bit)
{
	p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* A proof under test: verify(m, n) checks proof[0..n) with (x, y, a, b) read
 * as (index, size, leaf, root) or (size1, size2, root1, root2). */
struct proof_case {
	enum l3af_status (*verify)(const struct proof_case *m, size_t n);
	hash_t *proof;
	uint8_t *a, *b;
	uint64_t x, y;
};

static enum l3af_status verify_inclusion(const struct proof_case *m, size_t n)
{
	return tlog_inclusion_verify(m->x, m->y, m->a, (const uint8_t(*)[32])m->proof, n, m->b,
				     NULL);
}

static enum l3af_status verify_consistency(const struct proof_case *m, size_t n)
{
	return tlog_consistency_verify(m->x, m->y, m->a, m->b, (const uint8_t(*)[32])m->proof, n,
				       NULL);
}

/* Every single-bit change to any proof hash (every bit, or one random bit
 * per hash), to a or to b must fail; so must the proof without its last
 * hash. */
static void check_mutations(const struct proof_case *m, size_t n, int all_bits)
{
	for (size_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 256; bit += all_bits ? 1 : 256) {
			unsigned b = all_bits ? bit : (unsigned)(rnd() % 256);
			flip(m->proof[i], b);
			assert_int_equal(m->verify(m, n), L3AF_E_VERIFY);
			flip(m->proof[i], b);
		}
	}
	unsigned b = (unsigned)(rnd() % 256);
	flip(m->a, b);
	assert_int_not_equal(m->verify(m, n), L3AF_OK);
	flip(m->a, b);
	flip(m->b, b);
	assert_int_not_equal(m->verify(m, n), L3AF_OK);
	flip(m->b, b);
	if (n > 0)
		assert_int_not_equal(m->verify(m, n - 1), L3AF_OK);
	assert_int_equal(m->verify(m, n), L3AF_OK);
}

/* Inclusion only: an extended proof and a wrong index must fail too. */
static void check_inclusion_mutations(uint64_t index, uint64_t size, hash_t *proof, size_t n,
				      uint8_t *leaf, uint8_t *root, int all_bits)
{
	struct proof_case m = {verify_inclusion, proof, leaf, root, index, size};
	const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;

	check_mutations(&m, n, all_bits);
	if (n < TLOG_PROOF_MAX) {
		memcpy(proof[n], root, 32);
		assert_int_not_equal(tlog_inclusion_verify(index, size, leaf, p, n + 1, root, NULL),
				     L3AF_OK);
	}
	if (size > 1)
		assert_int_not_equal(tlog_inclusion_verify((index + 1) % size, size, leaf, p, n,
							   root, NULL),
				     L3AF_OK);
}

static void one_inclusion(struct tu_memtree *t, uint64_t index, uint64_t size, int all_bits)
{
	struct tlog_hash_source src = {.node = tu_memtree_node, .ctx = t};
	hash_t proof[TLOG_PROOF_MAX];
	uint8_t root[32], naive[32], leaf[32];
	size_t n = 0;

	assert_int_equal(tlog_tree_hash(&src, size, root, NULL), L3AF_OK);
	if (size <= 4096) {
		tu_naive_mth((const uint8_t(*)[32])t->level[0], size, naive);
		assert_memory_equal(root, naive, 32);
	}
	assert_int_equal(tlog_inclusion_prove(&src, index, size, proof, &n, NULL), L3AF_OK);
	memcpy(leaf, t->level[0][index], 32);
	assert_int_equal(tlog_inclusion_verify(index, size, leaf, (const uint8_t(*)[32])proof, n,
					       root, NULL),
			 L3AF_OK);
	check_inclusion_mutations(index, size, proof, n, leaf, root, all_bits);
}

static void test_inclusion_every_pair_to_300(void **state)
{
	for (uint64_t size = 1; size <= 300; size++)
		for (uint64_t index = 0; index < size; index++)
			one_inclusion(&small, index, size, size <= 24);
}

static void test_inclusion_random_to_1e6(void **state)
{
	for (int i = 0; i < 3000; i++) {
		uint64_t size = 1 + rnd() % 1000000;
		one_inclusion(&big, rnd() % size, size, i < 20);
	}
	one_inclusion(&big, 0, 1000000, 0);
	one_inclusion(&big, 999999, 1000000, 0);
}

static void one_consistency(struct tu_memtree *t, uint64_t s1, uint64_t s2, int all_bits)
{
	struct tlog_hash_source src = {.node = tu_memtree_node, .ctx = t};
	hash_t proof[TLOG_PROOF_MAX];
	uint8_t r1[32], r2[32];
	size_t n = 0;
	const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;

	assert_int_equal(tlog_tree_hash(&src, s1, r1, NULL), L3AF_OK);
	assert_int_equal(tlog_tree_hash(&src, s2, r2, NULL), L3AF_OK);
	assert_int_equal(tlog_consistency_prove(&src, s1, s2, proof, &n, NULL), L3AF_OK);
	assert_int_equal(tlog_consistency_verify(s1, s2, r1, r2, p, n, NULL), L3AF_OK);
	struct proof_case m = {verify_consistency, proof, r1, r2, s1, s2};
	check_mutations(&m, n, all_bits);
	if (s1 != s2)
		assert_int_not_equal(tlog_consistency_verify(s1, s2, r2, r1, p, n, NULL), L3AF_OK);
}

static void test_consistency_every_pair_to_150(void **state)
{
	for (uint64_t s2 = 1; s2 <= 150; s2++)
		for (uint64_t s1 = 1; s1 <= s2; s1++)
			one_consistency(&small, s1, s2, s2 <= 20);
}

static void test_consistency_random_to_1e6(void **state)
{
	for (int i = 0; i < 2000; i++) {
		uint64_t s2 = 1 + rnd() % 1000000, s1 = 1 + rnd() % s2;
		one_consistency(&big, s1, s2, 0);
	}
}

/* The longest proofs there are: sizes near 2^63. A tree whose leaves are all
 * equal is consistent and costs nothing to store: every subtree of height h
 * has the same hash, H(h) = node(H(h-1), H(h-1)). */
static enum l3af_status equal_leaves_node(void *ctx, unsigned height, uint64_t index,
					  uint8_t out[static TLOG_HASH_BYTES],
					  struct l3af_err *err)
{
	uint8_t h[TLOG_HASH_BYTES], t[TLOG_HASH_BYTES];

	tlog_hash_leaf((const uint8_t *)"leaf", 4, h);
	for (unsigned i = 0; i < height; i++) {
		tlog_hash_node(h, h, t);
		memcpy(h, t, sizeof(h));
	}
	memcpy(out, h, sizeof(h));
	return L3AF_OK;
}

static void test_longest_proofs(void **state)
{
	struct tlog_hash_source src = {.node = equal_leaves_node};
	hash_t proof[TLOG_PROOF_MAX];
	uint8_t r1[32], r2[32], leaf[32];
	size_t n = 0;
	const uint64_t max = TLOG_SIZE_MAX;

	assert_int_equal(tlog_consistency_prove(&src, 3, max, proof, &n, NULL), L3AF_OK);
	assert_int_equal(n, 64);
	assert_int_equal(tlog_tree_hash(&src, 3, r1, NULL), L3AF_OK);
	assert_int_equal(tlog_tree_hash(&src, max, r2, NULL), L3AF_OK);
	assert_int_equal(tlog_consistency_verify(3, max, r1, r2, (const uint8_t(*)[32])proof, n,
						 NULL),
			 L3AF_OK);
	/* Leaf 0 sits under the full left subtree of 2^62: 62 + 1 hashes. */
	assert_int_equal(tlog_inclusion_prove(&src, 0, max, proof, &n, NULL), L3AF_OK);
	assert_int_equal(n, 63);
	tlog_hash_leaf((const uint8_t *)"leaf", 4, leaf);
	assert_int_equal(tlog_inclusion_verify(0, max, leaf, (const uint8_t(*)[32])proof, n, r2,
					       NULL),
			 L3AF_OK);
}

static void test_bad_arguments(void **state)
{
	uint8_t h[32] = {0};
	hash_t proof[1] = {{0}};
	const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
	struct l3af_err err = {0};

	assert_int_equal(tlog_inclusion_verify(0, 0, h, p, 0, h, &err), L3AF_E_INVALID);
	assert_non_null(strstr(err.msg, "size"));
	assert_int_equal(tlog_inclusion_verify(5, 5, h, p, 0, h, NULL), L3AF_E_INVALID);
	assert_int_equal(tlog_inclusion_verify(0, 1, h, p, 65, h, NULL), L3AF_E_VERIFY);
	assert_int_equal(tlog_consistency_verify(0, 5, h, h, p, 1, NULL), L3AF_E_INVALID);
	assert_int_equal(tlog_consistency_verify(6, 5, h, h, p, 1, NULL), L3AF_E_INVALID);
	assert_int_equal(tlog_consistency_verify(4, 5, h, h, p, 0, NULL), L3AF_E_VERIFY);
	assert_int_equal(tlog_consistency_verify(5, 5, h, h, p, 1, NULL), L3AF_E_VERIFY);
	assert_int_equal(tlog_consistency_verify(5, 5, h, h, p, 0, NULL), L3AF_OK);
	assert_int_equal(tlog_consistency_verify(TLOG_SIZE_MAX, TLOG_SIZE_MAX + 1, h, h, p, 1, NULL),
			 L3AF_E_INVALID);
}

static int setup(void **state)
{
	tu_memtree_build(&small, 512);
	tu_memtree_build(&big, 1u << 20);
	return 0;
}

static int teardown(void **state)
{
	tu_memtree_free(&small);
	tu_memtree_free(&big);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_reference_roots),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_longest_proofs),
		cmocka_unit_test(test_inclusion_every_pair_to_300),
		cmocka_unit_test(test_inclusion_random_to_1e6),
		cmocka_unit_test(test_consistency_every_pair_to_150),
		cmocka_unit_test(test_consistency_random_to_1e6),
	};
	return cmocka_run_group_tests_name("merkle", tests, setup, teardown);
}
