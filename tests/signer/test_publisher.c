/*
 * test_publisher.c - publisher keys (Ed25519, ECDSA P-256), DSSE envelopes
 * and in-toto statements, with real crypto and no mocks.
 *
 * Known answers:
 * - secure-systems-lab/dsse protocol.md "Test Vectors": the PAE bytes, and
 *   the P-256 key and signature (its raw r || s re-encoded as DER here; the
 *   raw form itself must fail, since we take DER only);
 * - RFC 8032 section 7.1 TEST 1 key as a PKCS#8 / SPKI pair, as
 *   `openssl pkey` prints it, with its key ID (SHA-256 of the SPKI).
 * Every accept case has reject cases beside it. Key files go to a mkdtemp
 * directory under /tmp.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signer.h"
#include "signer_internal.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* DSSE protocol.md test vector. */
#define SPEC_TYPE "http://example.com/HelloWorld"
#define SPEC_PAE "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
#define SPEC_SPKI_B64 "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp" \
	"7YMrCrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA=="
#define SPEC_KEYID "f793580060562d6ff075d814ea698c282fcc779b0cde64d79ffc6301df00d14b"
#define SPEC_SIG_RAW "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfU" \
	"iHqJPcIAriEGAHTVeCUjW2JIZA=="
#define SPEC_SIG_DER "MEQCIANyarEBrVbCdjtsaqyOSHJ14qeRk6CdxfhZ2fjvPEo7AiBR6rDAajab" \
	"ZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="
/* The same signature with s replaced by n - s (high S). */
#define SPEC_SIG_HIGH_S "MEUCIANyarEBrVbCdjtsaqyOSHJ14qeRk6CdxfhZ2fjvPEo7AiEArhVPPpXJ" \
	"ZJxY3drIK3eFdn8k+f+GEZ4QHkGln6EA3O0="
/* The spec key's point in compressed form: same key, non-canonical SPKI. */
#define SPEC_SPKI_COMPRESSED "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgACZ805D3eqNZywjCI19lInBJOp" \
	"7YMrCrzAH3CVTAOQ0jg="
#define SPEC_ENV(payload, sig) "{\"payload\":\"" payload "\",\"payloadType\":\"" \
	SPEC_TYPE "\",\"signatures\":[{\"sig\":\"" sig "\"}]}"

/* RFC 8032 TEST 1 as PKCS#8 and SPKI. */
#define ED_PKCS8 "-----BEGIN PRIVATE KEY-----\n" \
	"MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n" \
	"-----END PRIVATE KEY-----\n"
#define ED_SPKI_PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n" \
	"-----END PUBLIC KEY-----\n"
#define ED_KEYID "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9"

/* Statement pieces. */
#define HEX64 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define PRED "{\"files\":[],\"name\":\"xdp-root\",\"platform\":{\"arch\":\"amd64\"," \
	"\"os\":\"linux\"},\"version\":\"1.0.0\"}"
#define SUBJ1(name, hex) "{\"digest\":{\"sha256\":\"" hex "\"},\"name\":\"" name "\"}"
#define SUBJ SUBJ1("xdp-root.tar.gz", HEX64)
#define STMT(type, subj, ptype, pred) "{\"_type\":\"" type "\",\"predicate\":" pred \
	",\"predicateType\":\"" ptype "\",\"subject\":[" subj "]}"
#define ST_TYPE SIGNER_STATEMENT_TYPE
#define PR_TYPE SIGNER_PREDICATE_TYPE
#define GOOD_STMT STMT(ST_TYPE, SUBJ, PR_TYPE, PRED)

/* --- helpers --------------------------------------------------------------- */

static void expect_status(const char *desc, enum l3af_status got,
			  enum l3af_status want, const struct l3af_err *err)
{
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", desc, l3af_status_name(got),
			 err ? err->msg : "", l3af_status_name(want));
	if (want != L3AF_OK && err && strncmp(err->msg, "signer: ", 8) != 0)
		fail_msg("%s: message lacks the area: '%s'", desc, err->msg);
}

static void pubkey_from_b64(const char *b64, struct signer_pubkey *out)
{
	uint8_t der[128];
	size_t n = 0;

	assert_int_equal(l3af_base64_decode(der, sizeof(der), &n, b64, strlen(b64)), L3AF_OK);
	assert_int_equal(signer_pubkey_from_spki(der, n, out, NULL), L3AF_OK);
}

static enum l3af_status verify(const char *env, const struct signer_pubkey *keys,
			       size_t nkeys, unsigned threshold,
			       struct signer_dsse_result *res, struct l3af_err *err)
{
	l3af_err_clear(err);
	return signer_dsse_verify(env, strlen(env), keys, nkeys, threshold, res, err);
}

