/*
 * test_signer.c - tests for signer/: keys, verifier keys, signed notes and
 * cosignatures, with real Ed25519 and no mocks.
 *
 * Known answers: golang.org/x/mod sumdb/note example key and note, the C2SP
 * signed-note example, a checkpoint signed by the x/mod key and a
 * tlog-cosignature/v1 line (tests/vectors/notes.json), and the C2SP#99
 * checkpoint (shared/research/tlog-anchors.md section 7.4). Every accept case
 * has reject cases beside it; tables hold input, expected status and a
 * description. Key files go to a mkdtemp directory under /tmp.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define EM "\xe2\x80\x94" /* U+2014 EM DASH */
#define XMOD_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+" \
	"AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define XMOD_SEED_B64 "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define XMOD_KEY_B64 "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define XMOD_VKEY "PeterNeumann+c74f20a3+" XMOD_KEY_B64
#define XMOD_TEXT "If you think cryptography is the answer to your problem,\n" \
	"then you don't know what your problem is.\n"
#define XMOD_B64 "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ" \
	"SNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
/* The same signature with one base64 symbol changed inside R. */
#define BAD_B64 "x08go/ZJkuBS9UH/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ" \
	"SNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
/* The same signature under key ID 000000a3 instead of c74f20a3. */
#define OTHER_ID_B64 "AAAAo/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ" \
	"SNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
/* The right key ID with a 62-byte signature. */
#define TRUNC_B64 "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ" \
	"SNXgKvqfqdngotpRZb6KE6RyyBwJ"
#define UNKNOWN_B64 "C63wDQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define XMOD_LINE EM " PeterNeumann " XMOD_B64 "\n"
#define BAD_LINE EM " PeterNeumann " BAD_B64 "\n"
#define UNKNOWN_LINE EM " unknown.example/key " UNKNOWN_B64 "\n"
#define XMOD_NOTE XMOD_TEXT "\n" XMOD_LINE

#define WITNESS_NAME "example.com/test-witness"
#define C99_NAME "sigsum.org/v1/tree/" \
	"e796172b92befd62d9dc67e41c2f5bc9d3100a3023b20b1ca40288dd1c679e69"
#define C99_TEXT C99_NAME "\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
#define C99_NOTE C99_TEXT "\n" EM " " C99_NAME " gJ2ho0n8F8olcerUF1FFdv235A/5" \
	"as/coWrpLrtE7ovMeP5whgwouYExowG/lTznxu6OUGjjt5yJQ6bXtTcf718MqAQ=\n"
#define C99_PUB_HEX \
	"66e0b858e462a609e66fe71370c816d8846ff103d5499a22a7fec37fdbc424a7"

/* Shared by all tests: the vectors and the two keys they imply. */
struct fixture {
	json_t *vectors;
	struct signer_key *xmod;    /* from XMOD_SKEY, type 0x01 */
	struct signer_vkey xmod_vkey;
	struct signer_key *witness; /* the x/mod seed as a 0x04 cosigner */
	struct signer_vkey witness_vkey;
};

/* --- helpers --------------------------------------------------------------- */

static void expect_status(const char *desc, enum l3af_status got,
			  enum l3af_status want, const struct l3af_err *err)
{
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", desc, l3af_status_name(got),
			 err ? err->msg : "", l3af_status_name(want));
	if (want == L3AF_OK || !err)
		return;
	if (err->code != want)
		fail_msg("%s: err->code %s, want %s", desc,
			 l3af_status_name(err->code), l3af_status_name(want));
	/* Every failure names its area first. */
	if (strncmp(err->msg, "signer: ", 8) != 0)
		fail_msg("%s: message lacks the area: '%s'", desc, err->msg);
}

static const char *json_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	assert_non_null(s);
	return s;
}

static enum l3af_status open_note(const char *note, size_t len,
				  const struct signer_vkey *keys, size_t nkeys,
				  struct signer_note_result *res,
				  struct l3af_err *err)
{
	l3af_err_clear(err);
	return signer_note_open(note, len, keys, nkeys, res, err);
}

/* A 32-byte seed from base64(0x01 || seed), the x/mod private encoding. */
static void seed_from_b64(const char *b64, uint8_t seed[32])
{
	uint8_t bin[33];
	size_t n = 0;

	assert_int_equal(l3af_base64_decode(bin, sizeof(bin), &n, b64,
					    strlen(b64)), L3AF_OK);
	assert_int_equal(n, 33);
	assert_int_equal(bin[0], 0x01);
	memcpy(seed, bin + 1, 32);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	json_error_t jerr;
	struct l3af_err err = { 0 };
	uint8_t seed[32];

	if (!f)
		return -1;
	f->vectors = json_load_file(L3AF_VECTORS_DIR "/notes.json", 0, &jerr);
	if (!f->vectors) {
		fprintf(stderr, "notes.json: %s\n", jerr.text);
		free(f);
		return -1;
	}
	if (signer_key_parse(XMOD_SKEY, strlen(XMOD_SKEY), &f->xmod, &err))
		return -1;
	signer_key_vkey(f->xmod, &f->xmod_vkey);
	seed_from_b64(XMOD_SEED_B64, seed);
	if (signer_key_from_seed(WITNESS_NAME, SIGNER_TYPE_COSIG_V1, seed,
				 &f->witness, &err))
		return -1;
	signer_key_vkey(f->witness, &f->witness_vkey);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	signer_key_free(f->xmod);
	signer_key_free(f->witness);
	json_decref(f->vectors);
	free(f);
	return 0;
}

/* --- known answers ----------------------------------------------------------- */

/* Every note in notes.json verifies with its vkey, and a one-byte change to
 * its text makes it fail. */
