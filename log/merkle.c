/*
 * merkle.c - RFC 9162 section 2.1 Merkle tree hashing, inclusion and
 * consistency proofs. Pure functions: no storage, no allocation on the
 * verification paths. Hashing is common/'s l3af_sha256 (OpenSSL, fetched
 * once, using the CPU's SHA extensions where present).
 */
#include "tlog.h"

#include <stdlib.h>
#include <string.h>

/* A hash we could not compute must not go unnoticed: l3af_sha256 fails only
 * if OpenSSL cannot allocate, and a Merkle log that miscomputes hashes must
 * not go on, so the process stops (the output is poisoned first). */
static void digest(const void *data, size_t len, uint8_t out[static TLOG_HASH_BYTES])
{
	if (l3af_sha256(data, len, out) != L3AF_OK)
		abort();
}

void tlog_hash_leaf(const uint8_t *data, size_t len, uint8_t out[static TLOG_HASH_BYTES])
{
	static const uint8_t zero = 0x00;

	if (l3af_sha256_concat(&zero, 1, data, len, out) != L3AF_OK)
		abort();
}

void tlog_hash_node(const uint8_t left[static TLOG_HASH_BYTES],
		    const uint8_t right[static TLOG_HASH_BYTES],
		    uint8_t out[static TLOG_HASH_BYTES])
{
	uint8_t buf[1 + 2 * TLOG_HASH_BYTES];

	buf[0] = 0x01;
	memcpy(buf + 1, left, TLOG_HASH_BYTES);
	memcpy(buf + 1 + TLOG_HASH_BYTES, right, TLOG_HASH_BYTES);
	digest(buf, sizeof(buf), out);
}

void tlog_hash_empty(uint8_t out[static TLOG_HASH_BYTES])
{
	digest("", 0, out);
}

/* Largest power of two strictly less than n (n >= 2): RFC 9162 "k". */
static uint64_t split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

void tlog_hash_range(const uint8_t (*hashes)[TLOG_HASH_BYTES], size_t n,
		     uint8_t out[static TLOG_HASH_BYTES])
{
	uint8_t left[TLOG_HASH_BYTES], right[TLOG_HASH_BYTES];
	size_t k;

	if (n == 1) {
		memcpy(out, hashes[0], TLOG_HASH_BYTES);
		return;
	}
	k = (size_t)split_point(n);
	tlog_hash_range(hashes, k, left);
	tlog_hash_range(hashes + k, n - k, right);
	tlog_hash_node(left, right, out);
}

/* ---- verification -------------------------------------------------------- */

static int hash_equal(const uint8_t a[static TLOG_HASH_BYTES],
		      const uint8_t b[static TLOG_HASH_BYTES])
{
	return memcmp(a, b, TLOG_HASH_BYTES) == 0;
}