static char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/l3af-pub-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Replace (or with val NULL, delete) field key of JSON object text; or of
 * signatures[0] when sig0 is set. Returns a new string (free()). */
static char *json_edit(const char *text, int sig0, const char *key, json_t *val)
{
	json_t *root = json_loads(text, 0, NULL);
	json_t *obj = root;
	char *out;

	assert_non_null(root);
	if (sig0)
		obj = json_array_get(json_object_get(root, "signatures"), 0);
	if (val)
		json_object_set_new(obj, key, val);
	else
		json_object_del(obj, key);
	out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return out;
}

static json_t *b64_json(const void *bin, size_t len)
{
	char buf[1024];

	assert_int_equal(l3af_base64_encode(buf, sizeof(buf), bin, len), L3AF_OK);
	return json_string(buf);
}

static json_t *predicate_new(void)
{
	json_t *p = json_loads(PRED, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(p);
	return p;
}

/* --- PAE and the DSSE spec vector ------------------------------------------ */

static void test_pae_vectors(void **state)
{
	static const struct {
		const char *type, *body, *want, *desc;
	} rows[] = {
		{ SPEC_TYPE, "hello world", SPEC_PAE, "protocol.md test vector" },
		{ "", "", "DSSEv1 0  0 ", "empty type and body" },
		{ SIGNER_INTOTO_PAYLOAD_TYPE, "{}",
		  "DSSEv1 28 application/vnd.in-toto+json 2 {}", "in-toto type" },
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		uint8_t *pae = NULL;
		size_t n = 0;

		assert_int_equal(signer_dsse_pae(rows[i].type, strlen(rows[i].type),
						 (const uint8_t *)rows[i].body,
						 strlen(rows[i].body), &pae, &n, NULL), L3AF_OK);
		if (n != strlen(rows[i].want) || memcmp(pae, rows[i].want, n) != 0)
			fail_msg("%s: PAE '%.*s'", rows[i].desc, (int)n, (char *)pae);
		l3af_free(pae);
	}
}

static void test_dsse_spec_vector(void **state)
{
	static const struct {
		const char *env;
		enum l3af_status want;
		const char *desc;
	} rows[] = {
		{ SPEC_ENV("aGVsbG8gd29ybGQ=", SPEC_SIG_DER), L3AF_OK, "spec vector, DER signature" },
		{ SPEC_ENV("aGVsbG8gd29ybGQ", SPEC_SIG_DER), L3AF_OK, "payload base64 unpadded" },
		{ SPEC_ENV("aGVsbG8gd29ybGQ=", SPEC_SIG_HIGH_S), L3AF_OK, "high S accepted (documented)" },
		{ SPEC_ENV("aGVsbG8gd29ybGQ=", SPEC_SIG_RAW), L3AF_E_VERIFY, "raw r||s is not DER" },
		{ SPEC_ENV("aGVsbG8gd29ybGU=", SPEC_SIG_DER), L3AF_E_VERIFY, "payload changed" },
		{ SPEC_ENV("aGVsbG8gd29ybGR=", SPEC_SIG_DER), L3AF_E_INVALID, "stray base64 bits" },
		{ SPEC_ENV("aGVsbG8gd29y bGQ=", SPEC_SIG_DER), L3AF_E_INVALID, "white space in base64" },
		{ "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"http://example.com/HelloWorlD\","
		  "\"signatures\":[{\"sig\":\"" SPEC_SIG_DER "\"}]}", L3AF_E_VERIFY, "payloadType changed" },
		{ "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"" SPEC_TYPE "\","
		  "\"signatures\":[{\"keyid\":\"" SPEC_KEYID "\",\"sig\":\"" SPEC_SIG_DER "\"}]}",
		  L3AF_OK, "keyid names the key" },
		{ "{\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"" SPEC_TYPE "\","
		  "\"signatures\":[{\"keyid\":\"" ED_KEYID "\",\"sig\":\"" SPEC_SIG_DER "\"}]}",
		  L3AF_E_VERIFY, "keyid names another key" },
	};
	struct signer_pubkey key;
	struct signer_dsse_result res;
	struct l3af_err err;

	pubkey_from_b64(SPEC_SPKI_B64, &key);
	assert_int_equal(key.alg, SIGNER_ALG_ECDSA_P256);
	assert_string_equal(key.id, SPEC_KEYID);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		memset(&res, 0, sizeof(res));
		expect_status(rows[i].desc, verify(rows[i].env, &key, 1, 1, &res, &err),
			      rows[i].want, &err);
		if (rows[i].want != L3AF_OK)
			continue;
		assert_int_equal(res.payload_len, 11);
		assert_string_equal((char *)res.payload, "hello world");
		assert_string_equal(res.payload_type, SPEC_TYPE);
		assert_int_equal(res.verified_mask, 1);
		signer_dsse_result_clear(&res);
	}
}