static void test_vectors_verify(void **state)
{
	struct fixture *f = *state;
	json_t *notes = json_object_get(f->vectors, "notes"), *v;
	size_t i;

	assert_true(json_array_size(notes) >= 3);
	json_array_foreach(notes, i, v) {
		const char *desc = json_str(v, "desc"), *vk = json_str(v, "vkey");
		const char *note = json_str(v, "note"), *text = json_str(v, "text");
		struct signer_vkey key;
		struct signer_note_result res;
		struct l3af_err err = { 0 };
		char buf[SIGNER_VKEY_TEXT_MAX], *bad;

		expect_status(desc, signer_vkey_parse(vk, strlen(vk), &key, &err),
			      L3AF_OK, &err);
		signer_vkey_format(&key, buf);
		assert_string_equal(buf, vk);
		expect_status(desc, open_note(note, strlen(note), &key, 1, &res,
					      &err), L3AF_OK, &err);
		assert_int_equal(res.text_len, strlen(text));
		assert_memory_equal(note, text, res.text_len);
		assert_int_equal(res.sig_lines, 1);
		assert_int_equal(res.verified, 1);
		assert_int_equal(res.verified_mask, 1);
		bad = strdup(note);
		assert_non_null(bad);
		bad[0] ^= 1;
		expect_status(desc, open_note(bad, strlen(bad), &key, 1, NULL,
					      &err), L3AF_E_VERIFY, &err);
		free(bad);
	}
}

/* The x/mod skey parses to the x/mod vkey, and signing the example text
 * reproduces the example note exactly (Ed25519 is deterministic). */
static void test_xmod_skey_signs_example(void **state)
{
	struct fixture *f = *state;
	struct l3af_err err = { 0 };
	char buf[SIGNER_VKEY_TEXT_MAX], *note = NULL;
	size_t len = 0;

	signer_vkey_format(&f->xmod_vkey, buf);
	assert_string_equal(buf, XMOD_VKEY);
	assert_string_equal(signer_key_name(f->xmod), "PeterNeumann");
	assert_int_equal(f->xmod_vkey.id, 0xc74f20a3);
	expect_status("x/mod sign", signer_note_sign(f->xmod, XMOD_TEXT,
		      strlen(XMOD_TEXT), 0, &note, &len, &err), L3AF_OK, &err);
	assert_int_equal(len, strlen(XMOD_NOTE));
	assert_string_equal(note, XMOD_NOTE);
	l3af_free(note);
}

/* The checkpoint-in-note vector, plus the cosignature vector: derive the
 * witness key from the seed, reproduce the line byte for byte, verify it
 * alone and beside the log signature. */
static void test_cosignature_vector(void **state)
{
	struct fixture *f = *state;
	json_t *c = json_array_get(json_object_get(f->vectors, "cosignatures"), 0);
	json_t *cp = json_array_get(json_object_get(f->vectors, "notes"), 2);
	const char *body = json_str(c, "checkpoint_body"), *line = json_str(c, "line");
	const char *wvk = json_str(c, "witness_vkey"), *cpnote = json_str(cp, "note");
	uint64_t t = (uint64_t)json_integer_value(json_object_get(c, "time"));
	struct signer_vkey keys[2];
	struct signer_note_result res;
	struct l3af_err err = { 0 };
	char out[SIGNER_NOTE_LINE_MAX], vkt[SIGNER_VKEY_TEXT_MAX], both[1024];
	char *note = NULL;
	size_t len = 0;

	assert_int_equal(t, 1679315147);
	signer_vkey_format(&f->witness_vkey, vkt);
	assert_string_equal(vkt, wvk);
	expect_status("cosign line", signer_note_sign_line(f->witness, body,
		      strlen(body), t, out, sizeof(out), &err), L3AF_OK, &err);
	assert_string_equal(out, line);
	expect_status("cosign note", signer_note_sign(f->witness, body,
		      strlen(body), t, &note, &len, &err), L3AF_OK, &err);
	snprintf(both, sizeof(both), "%s\n%s", body, line);
	assert_string_equal(note, both);
	expect_status("witness vkey", signer_vkey_parse(wvk, strlen(wvk),
		      &keys[1], &err), L3AF_OK, &err);
	expect_status("open cosigned", open_note(note, len, &keys[1], 1, &res,
		      &err), L3AF_OK, &err);
	assert_int_equal(res.time[0], t);
	l3af_free(note);
	/* The log's note with the cosignature appended: both verify. */
	keys[0] = f->xmod_vkey;
	snprintf(both, sizeof(both), "%s%s", cpnote, line);
	expect_status("log + witness", open_note(both, strlen(both), keys, 2,
		      &res, &err), L3AF_OK, &err);
	assert_int_equal(res.sig_lines, 2);
	assert_int_equal(res.verified, 2);
	assert_int_equal(res.verified_mask, 3);
	assert_int_equal(res.time[0], 0);
	assert_int_equal(res.time[1], t);
	expect_status("witness only", open_note(both, strlen(both), &keys[1], 1,
		      &res, &err), L3AF_OK, &err);
	assert_int_equal(res.verified_mask, 1);
}

