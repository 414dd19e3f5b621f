/*
 * fuzz_proof.c - RFC 9162 proof verification on structured input:
 *   u64 a | u64 b | 32-byte hash x | 32-byte hash y | proof hashes...
 * read as (index, size, leaf, root) for inclusion and (size1, size2, root1,
 * root2) for consistency. Property: no crash, and nothing verifies by chance
 * except where the input was built to (the fuzzer cannot invert SHA-256).
 */
#include <string.h>

#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t proof[TLOG_PROOF_MAX + 1][TLOG_HASH_BYTES];
	uint8_t x[TLOG_HASH_BYTES], y[TLOG_HASH_BYTES];
	uint64_t a, b;
	size_t n;

	if (size < 16 + 2 * TLOG_HASH_BYTES)
		return 0;
	memcpy(&a, data, 8);
	memcpy(&b, data + 8, 8);
	memcpy(x, data + 16, TLOG_HASH_BYTES);
	memcpy(y, data + 16 + TLOG_HASH_BYTES, TLOG_HASH_BYTES);
	n = (size - 16 - 2 * TLOG_HASH_BYTES) / TLOG_HASH_BYTES;
	if (n > TLOG_PROOF_MAX + 1)
		n = TLOG_PROOF_MAX + 1;
	memcpy(proof, data + 16 + 2 * TLOG_HASH_BYTES, n * TLOG_HASH_BYTES);
	const uint8_t(*p)[TLOG_HASH_BYTES] = (const uint8_t(*)[TLOG_HASH_BYTES])proof;
	int verified = tlog_inclusion_verify(a, b, x, p, n, y, NULL) == L3AF_OK;
	verified += tlog_consistency_verify(a, b, x, y, p, n, NULL) == L3AF_OK;
	return verified < 0; /* always 0; the calls are what is fuzzed */
}