/* --- public keys ----------------------------------------------------------- */

static void test_pubkey_forms(void **state)
{
	static const char *const bad_pem[] = {
		ED_SPKI_PEM "x",
		"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
		"-----END PRIVATE KEY-----\n",
		"junk\n" ED_SPKI_PEM,
		"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR==\n"
		"-----END PUBLIC KEY-----\n",
		"",
	};
	struct signer_pubkey pub, again;
	char pem[SIGNER_PUBKEY_PEM_MAX];
	struct l3af_err err;
	uint8_t der[128];
	size_t n = 0;

	assert_int_equal(signer_pubkey_parse_pem(ED_SPKI_PEM, strlen(ED_SPKI_PEM), &pub, NULL), L3AF_OK);
	assert_int_equal(pub.alg, SIGNER_ALG_ED25519);
	assert_string_equal(pub.id, ED_KEYID);
	assert_int_equal(signer_pubkey_format_pem(&pub, pem, NULL), L3AF_OK);
	assert_string_equal(pem, ED_SPKI_PEM);
	pubkey_from_b64(SPEC_SPKI_B64, &pub);
	assert_int_equal(signer_pubkey_format_pem(&pub, pem, NULL), L3AF_OK);
	assert_int_equal(signer_pubkey_parse_pem(pem, strlen(pem), &again, NULL), L3AF_OK);
	assert_memory_equal(&pub, &again, sizeof(pub));
	for (size_t i = 0; i < ARRAY_LEN(bad_pem); i++) {
		l3af_err_clear(&err);
		expect_status(bad_pem[i], signer_pubkey_parse_pem(bad_pem[i], strlen(bad_pem[i]),
								  &pub, &err), L3AF_E_INVALID, &err);
	}
	/* The same P-256 key with a compressed point: one key, one ID. */
	assert_int_equal(l3af_base64_decode(der, sizeof(der), &n, SPEC_SPKI_COMPRESSED,
					    strlen(SPEC_SPKI_COMPRESSED)), L3AF_OK);
	l3af_err_clear(&err);
	expect_status("compressed point", signer_pubkey_from_spki(der, n, &pub, &err),
		      L3AF_E_INVALID, &err);
	expect_status("truncated SPKI", signer_pubkey_from_spki(der, 10, &pub, &err),
		      L3AF_E_INVALID, &err);
}

/* --- keys, signing, tampering ---------------------------------------------- */

static void sign_verify_alg(enum signer_alg alg)
{
	static const char body[] = GOOD_STMT;
	struct signer_privkey *key = NULL, *other = NULL;
	struct signer_pubkey keys[2];
	struct signer_dsse_result res = { .payload = NULL };
	struct l3af_err err;
	char *env = NULL, *bad;

	assert_int_equal(signer_privkey_generate(alg, &key, NULL), L3AF_OK);
	assert_int_equal(signer_privkey_generate(alg, &other, NULL), L3AF_OK);
	keys[0] = *signer_privkey_pubkey(key);
	keys[1] = *signer_privkey_pubkey(other);
	assert_int_equal(keys[0].alg, alg);
	assert_int_equal(strlen(keys[0].id), 64);
	assert_int_equal(signer_dsse_sign(key, SIGNER_INTOTO_PAYLOAD_TYPE,
					  (const uint8_t *)body, strlen(body), &env, NULL), L3AF_OK);
	expect_status("round trip", verify(env, keys, 2, 1, &res, &err), L3AF_OK, &err);
	assert_int_equal(res.verified_mask, 1);
	assert_memory_equal(res.payload, body, strlen(body));
	signer_dsse_result_clear(&res);
	expect_status("other key only", verify(env, &keys[1], 1, 1, NULL, &err), L3AF_E_VERIFY, &err);
	expect_status("threshold 2 of 2", verify(env, keys, 2, 2, NULL, &err), L3AF_E_VERIFY, &err);

	bad = json_edit(env, 0, "payload", b64_json(body, strlen(body) - 1));
	expect_status("payload changed", verify(bad, keys, 1, 1, NULL, &err), L3AF_E_VERIFY, &err);
	free(bad);
	bad = json_edit(env, 0, "payloadType", json_string("application/vnd.in-toto+jsoN"));
	expect_status("payloadType changed", verify(bad, keys, 1, 1, NULL, &err), L3AF_E_VERIFY, &err);
	free(bad);
	/* keyid names `other`, but `key` signed: fails for both. */
	bad = json_edit(env, 1, "keyid", json_string(keys[1].id));
	expect_status("keyid of another key", verify(bad, keys, 2, 1, NULL, &err), L3AF_E_VERIFY, &err);
	free(bad);
	bad = json_edit(env, 1, "keyid", NULL);
	expect_status("no keyid: every key tried", verify(bad, keys, 2, 1, NULL, &err), L3AF_OK, &err);
	free(bad);
	{
		/* A signature over the raw payload, not the PAE. */
		uint8_t sig[SIGNER_PUBSIG_MAX];
		size_t n = 0;

		assert_int_equal(signer_privkey_sign(key, (const uint8_t *)body, strlen(body),
						     sig, &n, NULL), L3AF_OK);
		bad = json_edit(env, 1, "sig", b64_json(sig, n));
		expect_status("signature over raw payload", verify(bad, keys, 1, 1, NULL, &err),
			      L3AF_E_VERIFY, &err);
		free(bad);
		sig[n - 1] ^= 1;
		bad = json_edit(env, 1, "sig", b64_json(sig, n));
		expect_status("signature bit flipped", verify(bad, keys, 1, 1, NULL, &err),
			      L3AF_E_VERIFY, &err);
		free(bad);
	}
	l3af_free(env);
	signer_privkey_free(key);
	signer_privkey_free(other);
}