/* Cosignature rejections, each built with real signatures. */
static void test_cosignature_rejects(void **state)
{
	struct fixture *f = *state;
	json_t *c = json_array_get(json_object_get(f->vectors, "cosignatures"), 0);
	const char *body = json_str(c, "checkpoint_body"), *line = json_str(c, "line");
	struct signer_vkey as_ed25519 = f->witness_vkey;
	struct l3af_err err = { 0 };
	uint8_t bin[76], seed[32], pk[32], sk[64], msg[512];
	char b64[128], note[1024];
	size_t n = 0, prefix = strlen(EM " " WITNESS_NAME " "), mlen;
	const uint64_t big = UINT64_C(1) << 63;

	/* Same name and key as a type 0x01 key: another ID, so ignored. */
	as_ed25519.type = SIGNER_TYPE_ED25519;
	as_ed25519.id = signer_key_id(WITNESS_NAME, 0x01, as_ed25519.pub);
	snprintf(note, sizeof(note), "%s\n%s", body, line);
	expect_status("0x01 vkey of the witness", open_note(note, strlen(note),
		      &as_ed25519, 1, NULL, &err), L3AF_E_VERIFY, &err);
	/* The timestamp changed by one second. */
	assert_int_equal(l3af_base64_decode(bin, sizeof(bin), &n, line + prefix,
					    strlen(line) - prefix - 1), L3AF_OK);
	bin[11] ^= 1;
	assert_int_equal(l3af_base64_encode(b64, sizeof(b64), bin, n), L3AF_OK);
	snprintf(note, sizeof(note), "%s\n" EM " " WITNESS_NAME " %s\n", body, b64);
	expect_status("altered time", open_note(note, strlen(note),
		      &f->witness_vkey, 1, NULL, &err), L3AF_E_VERIFY, &err);
	/* A valid Ed25519 signature over a time of 2^63: still refused. */
	seed_from_b64(XMOD_SEED_B64, seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	mlen = (size_t)snprintf((char *)msg, sizeof(msg),
				"cosignature/v1\ntime %llu\n%s",
				(unsigned long long)big, body);
	crypto_sign_detached(bin + 12, NULL, msg, mlen, sk);
	for (int i = 0; i < 8; i++)
		bin[4 + i] = (uint8_t)(big >> (56 - 8 * i));
	assert_int_equal(l3af_base64_encode(b64, sizeof(b64), bin, n), L3AF_OK);
	snprintf(note, sizeof(note), "%s\n" EM " " WITNESS_NAME " %s\n", body, b64);
	expect_status("time 2^63", open_note(note, strlen(note),
		      &f->witness_vkey, 1, NULL, &err), L3AF_E_VERIFY, &err);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(seed, sizeof(seed));
	/* Signing refuses such a time (2^63-1 works: test_generated_keys). */
	l3af_err_clear(&err);
	expect_status("sign at 2^63", signer_note_sign_line(f->witness, body,
		      strlen(body), big, note, sizeof(note), &err),
		      L3AF_E_INVALID, &err);
}

/* C2SP#99 (corrected): seed 0x11 then 31 zero bytes; key ID 809da1a3; the
 * note signs to exactly the published checkpoint. */
static void test_c2sp99_checkpoint(void **state)
{
	uint8_t seed[32] = { 0x11 }, pub[32], hash[32];
	struct signer_key *key = NULL;
	struct signer_vkey vk;
	struct l3af_err err = { 0 };
	char *note = NULL;
	size_t len = 0;

	(void)state;
	expect_status("C2SP#99 key", signer_key_from_seed(C99_NAME,
		      SIGNER_TYPE_ED25519, seed, &key, &err), L3AF_OK, &err);
	signer_key_vkey(key, &vk);
	assert_int_equal(vk.id, 0x809da1a3);
	assert_int_equal(l3af_hex_decode(pub, 32, C99_PUB_HEX, 64), L3AF_OK);
	assert_memory_equal(vk.pub, pub, 32);
	/* The origin names SHA-256 of the public key (the Sigsum key hash). */
	crypto_hash_sha256(hash, pub, sizeof(pub));
	assert_int_equal(l3af_hex_decode(pub, 32, &C99_NAME[19], 64), L3AF_OK);
	assert_memory_equal(hash, pub, 32);
	expect_status("C2SP#99 sign", signer_note_sign(key, C99_TEXT,
		      strlen(C99_TEXT), 0, &note, &len, &err), L3AF_OK, &err);
	assert_string_equal(note, C99_NOTE);
	expect_status("C2SP#99 open", open_note(note, len, &vk, 1, NULL, &err),
		      L3AF_OK, &err);
	l3af_free(note);
	signer_key_free(key);
}

/* --- note parsing and verification ------------------------------------------- */

struct note_case {
	const char *desc;
	const char *note;
	size_t len; /* 0: strlen(note) */
	enum l3af_status want;
};

static const struct note_case note_cases[] = {
	{ "valid x/mod note", XMOD_NOTE, 0, L3AF_OK },
	{ "unknown signature first", XMOD_TEXT "\n" UNKNOWN_LINE XMOD_LINE, 0,
	  L3AF_OK },
	{ "unknown signature last", XMOD_NOTE UNKNOWN_LINE, 0, L3AF_OK },
	{ "same name, other ID ignored beside a valid one", XMOD_NOTE EM
	  " PeterNeumann " OTHER_ID_B64 "\n", 0, L3AF_OK },
	{ "blank line inside the text, unknown signer only", "a\n\nb\n\n" UNKNOWN_LINE, 0,
	  L3AF_E_VERIFY },
	{ "altered text", "If you think cryptography is the answer to your "
	  "problem,\nthen you don't know what your problem is!\n\n" XMOD_LINE,
	  0, L3AF_E_VERIFY },
	{ "line added to the text", XMOD_TEXT "more\n\n" XMOD_LINE, 0,
	  L3AF_E_VERIFY },
	{ "altered signature", XMOD_TEXT "\n" BAD_LINE, 0, L3AF_E_VERIFY },
	{ "wrong key ID: ignored, no known signature", XMOD_TEXT "\n" EM
	  " PeterNeumann " OTHER_ID_B64 "\n", 0, L3AF_E_VERIFY },
	{ "other name, same ID: ignored", XMOD_TEXT "\n" EM " PeterNeumann2 "
	  XMOD_B64 "\n", 0, L3AF_E_VERIFY },
	{ "known key fails after a valid one", XMOD_NOTE BAD_LINE, 0,
	  L3AF_E_VERIFY },
	{ "known key fails before a valid one", XMOD_TEXT "\n" BAD_LINE
	  XMOD_LINE, 0, L3AF_E_VERIFY },
	{ "known key, 62-byte signature", XMOD_TEXT "\n" EM " PeterNeumann "
	  TRUNC_B64 "\n", 0, L3AF_E_VERIFY },
	{ "only unknown signatures", XMOD_TEXT "\n" UNKNOWN_LINE, 0,
	  L3AF_E_VERIFY },
	{ "blank line in the signature block", XMOD_NOTE "\n" UNKNOWN_LINE, 0,
	  L3AF_E_VERIFY },
	{ "missing final newline", XMOD_TEXT "\n" EM " PeterNeumann " XMOD_B64,
	  0, L3AF_E_INVALID },
	{ "no blank line", XMOD_TEXT XMOD_LINE, 0, L3AF_E_INVALID },
	{ "empty signature block", XMOD_TEXT "\n", 0, L3AF_E_INVALID },
	{ "empty note", "", 0, L3AF_E_INVALID },
	{ "trailing text after the signatures", XMOD_NOTE "junk\n", 0,
	  L3AF_E_INVALID },
	{ "bad UTF-8 in text", "If you think \xff\n\n" XMOD_LINE, 0,
	  L3AF_E_INVALID },
	{ "overlong UTF-8", "\xc0\xaf\n\n" XMOD_LINE, 0, L3AF_E_INVALID },
	{ "UTF-8 surrogate", "\xed\xa0\x80\n\n" XMOD_LINE, 0, L3AF_E_INVALID },
	{ "UTF-8 cut short", "abc\xe2\x80\n\n" XMOD_LINE, 0, L3AF_E_INVALID },
	{ "tab in text", "If you\tthink\n\n" XMOD_LINE, 0, L3AF_E_INVALID },
	{ "carriage return in text", "abc\r\n\n" XMOD_LINE, 0,
	  L3AF_E_INVALID },
	{ "NUL byte in text", "a\0b\n\n" XMOD_LINE, sizeof("a\0b\n\n" XMOD_LINE)
	  - 1, L3AF_E_INVALID },
	{ "tab in a signature line", XMOD_TEXT "\n" EM " PeterNeumann\t"
	  XMOD_B64 "\n", 0, L3AF_E_INVALID },
	{ "bad base64 symbol", XMOD_TEXT "\n" EM " PeterNeumann x08go/ZJ!uBS9"
	  "UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6K"
	  "E6RyyBwJnAM=\n", 0, L3AF_E_INVALID },
	{ "base64 without padding", XMOD_TEXT "\n" EM " PeterNeumann x08go/ZJk"
	  "uBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
	  "RZb6KE6RyyBwJnAM\n", 0, L3AF_E_INVALID },
	{ "base64 with stray low bits", XMOD_TEXT "\n" EM " PeterNeumann x08go"
	  "/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdng"
	  "otpRZb6KE6RyyBwJnAN=\n", 0, L3AF_E_INVALID },
	{ "hyphen instead of em dash", XMOD_TEXT "\n- PeterNeumann " XMOD_B64
	  "\n", 0, L3AF_E_INVALID },
	{ "em dash without space", XMOD_TEXT "\n" EM "PeterNeumann " XMOD_B64
	  "\n", 0, L3AF_E_INVALID },
	{ "no signature after the name", XMOD_TEXT "\n" EM " PeterNeumann\n", 0,
	  L3AF_E_INVALID },
	{ "empty key name", XMOD_TEXT "\n" EM "  " XMOD_B64 "\n", 0,
	  L3AF_E_INVALID },
	{ "two spaces before the signature", XMOD_TEXT "\n" EM " PeterNeumann  "
	  XMOD_B64 "\n", 0, L3AF_E_INVALID },
	{ "'+' in the key name", XMOD_TEXT "\n" EM " Peter+Neumann " XMOD_B64
	  "\n", 0, L3AF_E_INVALID },
	{ "non-breaking space in the key name", XMOD_TEXT "\n" EM " Peter"
	  "\xc2\xa0Neumann " XMOD_B64 "\n", 0, L3AF_E_INVALID },
	{ "signature of the key ID alone", XMOD_TEXT "\n" EM " PeterNeumann "
	  "x08gow==\n", 0, L3AF_E_INVALID },
};

static void test_note_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(note_cases); i++) {
		const struct note_case *c = &note_cases[i];
		size_t len = c->len ? c->len : strlen(c->note);
		struct signer_note_result res;
		struct l3af_err err = { 0 };

		expect_status(c->desc, open_note(c->note, len, &f->xmod_vkey, 1,
			      &res, &err), c->want, &err);
		if (c->want == L3AF_OK)
			assert_int_equal(res.text_len, strlen(XMOD_TEXT));
	}
}

