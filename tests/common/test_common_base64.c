/*
 * test_common_base64.c - the table-driven strict decoder (common/base64.c,
 * OpenSSL's EVP_DecodeBlock after a validation pass) against the former one:
 * libsodium's sodium_base642bin (original variant, no ignored characters,
 * the whole input consumed) after an alphabet pass, then a re-encode of the
 * last group for canonical trailing bits. On random valid texts, random
 * mutations of them and random short strings over a base64-heavy alphabet,
 * both must accept and refuse the same inputs and decode to the same bytes,
 * with any output room (exact, too small, ample). The encoder is compared
 * with sodium_bin2base64 the same way. Inputs and outputs are heap buffers
 * of exactly their size, so the sanitizer build catches any stray access.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l3af.h"

/* The decoder as it was before common/base64.c (commit 87c4819). */
static enum l3af_status ref_decode(uint8_t *out, size_t cap, size_t *outlen, const char *b64,
				   size_t len)
{
	char check[8];
	size_t n = 0;
	const char *end = NULL;

	if (len == 0 || len % 4 != 0)
		return L3AF_E_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)b64[i];
		int sym = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
		int pad = ch == '=' && i >= len - 2 && (i == len - 1 || b64[len - 1] == '=');
		if (!sym && !pad)
			return L3AF_E_INVALID;
	}
	if (sodium_base642bin(out, cap, b64, len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return L3AF_E_INVALID;
	if (end != b64 + len)
		return L3AF_E_INVALID;
	if (n == 0 || n < (len / 4 - 1) * 3)
		return L3AF_E_INVALID;
	size_t tail_off = (len / 4 - 1) * 3;
	sodium_bin2base64(check, sizeof(check), out + tail_off, n - tail_off,
			  sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(check, b64 + len - 4, 4) != 0)
		return L3AF_E_INVALID;
	*outlen = n;
	return L3AF_OK;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed on failure */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* Bytes a decoder could be lax about. */
static const char tricky[] = "= \n\r\t-_.\0\x7f\x80\x95\xc3\xff";

static char rnd_char(void)
{
	switch (rnd_below(4)) {
	case 0:
		return (char)rnd_below(256);
	case 1:
		return tricky[rnd_below(sizeof(tricky) - 1)];
	default:
		return alphabet[rnd_below(64)];
	}
}

/* One random edit of text[0..*len) (room for cap chars). */
static void mutate(char *text, size_t *len, size_t cap)
{
	size_t n = *len;

	switch (rnd_below(7)) {
	case 0: /* replace a character */
		if (n)
			text[rnd_below(n)] = rnd_char();
		break;
	case 1: /* another symbol at the end of the data: stray trailing bits */
		for (size_t i = n; i > 0; i--)
			if (text[i - 1] != '=') {
				text[i - 1] = alphabet[rnd_below(64)];
				break;
			}
		break;
	case 2: /* delete a character */
		if (n) {
			size_t at = rnd_below(n);
			memmove(text + at, text + at + 1, n - at - 1);
			*len = n - 1;
		}
		break;
	case 3: /* insert a character */
		if (n < cap) {
			size_t at = rnd_below(n + 1);
			memmove(text + at + 1, text + at, n - at);
			text[at] = rnd_char();
			*len = n + 1;
		}
		break;
	case 4: /* truncate */
		*len = rnd_below(n + 1);
		break;
	case 5: /* padding games at the end */
		if (n >= 2) {
			static const char *const ends[] = {"==", "A=", "=A", "=="};
			memcpy(text + n - 2, ends[rnd_below(4)], 2);
		}
		break;
	default: /* '=' somewhere */
		if (n)
			text[rnd_below(n)] = '=';
		break;
	}
}

/* Decode text[0..len) with both decoders and a cap chosen at random (or
 * ample room); returns 1 if the input was accepted. */
static int compare(const char *text, size_t len, int random_cap, uint64_t seed)
{
	size_t max = len / 4 * 3 + 3, cap, n_new = 0, n_ref = 0;
	char *in = malloc(len ? len : 1);
	uint8_t *ref = malloc(max), *got;
	enum l3af_status rc_new, rc_ref;
	int ok;

	assert_non_null(in);
	assert_non_null(ref);
	memcpy(in, text, len);
	switch (random_cap ? rnd_below(4) : 0) {
	case 0:
		cap = max;
		break;
	case 1: /* exact room for a valid input, less for other lengths */
		cap = len / 4 * 3 - (len >= 1 && text[len - 1] == '=') -
		      (len >= 2 && text[len - 2] == '=');
		cap = cap > max ? 0 : cap;
		break;
	default:
		cap = rnd_below(max + 1);
		break;
	}
	got = malloc(cap ? cap : 1);
	assert_non_null(got);
	rc_ref = ref_decode(ref, max, &n_ref, in, len);
	if (rc_ref == L3AF_OK && n_ref > cap)
		rc_ref = L3AF_E_INVALID; /* the old decoder refused a short buffer too */
	rc_new = l3af_base64_decode(got, cap, &n_new, in, len);
	if ((rc_new == L3AF_OK) != (rc_ref == L3AF_OK))
		fail_msg("seed %llu: \"%.*s\" (%zu chars, cap %zu): new %s, libsodium %s",
			 (unsigned long long)seed, (int)len, text, len, cap,
			 l3af_status_name(rc_new), l3af_status_name(rc_ref));
	ok = rc_new == L3AF_OK;
	if (ok) {
		assert_int_equal(n_new, n_ref);
		assert_memory_equal(got, ref, n_new);
	}
	free(in);
	free(ref);
	free(got);
	return ok;
}

static uint64_t seed_once(void)
{
	const char *env = getenv("L3AF_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : l3af_now_ns();

	rng_state = seed | 1;
	return seed;
}

static void test_decode_matches_libsodium(void **state)
{
	enum { ROUNDS = 60000, BIN_MAX = 200 };
	uint64_t seed = seed_once();
	uint8_t bin[BIN_MAX];
	char text[BIN_MAX * 2];
	size_t accepted = 0, refused = 0;

	for (int r = 0; r < ROUNDS; r++) {
		size_t blen = r % 10 == 0 ? rnd_below(BIN_MAX) + 1 : rnd_below(40) + 1;
		size_t len;

		for (size_t i = 0; i < blen; i++)
			bin[i] = (uint8_t)rnd();
		sodium_bin2base64(text, sizeof(text), bin, blen, sodium_base64_VARIANT_ORIGINAL);
		len = strlen(text);
		/* the unmutated text is valid, and decodes back to bin */
		assert_int_equal(compare(text, len, 0, seed), 1);
		for (size_t k = rnd_below(3) + 1; k > 0; k--)
			mutate(text, &len, sizeof(text));
		if (compare(text, len, 1, seed))
			accepted++;
		else
			refused++;
	}
	/* the mutations must exercise both outcomes */
	assert_true(accepted > ROUNDS / 50);
	assert_true(refused > ROUNDS / 4);
}

static void test_decode_short_strings(void **state)
{
	/* every short length, over symbols that make padding and trailing-bit
	 * cases frequent */
	static const char pool[] = "AB/+gQw=9=\x80 ";
	uint64_t seed = seed_once();
	char text[12];
	size_t accepted = 0;

	for (int r = 0; r < 200000; r++) {
		size_t len = rnd_below(sizeof(text) + 1);

		for (size_t i = 0; i < len; i++)
			text[i] = pool[rnd_below(sizeof(pool) - 1)];
		accepted += (size_t)compare(text, len, 1, seed);
	}
	assert_true(accepted > 1000);
}

static void test_encode_matches_libsodium(void **state)
{
	uint64_t seed = seed_once();
	uint8_t bin[700], back[700];
	char want[1000], got[1000];

	for (int r = 0; r < 5000; r++) {
		size_t blen = rnd_below(sizeof(bin) + 1), n = 0;

		for (size_t i = 0; i < blen; i++)
			bin[i] = (uint8_t)rnd();
		sodium_bin2base64(want, sizeof(want), bin, blen, sodium_base64_VARIANT_ORIGINAL);
		memset(got, 'x', sizeof(got));
		assert_int_equal(l3af_base64_encode(got, l3af_base64_len(blen) + 1, bin, blen),
				 L3AF_OK);
		if (strcmp(got, want) != 0)
			fail_msg("seed %llu: encoding of %zu bytes differs", (unsigned long long)seed,
				 blen);
		if (blen) {
			assert_int_equal(l3af_base64_decode(back, blen, &n, got, strlen(got)),
					 L3AF_OK);
			assert_int_equal(n, blen);
			assert_memory_equal(back, bin, blen);
		}
		/* one byte short of room for the NUL */
		assert_int_equal(l3af_base64_encode(got, l3af_base64_len(blen), bin, blen),
				 L3AF_E_LIMIT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_matches_libsodium),
		cmocka_unit_test(test_decode_short_strings),
		cmocka_unit_test(test_encode_matches_libsodium),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("common_base64", tests, NULL, NULL);
}