static void test_sign_verify(void **state)
{
	sign_verify_alg(SIGNER_ALG_ED25519);
	sign_verify_alg(SIGNER_ALG_ECDSA_P256);
}

/* Two publishers (one of each algorithm) on one envelope; threshold rules. */
static void test_threshold(void **state)
{
	static const uint8_t body[] = "payload";
	struct signer_privkey *a = NULL, *b = NULL;
	struct signer_pubkey keys[3];
	struct signer_dsse_result res = { .payload = NULL };
	struct l3af_err err;
	char *ea = NULL, *eb = NULL, *both, *twice;
	json_t *ja, *jb;

	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &a, NULL), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ECDSA_P256, &b, NULL), L3AF_OK);
	keys[0] = *signer_privkey_pubkey(a);
	keys[1] = *signer_privkey_pubkey(b);
	keys[2] = keys[0];
	assert_int_equal(signer_dsse_sign(a, "t", body, 7, &ea, NULL), L3AF_OK);
	assert_int_equal(signer_dsse_sign(b, "t", body, 7, &eb, NULL), L3AF_OK);
	ja = json_loads(ea, 0, NULL);
	jb = json_loads(eb, 0, NULL);
	json_array_extend(json_object_get(ja, "signatures"), json_object_get(jb, "signatures"));
	both = json_dumps(ja, JSON_COMPACT);
	json_array_extend(json_object_get(jb, "signatures"), json_object_get(jb, "signatures"));
	twice = json_dumps(jb, JSON_COMPACT);
	expect_status("2 of 2", verify(both, keys, 2, 2, &res, &err), L3AF_OK, &err);
	assert_int_equal(res.verified, 2);
	assert_int_equal(res.sigs, 2);
	assert_int_equal(res.verified_mask, 3);
	signer_dsse_result_clear(&res);
	expect_status("one key's signature twice", verify(twice, keys, 2, 2, NULL, &err),
		      L3AF_E_VERIFY, &err);
	expect_status("a trusted key listed twice", verify(both, keys, 3, 2, NULL, &err),
		      L3AF_E_INVALID, &err);
	expect_status("threshold 0", verify(both, keys, 2, 0, NULL, &err), L3AF_E_INVALID, &err);
	expect_status("threshold 3 of 2", verify(both, keys, 2, 3, NULL, &err), L3AF_E_INVALID, &err);
	expect_status("no keys", verify(both, keys, 0, 1, NULL, &err), L3AF_E_INVALID, &err);
	free(both);
	free(twice);
	json_decref(ja);
	json_decref(jb);
	l3af_free(ea);
	l3af_free(eb);
	signer_privkey_free(a);
	signer_privkey_free(b);
}

static char *nested_arrays(size_t depth, const char *pre, const char *post)
{
	size_t np = strlen(pre), nq = strlen(post);
	char *s = malloc(np + 2 * depth + nq + 1);

	assert_non_null(s);
	memcpy(s, pre, np);
	memset(s + np, '[', depth);
	memset(s + np + depth, ']', depth);
	memcpy(s + np + 2 * depth, post, nq + 1);
	return s;
}