/* A note: XMOD_TEXT, then `unknown` lines from unknown keys and the good
 * line (first or last). */
static char *note_with_unknown(size_t unknown, int good_first, size_t *len)
{
	size_t cap = 256 + (unknown + 1) * 160, off;
	char *note = malloc(cap);

	assert_non_null(note);
	off = (size_t)snprintf(note, cap, "%s\n%s", XMOD_TEXT,
			       good_first ? XMOD_LINE : "");
	for (size_t i = 0; i < unknown; i++)
		off += (size_t)snprintf(note + off, cap - off, EM " w%03zu.example"
					" %s\n", i, UNKNOWN_B64);
	if (!good_first)
		off += (size_t)snprintf(note + off, cap - off, "%s", XMOD_LINE);
	*len = off;
	return note;
}

/* signed-note: verifiers cap signature lines but accept at least 16. */
static void test_signature_line_cap(void **state)
{
	static const struct {
		const char *desc;
		size_t unknown;
		int good_first;
		enum l3af_status want;
	} cases[] = {
		{ "16 unknown + 1 good", 16, 0, L3AF_OK },
		{ "1 good + 16 unknown", 16, 1, L3AF_OK },
		{ "99 unknown + 1 good (100 lines)", 99, 0, L3AF_OK },
		{ "100 unknown + 1 good (101 lines)", 100, 0, L3AF_E_INVALID },
		{ "1 good + 100 unknown (101 lines)", 100, 1, L3AF_E_INVALID },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct signer_note_result res;
		struct l3af_err err = { 0 };
		size_t len = 0;
		char *note = note_with_unknown(cases[i].unknown,
					       cases[i].good_first, &len);

		expect_status(cases[i].desc, open_note(note, len, &f->xmod_vkey,
			      1, &res, &err), cases[i].want, &err);
		if (cases[i].want == L3AF_OK)
			assert_int_equal(res.sig_lines, cases[i].unknown + 1);
		free(note);
	}
}