/* Right-shift fn and sn together until fn's low bit is set or fn is 0. */
static void shift_to_set_bit(uint64_t *fn, uint64_t *sn)
{
	while (!(*fn & 1) && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

/* RFC 9162 section 2.1.3.2. */
enum l3af_status tlog_inclusion_verify(uint64_t index, uint64_t size,
				       const uint8_t leaf_hash[static TLOG_HASH_BYTES],
				       const uint8_t (*proof)[TLOG_HASH_BYTES],
				       size_t n,
				       const uint8_t root[static TLOG_HASH_BYTES],
				       struct l3af_err *err)
{
	uint8_t r[TLOG_HASH_BYTES], t[TLOG_HASH_BYTES];
	uint64_t fn = index, sn;

	if (size == 0 || size > TLOG_SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "inclusion: tree size %llu out of range",
				 (unsigned long long)size);
	if (index >= size)
		return l3af_fail(err, L3AF_E_INVALID, "inclusion: index %llu >= size %llu",
				 (unsigned long long)index, (unsigned long long)size);
	if (n > TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_VERIFY, "inclusion: proof has %zu hashes", n);
	sn = size - 1;
	memcpy(r, leaf_hash, TLOG_HASH_BYTES);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return l3af_fail(err, L3AF_E_VERIFY,
					 "inclusion: proof too long (%zu hashes)", n);
		if ((fn & 1) || fn == sn) {
			tlog_hash_node(proof[i], r, t);
			shift_to_set_bit(&fn, &sn);
		} else {
			tlog_hash_node(r, proof[i], t);
		}
		memcpy(r, t, TLOG_HASH_BYTES);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return l3af_fail(err, L3AF_E_VERIFY, "inclusion: proof too short (%zu hashes)", n);
	if (!hash_equal(r, root))
		return l3af_fail(err, L3AF_E_VERIFY,
				 "inclusion: computed root differs from the checkpoint's");
	return L3AF_OK;
}

/* RFC 9162 section 2.1.4.2. */
enum l3af_status tlog_consistency_verify(uint64_t size1, uint64_t size2,
					 const uint8_t root1[static TLOG_HASH_BYTES],
					 const uint8_t root2[static TLOG_HASH_BYTES],
					 const uint8_t (*proof)[TLOG_HASH_BYTES],
					 size_t n, struct l3af_err *err)
{
	uint8_t fr[TLOG_HASH_BYTES], sr[TLOG_HASH_BYTES], t[TLOG_HASH_BYTES];
	uint64_t fn, sn;
	size_t i = 0;

	if (size1 == 0 || size2 > TLOG_SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "consistency: sizes %llu -> %llu out of range",
				 (unsigned long long)size1, (unsigned long long)size2);
	if (size1 > size2)
		return l3af_fail(err, L3AF_E_INVALID, "consistency: size %llu > %llu",
				 (unsigned long long)size1, (unsigned long long)size2);
	if (n > TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_VERIFY, "consistency: proof has %zu hashes", n);
	if (size1 == size2) {
		if (n != 0)
			return l3af_fail(err, L3AF_E_VERIFY,
					 "consistency: equal sizes need an empty proof");
		if (!hash_equal(root1, root2))
			return l3af_fail(err, L3AF_E_VERIFY,
					 "consistency: different roots at the same size");
		return L3AF_OK;
	}
	/* RFC 9162 2.1.4.2 step 1: a proof between different sizes is never
	 * empty, even when the old root alone would seed it. */
	if (n == 0)
		return l3af_fail(err, L3AF_E_VERIFY, "consistency: empty proof");
	fn = size1 - 1;
	sn = size2 - 1;
	/* If size1 is a power of two, the old root is itself the first node. */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, TLOG_HASH_BYTES);
	} else {
		memcpy(fr, proof[i++], TLOG_HASH_BYTES);
	}
	memcpy(sr, fr, TLOG_HASH_BYTES);
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return l3af_fail(err, L3AF_E_VERIFY, "consistency: proof too long");
		if ((fn & 1) || fn == sn) {
			tlog_hash_node(proof[i], fr, t);
			memcpy(fr, t, TLOG_HASH_BYTES);
			tlog_hash_node(proof[i], sr, t);
			memcpy(sr, t, TLOG_HASH_BYTES);
			shift_to_set_bit(&fn, &sn);
		} else {
			tlog_hash_node(sr, proof[i], t);
			memcpy(sr, t, TLOG_HASH_BYTES);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return l3af_fail(err, L3AF_E_VERIFY, "consistency: proof too short");
	if (!hash_equal(fr, root1))
		return l3af_fail(err, L3AF_E_VERIFY, "consistency: old root does not match");
	if (!hash_equal(sr, root2))
		return l3af_fail(err, L3AF_E_VERIFY, "consistency: new root does not match");
	return L3AF_OK;
}

/* ---- generation (RFC 9162 sections 2.1.3.1 and 2.1.4.1) ------------------ */

static unsigned log2_exact(uint64_t n)
{
	unsigned h = 0;

	while (n > 1) {
		n >>= 1;
		h++;
	}
	return h;
}

/* MTH(D[lo:hi]) for the ranges the RFC recursion visits: lo is always a
 * multiple of the largest power of two not above hi - lo, so power-of-two
 * ranges are whole stored subtrees. */
static enum l3af_status range_hash(const struct tlog_hash_source *src, uint64_t lo,
				   uint64_t hi, uint8_t out[static TLOG_HASH_BYTES],
				   struct l3af_err *err)
{
	uint8_t left[TLOG_HASH_BYTES], right[TLOG_HASH_BYTES];
	uint64_t n = hi - lo, k;
	enum l3af_status rc;

	if ((n & (n - 1)) == 0) {
		unsigned h = log2_exact(n);
		return src->node(src->ctx, h, lo >> h, out, err);
	}
	k = split_point(n);
	rc = range_hash(src, lo, lo + k, left, err);
	if (rc == L3AF_OK)
		rc = range_hash(src, lo + k, hi, right, err);
	if (rc == L3AF_OK)
		tlog_hash_node(left, right, out);
	return rc;
}

enum l3af_status tlog_tree_hash(const struct tlog_hash_source *src, uint64_t size,
				uint8_t out[static TLOG_HASH_BYTES], struct l3af_err *err)
{
	if (size > TLOG_SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "tree hash: size out of range");
	if (size == 0) {
		tlog_hash_empty(out);
		return L3AF_OK;
	}
	return range_hash(src, 0, size, out, err);
}

static void reverse_proof(uint8_t proof[][TLOG_HASH_BYTES], size_t n)
{
	uint8_t t[TLOG_HASH_BYTES];

	for (size_t i = 0; i < n / 2; i++) {
		memcpy(t, proof[i], TLOG_HASH_BYTES);
		memcpy(proof[i], proof[n - 1 - i], TLOG_HASH_BYTES);
		memcpy(proof[n - 1 - i], t, TLOG_HASH_BYTES);
	}
}

enum l3af_status tlog_inclusion_prove(const struct tlog_hash_source *src,
				      uint64_t index, uint64_t size,
				      uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
				      size_t *n, struct l3af_err *err)
{
	uint64_t lo = 0, hi = size;
	size_t count = 0;
	enum l3af_status rc = L3AF_OK;

	if (size > TLOG_SIZE_MAX || index >= size)
		return l3af_fail(err, L3AF_E_INVALID, "inclusion proof: index %llu, size %llu",
				 (unsigned long long)index, (unsigned long long)size);
	/* Walk from the root down; each step's sibling is pushed, so the list
	 * comes out root-first and is reversed into RFC order (leaf first). */
	while (hi - lo > 1 && rc == L3AF_OK) {
		uint64_t k = split_point(hi - lo);
		if (count == TLOG_PROOF_MAX)
			return l3af_fail(err, L3AF_E_INTERNAL, "inclusion proof: too long");
		if (index < lo + k) {
			rc = range_hash(src, lo + k, hi, proof[count++], err);
			hi = lo + k;
		} else {
			rc = range_hash(src, lo, lo + k, proof[count++], err);
			lo += k;
		}
	}
	if (rc != L3AF_OK)
		return rc;
	reverse_proof(proof, count);
	*n = count;
	return L3AF_OK;
}

enum l3af_status tlog_consistency_prove(const struct tlog_hash_source *src,
					uint64_t size1, uint64_t size2,
					uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
					size_t *n, struct l3af_err *err)
{
	uint64_t lo = 0, hi = size2;
	bool whole = true; /* SUBPROOF's b: still on the left spine */
	size_t count = 0;
	enum l3af_status rc = L3AF_OK;

	if (size1 == 0 || size1 > size2 || size2 > TLOG_SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "consistency proof: sizes %llu -> %llu",
				 (unsigned long long)size1, (unsigned long long)size2);
	while (rc == L3AF_OK) {
		if (count == TLOG_PROOF_MAX)
			return l3af_fail(err, L3AF_E_INTERNAL, "consistency proof: too long");
		if (size1 == hi) {
			if (!whole)
				rc = range_hash(src, lo, hi, proof[count++], err);
			break;
		}
		uint64_t k = split_point(hi - lo);
		if (size1 <= lo + k) {
			rc = range_hash(src, lo + k, hi, proof[count++], err);
			hi = lo + k;
		} else {
			rc = range_hash(src, lo, lo + k, proof[count++], err);
			lo += k;
			whole = false;
		}
	}
	if (rc != L3AF_OK)
		return rc;
	reverse_proof(proof, count);
	*n = count;
	return L3AF_OK;
}