static void test_envelope_rejects(void **state)
{
#define SIGS "\"signatures\":[{\"sig\":\"" SPEC_SIG_DER "\"}]"
#define TOP "\"payload\":\"aGVsbG8gd29ybGQ=\",\"payloadType\":\"" SPEC_TYPE "\""
	static const struct {
		const char *env, *desc;
	} rows[] = {
		{ "{" TOP ",\"payload\":\"aGVsbG8gd29ybGQ=\"," SIGS "}", "duplicate key" },
		{ "{" TOP "," SIGS ",\"extra\":1}", "unknown top-level field" },
		{ "{" TOP ",\"signatures\":[{\"sig\":\"" SPEC_SIG_DER "\",\"cert\":\"x\"}]}",
		  "unknown signature field" },
		{ "{\"payload\":\"aGVsbG8gd29ybGQ=\"," SIGS "}", "no payloadType" },
		{ "{\"payloadType\":\"t\"," SIGS "}", "no payload" },
		{ "{" TOP "}", "no signatures" },
		{ "{" TOP ",\"signatures\":[]}", "empty signatures" },
		{ "{" TOP ",\"signatures\":{}}", "signatures not an array" },
		{ "{" TOP ",\"signatures\":[{\"keyid\":\"x\"}]}", "no sig" },
		{ "{" TOP ",\"signatures\":[{\"sig\":7}]}", "sig not a string" },
		{ "{" TOP ",\"signatures\":[{\"sig\":\"" SPEC_SIG_DER "\",\"keyid\":1}]}",
		  "keyid not a string" },
		{ "{" TOP ",\"signatures\":[{\"sig\":\"!!!!\"}]}", "sig not base64" },
		{ "{" TOP ",\"signatures\":[\"x\"]}", "signature not an object" },
		{ "{\"payload\":7,\"payloadType\":\"t\"," SIGS "}", "payload not a string" },
		{ "{\"payload\":\"YQ==\",\"payloadType\":\"t\"," SIGS "} x", "trailing text" },
		{ "[]", "not an object" },
		{ "", "empty" },
		{ "{\"payload\":\"a+b_\",\"payloadType\":\"t\"," SIGS "}", "mixed base64 alphabets" },
	};
	struct signer_pubkey key;
	struct l3af_err err;
	char *s;
	size_t n;

	pubkey_from_b64(SPEC_SPKI_B64, &key);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++)
		expect_status(rows[i].desc, verify(rows[i].env, &key, 1, 1, NULL, &err),
			      L3AF_E_INVALID, &err);
	/* 10,000 nested arrays: jansson's depth limit refuses them. */
	s = nested_arrays(10000, "{\"payload\":", "}");
	expect_status("10000 nested arrays", verify(s, &key, 1, 1, NULL, &err), L3AF_E_INVALID, &err);
	free(s);
	/* 17 signature entries. */
	s = calloc(1, 4096);
	assert_non_null(s);
	strcpy(s, "{" TOP ",\"signatures\":[");
	for (int i = 0; i < SIGNER_DSSE_SIGS_MAX + 1; i++)
		strcat(s, i ? ",{\"sig\":\"\"}" : "{\"sig\":\"\"}");
	strcat(s, "]}");
	expect_status("17 signatures", verify(s, &key, 1, 1, NULL, &err), L3AF_E_INVALID, &err);
	free(s);
	/* One byte over the cap is refused before parsing (not even JSON). */
	n = SIGNER_DSSE_MAX + 1;
	s = malloc(n);
	assert_non_null(s);
	memset(s, ' ', n);
	l3af_err_clear(&err);
	expect_status("oversized envelope", signer_dsse_verify(s, n, &key, 1, 1, NULL, &err),
		      L3AF_E_LIMIT, &err);
	free(s);
#undef SIGS
#undef TOP
}