/* Caller errors and limits on open. */
static void test_note_open_limits(void **state)
{
	struct fixture *f = *state;
	struct signer_vkey keys[65];
	struct signer_note_result res;
	struct l3af_err err = { 0 };
	char *big = malloc(SIGNER_NOTE_MAX + 2);

	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		keys[i] = f->witness_vkey;
	keys[63] = f->xmod_vkey;
	expect_status("64 keys", open_note(XMOD_NOTE, strlen(XMOD_NOTE), keys,
		      64, &res, &err), L3AF_OK, &err);
	assert_int_equal(res.verified_mask, UINT64_C(1) << 63);
	expect_status("65 keys", open_note(XMOD_NOTE, strlen(XMOD_NOTE), keys,
		      65, &res, &err), L3AF_E_INVALID, &err);
	expect_status("no keys", open_note(XMOD_NOTE, strlen(XMOD_NOTE), NULL,
		      0, &res, &err), L3AF_E_VERIFY, &err);
	keys[0].type = 0x02;
	expect_status("a known key of type 0x02", open_note(XMOD_NOTE,
		      strlen(XMOD_NOTE), keys, 64, &res, &err), L3AF_E_INVALID,
		      &err);
	assert_non_null(big);
	memset(big, 'a', SIGNER_NOTE_MAX + 1);
	expect_status("note over the size cap", open_note(big, SIGNER_NOTE_MAX +
		      1, &f->xmod_vkey, 1, NULL, &err), L3AF_E_LIMIT, &err);
	free(big);
}

/* --- verifier keys and names ---------------------------------------------- */

struct text_case {
	const char *desc;
	const char *text;
	enum l3af_status want;
};

static const struct text_case vkey_cases[] = {
	{ "x/mod vkey", XMOD_VKEY, L3AF_OK },
	{ "C2SP example vkey", "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCb"
	  "V54Id2LKaANYcrnKv3U2k", L3AF_OK },
	{ "cosigner vkey (0x04)", WITNESS_NAME "+449b2479+BBpc2QcUPDhMQegwxbzhK"
	  "qiBfsVkmqq/LDE4izWy10TW", L3AF_OK },
	{ "transparency-dev cosigner vkey", "remora.n621.de+da77ade7+BOvN63jn/b"
	  "Lvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", L3AF_OK },
	{ "'+' inside the base64", "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPj"
	  "igCXlVtGe6RIr6", L3AF_OK },
	{ "wrong key ID", "PeterNeumann+c74f20a4+" XMOD_KEY_B64, L3AF_E_INVALID },
	{ "0x01 key under its 0x04 ID", WITNESS_NAME "+449b2479+" XMOD_KEY_B64,
	  L3AF_E_INVALID },
	{ "bad hex", "PeterNeumann+c74f20ag+" XMOD_KEY_B64, L3AF_E_INVALID },
	{ "uppercase hex", "PeterNeumann+C74F20A3+" XMOD_KEY_B64,
	  L3AF_E_INVALID },
	{ "7 hex digits", "PeterNeumann+c74f20a+" XMOD_KEY_B64, L3AF_E_INVALID },
	{ "9 hex digits", "PeterNeumann+c74f20a30+" XMOD_KEY_B64,
	  L3AF_E_INVALID },
	{ "'+' in the name", "Peter+Neumann+c74f20a3+" XMOD_KEY_B64,
	  L3AF_E_INVALID },
	{ "space in the name", "Peter Neumann+c74f20a3+" XMOD_KEY_B64,
	  L3AF_E_INVALID },
	{ "empty name", "+c74f20a3+" XMOD_KEY_B64, L3AF_E_INVALID },
	{ "no key", "PeterNeumann+c74f20a3+", L3AF_E_INVALID },
	{ "no '+'", "PeterNeumann", L3AF_E_INVALID },
	{ "one '+'", "PeterNeumann+c74f20a3", L3AF_E_INVALID },
	{ "trailing newline", XMOD_VKEY "\n", L3AF_E_INVALID },
	{ "31-byte key", "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq"
	  "/LDE4izWy10Q=", L3AF_E_INVALID },
	{ "base64 without padding", "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbz"
	  "hKqiBfsVkmqq/LDE4izWy10Q", L3AF_E_INVALID },
	{ "private key text", XMOD_SKEY, L3AF_E_INVALID },
};

static void test_vkey_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vkey_cases); i++) {
		const struct text_case *c = &vkey_cases[i];
		struct signer_vkey vk;
		struct l3af_err err = { 0 };
		char buf[SIGNER_VKEY_TEXT_MAX];

		expect_status(c->desc, signer_vkey_parse(c->text, strlen(c->text),
			      &vk, &err), c->want, &err);
		if (c->want != L3AF_OK)
			continue;
		signer_vkey_format(&vk, buf);
		assert_string_equal(buf, c->text);
	}
}

/* Types other than 0x01 and 0x04 are refused even with a correct key ID. */
static void test_vkey_unknown_types(void **state)
{
	static const uint8_t types[] = { 0x00, 0x02, 0x03, 0x05, 0x06, 0xff };
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		struct signer_vkey vk = f->xmod_vkey, out;
		struct l3af_err err = { 0 };
		char buf[SIGNER_VKEY_TEXT_MAX];

		vk.type = types[i];
		vk.id = signer_key_id(vk.name, vk.type, vk.pub);
		signer_vkey_format(&vk, buf);
		expect_status(buf, signer_vkey_parse(buf, strlen(buf), &out, &err),
			      L3AF_E_INVALID, &err);
		assert_non_null(strstr(err.msg, "type"));
	}
}

static const struct text_case name_cases[] = {
	{ "URL-like name", "example.com/foo", L3AF_OK },
	{ "non-ASCII name", "\xc3\xbcn\xc3\xaf" "code/\xd0\xba\xd0\xbb", L3AF_OK },
	{ "one byte", "a", L3AF_OK },
	{ "empty", "", L3AF_E_INVALID },
	{ "space", "a b", L3AF_E_INVALID },
	{ "plus", "a+b", L3AF_E_INVALID },
	{ "tab", "a\tb", L3AF_E_INVALID },
	{ "newline", "a\nb", L3AF_E_INVALID },
	{ "no-break space U+00A0", "a\xc2\xa0" "b", L3AF_E_INVALID },
	{ "next line U+0085", "a\xc2\x85", L3AF_E_INVALID },
	{ "ideographic space U+3000", "a\xe3\x80\x80", L3AF_E_INVALID },
	{ "line separator U+2028", "a\xe2\x80\xa8", L3AF_E_INVALID },
	{ "DEL", "a\x7f", L3AF_E_INVALID },
	{ "C1 control U+0080", "a\xc2\x80", L3AF_E_INVALID },
	{ "invalid UTF-8", "a\xff", L3AF_E_INVALID },
	{ "overlong UTF-8", "\xc0\xaf", L3AF_E_INVALID },
	{ "surrogate", "\xed\xa0\x80", L3AF_E_INVALID },
	{ "above U+10FFFF", "\xf4\x90\x80\x80", L3AF_E_INVALID },
};