static void test_sign_limits(void **state)
{
	struct signer_privkey *key = NULL;
	struct l3af_err err;
	char *env = NULL;
	size_t n = SIGNER_DSSE_MAX / 4 * 3 + 1;
	uint8_t *big = calloc(1, n);

	assert_non_null(big);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &key, NULL), L3AF_OK);
	l3af_err_clear(&err);
	expect_status("payload too big", signer_dsse_sign(key, "t", big, n, &env, &err),
		      L3AF_E_LIMIT, &err);
	/* Fits as payload, but not with the rest of the envelope. */
	l3af_err_clear(&err);
	expect_status("envelope too big", signer_dsse_sign(key, "t", big, n - 1, &env, &err),
		      L3AF_E_LIMIT, &err);
	l3af_err_clear(&err);
	expect_status("empty type", signer_dsse_sign(key, "", big, 1, &env, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("type not UTF-8", signer_dsse_sign(key, "\xff", big, 1, &env, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("bad algorithm", signer_privkey_generate((enum signer_alg)9, &key, &err),
		      L3AF_E_INVALID, &err);
	free(big);
	signer_privkey_free(key);
}

/* --- key files ------------------------------------------------------------- */

static void key_files_alg(const char *dir, enum signer_alg alg)
{
	char path[256], link[256];
	struct signer_privkey *key = NULL, *loaded = NULL;
	struct signer_pubkey pub;
	struct signer_dsse_result res = { .payload = NULL };
	struct l3af_err err;
	struct stat st;
	char *env = NULL;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/%s.pem", dir, signer_alg_name(alg));
	snprintf(link, sizeof(link), "%s/%s.link", dir, signer_alg_name(alg));
	assert_int_equal(signer_privkey_generate(alg, &key, NULL), L3AF_OK);
	assert_int_equal(signer_privkey_save(key, path, NULL), L3AF_OK);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	l3af_err_clear(&err);
	expect_status("save over existing", signer_privkey_save(key, path, &err), L3AF_E_EXISTS, &err);
	assert_int_equal(symlink("/nonexistent/l3af", link), 0);
	l3af_err_clear(&err);
	expect_status("save through a dangling symlink", signer_privkey_save(key, link, &err),
		      L3AF_E_EXISTS, &err);
	assert_int_equal(signer_privkey_load(path, &loaded, NULL), L3AF_OK);
	pub = *signer_privkey_pubkey(loaded);
	assert_memory_equal(&pub, signer_privkey_pubkey(key), sizeof(pub));
	/* The loaded key signs; the original's public key verifies. */
	assert_int_equal(signer_dsse_sign(loaded, "t", (const uint8_t *)"x", 1, &env, NULL), L3AF_OK);
	assert_int_equal(verify(env, signer_privkey_pubkey(key), 1, 1, &res, NULL), L3AF_OK);
	signer_dsse_result_clear(&res);
	l3af_free(env);
	signer_privkey_free(loaded);
	assert_int_equal(chmod(path, 0640), 0);
	l3af_err_clear(&err);
	expect_status("group-readable key file", signer_privkey_load(path, &loaded, &err),
		      L3AF_E_INVALID, &err);
	unlink(path);
	unlink(link);
	signer_privkey_free(key);
}

static void test_key_files(void **state)
{
	static const struct {
		const char *text;
		enum l3af_status want;
		const char *desc;
	} rows[] = {
		{ "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n",
		  L3AF_E_INVALID, "SEC1, not PKCS#8" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
		  L3AF_E_INVALID, "encrypted PKCS#8" },
		{ "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v\n-----END PRIVATE KEY-----\n",
		  L3AF_E_INVALID, "truncated PKCS#8" },
		{ ED_SPKI_PEM, L3AF_E_INVALID, "a public key" },
		{ "", L3AF_E_INVALID, "empty" },
	};
	char *dir = tmpdir_new();
	char path[256];
	struct signer_privkey *key = NULL;
	struct l3af_err err;
	char pem[SIGNER_PUBKEY_PEM_MAX];

	key_files_alg(dir, SIGNER_ALG_ED25519);
	key_files_alg(dir, SIGNER_ALG_ECDSA_P256);
	/* The RFC 8032 key as `openssl genpkey` writes it. */
	snprintf(path, sizeof(path), "%s/rfc8032.pem", dir);
	write_file(path, ED_PKCS8, 0600);
	assert_int_equal(signer_privkey_load(path, &key, NULL), L3AF_OK);
	assert_string_equal(signer_privkey_pubkey(key)->id, ED_KEYID);
	assert_int_equal(signer_pubkey_format_pem(signer_privkey_pubkey(key), pem, NULL), L3AF_OK);
	assert_string_equal(pem, ED_SPKI_PEM);
	signer_privkey_free(key);
	unlink(path);
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		write_file(path, rows[i].text, 0600);
		l3af_err_clear(&err);
		expect_status(rows[i].desc, signer_privkey_load(path, &key, &err), rows[i].want, &err);
		unlink(path);
	}
	l3af_err_clear(&err);
	expect_status("missing file", signer_privkey_load(path, &key, &err), L3AF_E_NOTFOUND, &err);
	rmdir(dir);
	free(dir);
}

/* --- statements ------------------------------------------------------------ */

static void test_statement_round_trip(void **state)
{
	uint8_t digest[32];
	json_t *pred = predicate_new();
	struct signer_statement st;
	char *text = NULL;

	assert_int_equal(l3af_hex_decode(digest, 32, HEX64, 64), L3AF_OK);
	assert_int_equal(signer_statement_build("xdp-root.tar.gz", digest, pred, &text, NULL), L3AF_OK);
	/* Canonical: compact, sorted keys, byte for byte. */
	assert_string_equal(text, GOOD_STMT);
	assert_int_equal(signer_statement_parse(text, strlen(text), &st, NULL), L3AF_OK);
	assert_string_equal(st.name, "xdp-root.tar.gz");
	assert_memory_equal(st.sha256, digest, 32);
	assert_true(json_equal(st.predicate, pred));
	signer_statement_clear(&st);
	l3af_free(text);
	json_decref(pred);
}

static void test_statement_rejects(void **state)
{
	static const struct {
		const char *text;
		enum l3af_status want;
		const char *desc;
	} rows[] = {
		{ GOOD_STMT, L3AF_OK, "good" },
		{ STMT("https://in-toto.io/Statement/v0.1", SUBJ, PR_TYPE, PRED), L3AF_E_INVALID, "wrong _type" },
		{ STMT(ST_TYPE, SUBJ, "https://slsa.dev/provenance/v1", PRED), L3AF_E_INVALID, "wrong predicateType" },
		{ STMT(ST_TYPE, SUBJ "," SUBJ, PR_TYPE, PRED), L3AF_E_INVALID, "two subjects" },
		{ STMT(ST_TYPE, , PR_TYPE, PRED), L3AF_E_INVALID, "no subject" },
		{ STMT(ST_TYPE, SUBJ1("a", "9F86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
		       PR_TYPE, PRED), L3AF_E_INVALID, "uppercase hex" },
		{ STMT(ST_TYPE, SUBJ1("a", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"),
		       PR_TYPE, PRED), L3AF_E_INVALID, "63 hex digits" },
		{ STMT(ST_TYPE, SUBJ1("a", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"),
		       PR_TYPE, PRED), L3AF_E_INVALID, "non-hex digit" },
		{ STMT(ST_TYPE, SUBJ1("", HEX64), PR_TYPE, PRED), L3AF_E_INVALID, "empty name" },
		{ STMT(ST_TYPE, SUBJ1("a\\u0007b", HEX64), PR_TYPE, PRED), L3AF_E_INVALID, "control character in name" },
		{ STMT(ST_TYPE, "{\"digest\":{\"sha512\":\"" HEX64 "\"},\"name\":\"a\"}", PR_TYPE, PRED),
		  L3AF_E_INVALID, "no sha256 digest" },
		{ STMT(ST_TYPE, SUBJ1("a", HEX64), PR_TYPE, "[]"), L3AF_E_INVALID, "predicate not an object" },
		{ STMT(ST_TYPE, SUBJ, PR_TYPE, "{\"files\":[],\"platform\":{\"arch\":\"a\",\"os\":\"l\"},"
		       "\"version\":\"1\"}"), L3AF_E_INVALID, "no name" },
		{ STMT(ST_TYPE, SUBJ, PR_TYPE, "{\"files\":[],\"name\":\"n\",\"platform\":{\"arch\":\"a\","
		       "\"os\":\"l\"}}"), L3AF_E_INVALID, "no version" },
		{ STMT(ST_TYPE, SUBJ, PR_TYPE, "{\"files\":[],\"name\":\"n\",\"platform\":{\"arch\":\"a\"},"
		       "\"version\":\"1\"}"), L3AF_E_INVALID, "no platform.os" },
		{ STMT(ST_TYPE, SUBJ, PR_TYPE, "{\"files\":{},\"name\":\"n\",\"platform\":{\"arch\":\"a\","
		       "\"os\":\"l\"},\"version\":\"1\"}"), L3AF_E_INVALID, "files not an array" },
		{ STMT(ST_TYPE, SUBJ, PR_TYPE, "{\"files\":[],\"name\":7,\"platform\":{\"arch\":\"a\","
		       "\"os\":\"l\"},\"version\":\"1\"}"), L3AF_E_INVALID, "name not a string" },
		{ "{\"_type\":\"" ST_TYPE "\",\"_type\":\"" ST_TYPE "\",\"predicate\":" PRED
		  ",\"predicateType\":\"" PR_TYPE "\",\"subject\":[" SUBJ "]}", L3AF_E_INVALID, "duplicate key" },
		{ "{\"_type\":\"" ST_TYPE "\",\"predicate\":" PRED ",\"predicateType\":\"" PR_TYPE
		  "\",\"subject\":[" SUBJ "],\"x-extra\":{}}", L3AF_OK, "unknown field ignored" },
	};
	struct signer_statement st;
	struct l3af_err err;
	char *s;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		l3af_err_clear(&err);
		expect_status(rows[i].desc, signer_statement_parse(rows[i].text, strlen(rows[i].text),
								   &st, &err), rows[i].want, &err);
		if (rows[i].want == L3AF_OK)
			signer_statement_clear(&st);
	}
	s = nested_arrays(10000, "{\"predicate\":", "}");
	l3af_err_clear(&err);
	expect_status("10000 nested arrays", signer_statement_parse(s, strlen(s), &st, &err),
		      L3AF_E_INVALID, &err);
	free(s);
	/* Within jansson's limit, over ours (the predicate's "files"). */
	s = nested_arrays(SIGNER_PREDICATE_DEPTH_MAX, "{\"_type\":\"" ST_TYPE "\",\"predicateType\":\""
			  PR_TYPE "\",\"subject\":[" SUBJ "],\"predicate\":{\"name\":\"n\","
			  "\"version\":\"1\",\"platform\":{\"os\":\"l\",\"arch\":\"a\"},\"files\":", "}}");
	l3af_err_clear(&err);
	expect_status("predicate 33 deep", signer_statement_parse(s, strlen(s), &st, &err),
		      L3AF_E_INVALID, &err);
	free(s);
	l3af_err_clear(&err);
	expect_status("oversized statement", signer_statement_parse(GOOD_STMT, SIGNER_STATEMENT_MAX + 1,
								    &st, &err), L3AF_E_LIMIT, &err);
}

static void test_statement_build_rejects(void **state)
{
	uint8_t digest[32] = { 0 };
	json_t *pred = predicate_new();
	json_t *bad = json_object();
	struct l3af_err err;
	char *text = NULL;

	l3af_err_clear(&err);
	expect_status("empty name", signer_statement_build("", digest, pred, &text, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("name not UTF-8", signer_statement_build("\xc0\xaf", digest, pred, &text, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("newline in name", signer_statement_build("a\nb", digest, pred, &text, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("C1 control in name",
		      signer_statement_build("a\xc2\x85.tar.gz", digest, pred, &text, &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("bidi override in name",
		      signer_statement_build("l3af_\xe2\x80\xaezg.rat.tar.gz", digest, pred, &text,
					     &err),
		      L3AF_E_INVALID, &err);
	l3af_err_clear(&err);
	expect_status("empty predicate", signer_statement_build("a", digest, bad, &text, &err),
		      L3AF_E_INVALID, &err);
	json_decref(pred);
	json_decref(bad);
}

/* The whole publisher path: statement, envelope, verify, parse. */
static void test_statement_in_envelope(void **state)
{
	uint8_t digest[32];
	json_t *pred = predicate_new();
	struct signer_privkey *key = NULL;
	struct signer_dsse_result res = { .payload = NULL };
	struct signer_statement st;
	char *text = NULL, *env = NULL;

	assert_int_equal(l3af_hex_decode(digest, 32, HEX64, 64), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ECDSA_P256, &key, NULL), L3AF_OK);
	assert_int_equal(signer_statement_build("xdp-root.tar.gz", digest, pred, &text, NULL), L3AF_OK);
	assert_int_equal(signer_dsse_sign(key, SIGNER_INTOTO_PAYLOAD_TYPE, (const uint8_t *)text,
					  strlen(text), &env, NULL), L3AF_OK);
	assert_int_equal(verify(env, signer_privkey_pubkey(key), 1, 1, &res, NULL), L3AF_OK);
	assert_string_equal(res.payload_type, SIGNER_INTOTO_PAYLOAD_TYPE);
	assert_int_equal(signer_statement_parse((char *)res.payload, res.payload_len, &st, NULL), L3AF_OK);
	assert_memory_equal(st.sha256, digest, 32);
	signer_statement_clear(&st);
	signer_dsse_result_clear(&res);
	l3af_free(text);
	l3af_free(env);
	signer_privkey_free(key);
	json_decref(pred);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pae_vectors),
		cmocka_unit_test(test_dsse_spec_vector),
		cmocka_unit_test(test_pubkey_forms),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_envelope_rejects),
		cmocka_unit_test(test_sign_limits),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_statement_round_trip),
		cmocka_unit_test(test_statement_rejects),
		cmocka_unit_test(test_statement_build_rejects),
		cmocka_unit_test(test_statement_in_envelope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