static void test_name_table(void **state)
{
	char longname[SIGNER_NAME_MAX + 2];
	struct l3af_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(name_cases); i++) {
		l3af_err_clear(&err);
		expect_status(name_cases[i].desc,
			      signer_name_check(name_cases[i].text, &err),
			      name_cases[i].want, &err);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[SIGNER_NAME_MAX] = '\0';
	expect_status("255 bytes", signer_name_check(longname, &err), L3AF_OK,
		      &err);
	longname[SIGNER_NAME_MAX] = 'a';
	longname[SIGNER_NAME_MAX + 1] = '\0';
	expect_status("256 bytes", signer_name_check(longname, &err),
		      L3AF_E_INVALID, &err);
	expect_status("NULL", signer_name_check(NULL, &err), L3AF_E_INVALID,
		      &err);
}

/* --- private keys --------------------------------------------------------- */

static const struct text_case skey_cases[] = {
	{ "x/mod skey", XMOD_SKEY, L3AF_OK },
	{ "with a final newline", XMOD_SKEY "\n", L3AF_OK },
	{ "two final newlines", XMOD_SKEY "\n\n", L3AF_E_INVALID },
	{ "CRLF", XMOD_SKEY "\r\n", L3AF_E_INVALID },
	{ "lowercase prefix", "private+key+PeterNeumann+c74f20a3+" XMOD_SEED_B64,
	  L3AF_E_INVALID },
	{ "vkey instead", XMOD_VKEY, L3AF_E_INVALID },
	{ "wrong key ID", "PRIVATE+KEY+PeterNeumann+c74f20a4+" XMOD_SEED_B64,
	  L3AF_E_INVALID },
	{ "other name", "PRIVATE+KEY+PeterNeumanm+c74f20a3+" XMOD_SEED_B64,
	  L3AF_E_INVALID },
	{ "space in name", "PRIVATE+KEY+Peter Neumann+c74f20a3+" XMOD_SEED_B64,
	  L3AF_E_INVALID },
	{ "bad base64", "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALV*GyNhPJEMzD1"
	  "QIDr+Y7hfZx09iUvxdXHKDFz", L3AF_E_INVALID },
	{ "type 0x02", "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1Q"
	  "IDr+Y7hfZx09iUvxdXHKDFz", L3AF_E_INVALID },
	{ "empty", "", L3AF_E_INVALID },
};

/* Parse rejections; no message ever repeats the secret base64. */
static void test_skey_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(skey_cases); i++) {
		const struct text_case *c = &skey_cases[i];
		struct signer_key *key = NULL;
		struct l3af_err err = { 0 };

		expect_status(c->desc, signer_key_parse(c->text, strlen(c->text),
			      &key, &err), c->want, &err);
		assert_null(strstr(err.msg, "FALV"));
		if (c->want == L3AF_OK)
			assert_int_equal(strcmp(signer_key_name(key),
						"PeterNeumann"), 0);
		signer_key_free(key);
	}
}

/* Signing refuses text that would not parse back, and every accepted text
 * round-trips through signer_note_open. */
static void test_sign_table(void **state)
{
	static const struct text_case cases[] = {
		{ "text with blank lines inside", "a\n\nb\n", L3AF_OK },
		{ "just a newline", "\n", L3AF_OK },
		{ "non-ASCII text and DEL", "\xc3\xbcn\xc3\xaf\x7f\n", L3AF_OK },
		{ "empty", "", L3AF_E_INVALID },
		{ "no final newline", "abc", L3AF_E_INVALID },
		{ "ends in a blank line", "abc\n\n", L3AF_E_INVALID },
		{ "tab", "a\tb\n", L3AF_E_INVALID },
		{ "bad UTF-8", "\xff\n", L3AF_E_INVALID },
	};
	struct fixture *f = *state;
	struct signer_key *keys[2] = { f->xmod, f->witness };
	struct signer_vkey vks[2] = { f->xmod_vkey, f->witness_vkey };

	for (size_t i = 0; i < ARRAY_LEN(cases) * 2; i++) {
		const struct text_case *c = &cases[i / 2];
		struct signer_note_result res;
		struct l3af_err err = { 0 };
		char *note = NULL;
		size_t len = 0;

		expect_status(c->desc, signer_note_sign(keys[i % 2], c->text,
			      strlen(c->text), 1700000000, &note, &len, &err),
			      c->want, &err);
		if (c->want != L3AF_OK)
			continue;
		expect_status(c->desc, open_note(note, len, vks, 2, &res, &err),
			      L3AF_OK, &err);
		assert_int_equal(res.text_len, strlen(c->text));
		assert_int_equal(res.verified_mask, 1u << (i % 2));
		l3af_free(note);
	}
}

/* Buffer and size limits on the signing side. */
static void test_sign_limits(void **state)
{
	struct fixture *f = *state;
	struct l3af_err err = { 0 };
	char line[SIGNER_NOTE_LINE_MAX], *big, *note = NULL;
	size_t len = 0, need = strlen(XMOD_LINE) + 1;

	expect_status("line buffer one short", signer_note_sign_line(f->xmod,
		      XMOD_TEXT, strlen(XMOD_TEXT), 0, line, need - 1, &err),
		      L3AF_E_LIMIT, &err);
	l3af_err_clear(&err);
	expect_status("line buffer exact", signer_note_sign_line(f->xmod,
		      XMOD_TEXT, strlen(XMOD_TEXT), 0, line, need, &err),
		      L3AF_OK, &err);
	assert_string_equal(line, XMOD_LINE);
	expect_status("no key", signer_note_sign_line(NULL, XMOD_TEXT,
		      strlen(XMOD_TEXT), 0, line, sizeof(line), &err),
		      L3AF_E_INVALID, &err);
	big = malloc(SIGNER_NOTE_MAX + 1);
	assert_non_null(big);
	memset(big, 'a', SIGNER_NOTE_MAX + 1);
	big[SIGNER_NOTE_MAX] = '\n';
	l3af_err_clear(&err);
	expect_status("text over the cap", signer_note_sign(f->xmod, big,
		      SIGNER_NOTE_MAX + 1, 0, &note, &len, &err), L3AF_E_LIMIT,
		      &err);
	big[SIGNER_NOTE_MAX - 10] = '\n';
	l3af_err_clear(&err);
	expect_status("note over the cap", signer_note_sign(f->xmod, big,
		      SIGNER_NOTE_MAX - 9, 0, &note, &len, &err), L3AF_E_LIMIT,
		      &err);
	free(big);
}

/* Fresh keys of both types; a cosignature at the largest time; a long
 * checkpoint (over the open path's stack buffer). */
static void test_generated_keys(void **state)
{
	struct signer_key *log = NULL, *wit = NULL;
	struct signer_vkey vks[2];
	struct signer_note_result res;
	struct l3af_err err = { 0 };
	char line[SIGNER_NOTE_LINE_MAX], *text = malloc(10001), *note = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(text);
	expect_status("log key", signer_key_generate("log.example/a",
		      SIGNER_TYPE_ED25519, &log, &err), L3AF_OK, &err);
	expect_status("witness key", signer_key_generate("w.example/b",
		      SIGNER_TYPE_COSIG_V1, &wit, &err), L3AF_OK, &err);
	expect_status("bad type", signer_key_generate("x", 0x02, &log, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("bad name", signer_key_generate("a b", 0x01, &log, &err),
		      L3AF_E_INVALID, &err);
	signer_key_vkey(log, &vks[0]);
	signer_key_vkey(wit, &vks[1]);
	assert_int_equal(vks[1].type, SIGNER_TYPE_COSIG_V1);
	memset(text, 'x', 10000);
	text[10000] = '\n';
	expect_status("sign long", signer_note_sign(log, text, 10001, 0, &note,
		      &len, &err), L3AF_OK, &err);
	expect_status("cosign long", signer_note_sign_line(wit, text, 10001,
		      (uint64_t)INT64_MAX, line, sizeof(line), &err), L3AF_OK,
		      &err);
	note = l3af_realloc(note, len + strlen(line) + 1);
	assert_non_null(note);
	strcpy(note + len, line);
	expect_status("open long", open_note(note, strlen(note), vks, 2, &res,
		      &err), L3AF_OK, &err);
	assert_int_equal(res.verified, 2);
	assert_int_equal(res.time[1], (uint64_t)INT64_MAX);
	l3af_free(note);
	free(text);
	signer_key_free(log);
	signer_key_free(wit);
}

/* --- key files -------------------------------------------------------------- */

struct tmpdir {
	char dir[64];
	char key[128], link[128], target[128], open[128],
		big[128], bad[128];
};

static void tmpdir_make(struct tmpdir *t)
{
	strcpy(t->dir, "/tmp/l3af-signer-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->key, sizeof(t->key), "%s/log.key", t->dir);
	snprintf(t->link, sizeof(t->link), "%s/link.key", t->dir);
	snprintf(t->target, sizeof(t->target), "%s/target", t->dir);
	snprintf(t->open, sizeof(t->open), "%s/open.key", t->dir);
	snprintf(t->big, sizeof(t->big), "%s/big.key", t->dir);
	snprintf(t->bad, sizeof(t->bad), "%s/bad.key", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
	unlink(t->key);
	unlink(t->link);
	unlink(t->target);
	unlink(t->open);
	unlink(t->big);
	unlink(t->bad);
	assert_int_equal(rmdir(t->dir), 0);
}

/* save: 0600 even with umask 0; exclusive; never through a symlink. */
static void test_key_save(void **state)
{
	struct fixture *f = *state;
	struct tmpdir t;
	struct stat st;
	struct l3af_err err = { 0 };
	mode_t old;
	enum l3af_status rc;

	tmpdir_make(&t);
	old = umask(0);
	rc = signer_key_save(f->witness, t.key, &err);
	umask(old);
	expect_status("save", rc, L3AF_OK, &err);
	assert_int_equal(stat(t.key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	expect_status("save again", signer_key_save(f->witness, t.key, &err),
		      L3AF_E_EXISTS, &err);
	assert_int_equal(symlink(t.target, t.link), 0);
	l3af_err_clear(&err);
	expect_status("save over a dangling symlink", signer_key_save(f->xmod,
		      t.link, &err), L3AF_E_EXISTS, &err);
	assert_int_equal(lstat(t.target, &st), -1);
	unlink(t.link);
	assert_int_equal(symlink(t.key, t.link), 0);
	l3af_err_clear(&err);
	expect_status("save over a symlink to a key", signer_key_save(f->xmod,
		      t.link, &err), L3AF_E_EXISTS, &err);
	tmpdir_remove(&t);
}

static void write_file(const char *path, const char *text, size_t len,
		       unsigned mode)
{
	struct l3af_err err = { 0 };

	assert_int_equal(l3af_file_create(path, text, len, mode, &err), L3AF_OK);
}

/* load: round trip (a 0x04 witness key too); permission, size and format
 * refusals name the file. */
static void test_key_load(void **state)
{
	struct fixture *f = *state;
	struct tmpdir t;
	struct signer_key *key = NULL;
	struct signer_vkey vk;
	struct l3af_err err = { 0 };
	char big[2048], line[SIGNER_NOTE_LINE_MAX], want[SIGNER_NOTE_LINE_MAX];
	const char *body = "example.com/log\n1\nAAAA\n";

	tmpdir_make(&t);
	expect_status("save", signer_key_save(f->witness, t.key, &err), L3AF_OK,
		      &err);
	expect_status("load", signer_key_load(t.key, &key, &err), L3AF_OK, &err);
	signer_key_vkey(key, &vk);
	assert_memory_equal(&vk, &f->witness_vkey, sizeof(vk));
	expect_status("sign loaded", signer_note_sign_line(key, body,
		      strlen(body), 42, line, sizeof(line), &err), L3AF_OK, &err);
	expect_status("sign original", signer_note_sign_line(f->witness, body,
		      strlen(body), 42, want, sizeof(want), &err), L3AF_OK, &err);
	assert_string_equal(line, want);
	signer_key_free(key);
	key = NULL;
	write_file(t.open, XMOD_SKEY "\n", strlen(XMOD_SKEY) + 1, 0644);
	expect_status("load 0644", signer_key_load(t.open, &key, &err),
		      L3AF_E_INVALID, &err);
	assert_non_null(strstr(err.msg, t.open));
	assert_int_equal(chmod(t.open, 0640), 0);
	l3af_err_clear(&err);
	expect_status("load 0640", signer_key_load(t.open, &key, &err),
		      L3AF_E_INVALID, &err);
	assert_int_equal(chmod(t.open, 0600), 0);
	l3af_err_clear(&err);
	expect_status("load 0600", signer_key_load(t.open, &key, &err), L3AF_OK,
		      &err);
	signer_key_vkey(key, &vk);
	assert_memory_equal(&vk, &f->xmod_vkey, sizeof(vk));
	signer_key_free(key);
	key = NULL;
	memset(big, 'A', sizeof(big));
	write_file(t.big, big, sizeof(big), 0600);
	expect_status("load 2 KiB", signer_key_load(t.big, &key, &err),
		      L3AF_E_LIMIT, &err);
	write_file(t.bad, "PRIVATE+KEY+x\n", 14, 0600);
	l3af_err_clear(&err);
	expect_status("load garbage", signer_key_load(t.bad, &key, &err),
		      L3AF_E_INVALID, &err);
	assert_non_null(strstr(err.msg, t.bad));
	l3af_err_clear(&err);
	expect_status("load missing", signer_key_load(t.target, &key, &err),
		      L3AF_E_NOTFOUND, &err);
	l3af_err_clear(&err);
	expect_status("load a directory", signer_key_load(t.dir, &key, &err),
		      L3AF_E_INVALID, &err);
	assert_null(key);
	tmpdir_remove(&t);
}

/* --- allocation failures and threads ------------------------------------------- */

static char long_text[6001];

static enum l3af_status op_sign(const struct fixture *f)
{
	char *note = NULL;
	size_t len = 0;
	enum l3af_status rc = signer_note_sign(f->xmod, XMOD_TEXT,
					       strlen(XMOD_TEXT), 0, &note,
					       &len, NULL);
	l3af_free(note);
	return rc;
}

static enum l3af_status op_cosign_long(const struct fixture *f)
{
	char *note = NULL;
	size_t len = 0;
	enum l3af_status rc = signer_note_sign(f->witness, long_text,
					       sizeof(long_text), 7, &note,
					       &len, NULL);
	if (rc == L3AF_OK)
		rc = signer_note_open(note, len, &f->witness_vkey, 1, NULL,
				      NULL);
	l3af_free(note);
	return rc;
}

static enum l3af_status op_parse(const struct fixture *f)
{
	struct signer_key *key = NULL;
	enum l3af_status rc = signer_key_parse(XMOD_SKEY, strlen(XMOD_SKEY),
					       &key, NULL);
	(void)f;
	signer_key_free(key);
	return rc;
}

static enum l3af_status op_generate(const struct fixture *f)
{
	struct signer_key *key = NULL;
	enum l3af_status rc = signer_key_generate("a.example", 0x04, &key,
						  NULL);
	(void)f;
	signer_key_free(key);
	return rc;
}

/* Fail allocation k = 1, 2, ... until the operation succeeds: each failure
 * must be a clean L3AF_E_NOMEM (and, under ASan, leak nothing). */
static void test_alloc_failures(void **state)
{
	static const struct {
		const char *desc;
		enum l3af_status (*run)(const struct fixture *f);
	} ops[] = {
		{ "signer_note_sign", op_sign },
		{ "cosign + open, long text", op_cosign_long },
		{ "signer_key_parse", op_parse },
		{ "signer_key_generate", op_generate },
	};
	const struct fixture *f = *state;

	memset(long_text, 'c', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\n';
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		enum l3af_status rc = L3AF_E_NOMEM;
		unsigned long k;

		for (k = 1; k < 100 && rc != L3AF_OK; k++) {
			l3af_alloc_fail_at(k);
			rc = ops[i].run(f);
			l3af_alloc_fail_at(0);
			if (rc != L3AF_OK && rc != L3AF_E_NOMEM)
				fail_msg("%s: allocation %lu failed: %s",
					 ops[i].desc, k, l3af_status_name(rc));
		}
		expect_status(ops[i].desc, rc, L3AF_OK, NULL);
		assert_true(k > 2); /* at least one allocation was failed */
	}
}

#define THREADS 4
#define ROUNDS 100

/* Sign with one shared key from several threads at once. */
static void *sign_worker(void *arg)
{
	const struct fixture *f = arg;
	char line[SIGNER_NOTE_LINE_MAX];
	uintptr_t bad = 0;

	for (int i = 0; i < ROUNDS; i++)
		if (signer_note_sign_line(f->xmod, XMOD_TEXT, strlen(XMOD_TEXT),
					  0, line, sizeof(line), NULL) != L3AF_OK ||
		    strcmp(line, XMOD_LINE) != 0)
			bad++;
	return (void *)bad;
}

static void test_concurrent_signing(void **state)
{
	pthread_t th[THREADS];
	void *bad;

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, sign_worker, *state),
				 0);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_int_equal((uintptr_t)bad, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_verify),
		cmocka_unit_test(test_xmod_skey_signs_example),
		cmocka_unit_test(test_cosignature_vector),
		cmocka_unit_test(test_cosignature_rejects),
		cmocka_unit_test(test_c2sp99_checkpoint),
		cmocka_unit_test(test_note_table),
		cmocka_unit_test(test_signature_line_cap),
		cmocka_unit_test(test_note_open_limits),
		cmocka_unit_test(test_vkey_table),
		cmocka_unit_test(test_vkey_unknown_types),
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_skey_table),
		cmocka_unit_test(test_sign_table),
		cmocka_unit_test(test_sign_limits),
		cmocka_unit_test(test_generated_keys),
		cmocka_unit_test(test_key_save),
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_concurrent_signing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
