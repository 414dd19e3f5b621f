/*
 * signer_internal.h - shared by the signer/ .c files only; not part of the
 * module's interface. struct signer_key stays private to key.c: note.c signs
 * through signer_key_sign_raw and never sees the secret bytes.
 */
#ifndef L3AF_SIGNER_INTERNAL_H
#define L3AF_SIGNER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "signer.h"

/* Run sodium_init once per process (pthread_once). L3AF_E_CRYPTO if
 * libsodium could not start; safe to call from any thread, any number of
 * times. */
enum l3af_status signer_sodium_ready(struct l3af_err *err);

/* Decode one UTF-8 sequence at s[0 .. len), strictly per RFC 3629 (no
 * overlong forms, surrogates or code points above U+10FFFF). Returns its
 * length in bytes and stores the code point, or returns 0 if invalid. */
size_t signer_utf8_next(const uint8_t *s, size_t len, uint32_t *cp);

/* Why name[0 .. len) is not a valid key name (signed-note "Format"), as a
 * short static phrase for error messages, or NULL if it is valid. */
const char *signer_name_problem(const char *name, size_t len);

/* 1 if type is one this module signs and verifies (0x01, 0x04), else 0. */
int signer_type_supported(unsigned type);

/* The three fields of "<name>+<hex8>+<base64(type || 32 bytes)>", the
 * verifier key form and the tail of the private key form. */
#define SIGNER_KEY_BIN_BYTES (1 + SIGNER_PUB_BYTES) /* type || pub or seed */
#define SIGNER_KEY_B64_BYTES 45 /* base64 of SIGNER_KEY_BIN_BYTES, with NUL */
struct signer_key_fields {
	char name[SIGNER_NAME_MAX + 1];
	uint32_t id;
	uint8_t bin[SIGNER_KEY_BIN_BYTES];
};

/* Split s[0 .. len) on its first two '+' only (signed-note "Verifier keys":
 * the base64 may contain '+'), check the name, decode the lowercase hex ID
 * and the base64 (type and ID are not checked here). `what` names the object
 * in messages; the base64 is never echoed, since it may be a private key.
 * L3AF_E_INVALID on any malformation. The caller wipes f. */
enum l3af_status signer_key_fields_parse(const char *s, size_t len,
					 const char *what,
					 struct signer_key_fields *f,
					 struct l3af_err *err) L3AF_MUST_CHECK;

/* Ed25519-sign msg[0 .. len) with key's secret (RFC 8032, deterministic).
 * The secret is readable only during the call (reference counted, so
 * concurrent calls on one key are fine). */
enum l3af_status signer_key_sign_raw(const struct signer_key *key,
				     const uint8_t *msg, size_t len,
				     uint8_t sig[static SIGNER_SIG_BYTES],
				     struct l3af_err *err) L3AF_MUST_CHECK;

/* Open, check (regular file, mode & 077 == 0, at most 1 KiB, via fstat on
 * the open fd) and read a private key file into sodium_malloc memory.
 * *buf is NUL-terminated, *len excludes the NUL; release with sodium_free
 * (which wipes). Errors as signer_key_load, messages name the file. */
enum l3af_status signer_key_file_read(const char *path, char **buf,
				      size_t *len,
				      struct l3af_err *err) L3AF_MUST_CHECK;

/* Copy the 32-byte Ed25519 seed of key out of guarded memory (to write a
 * PKCS#8 file). The caller wipes seed on every path. */
enum l3af_status signer_key_seed_get(const struct signer_key *key,
				     uint8_t seed[static SIGNER_PUB_BYTES],
				     struct l3af_err *err) L3AF_MUST_CHECK;

/* --- publisher keys, DSSE, statements ----------------------------------- */

#define SIGNER_PUBSIG_MAX 72 /* DER ECDSA P-256 signature; Ed25519 is 64 */

/* Record an OpenSSL failure: "<what>: <last OpenSSL error text>", and clear
 * the thread's OpenSSL error queue. Returns code. */
enum l3af_status signer_ossl_fail(struct l3af_err *err, enum l3af_status code,
				  const char *what);

/* Sign msg with a publisher key: Ed25519, or ECDSA P-256 over SHA-256(msg)
 * as DER. Only dsse.c calls it, and only over a PAE, so that a publisher
 * signature never means anything else. */
enum l3af_status signer_privkey_sign(const struct signer_privkey *key,
				     const uint8_t *msg, size_t len,
				     uint8_t sig[static SIGNER_PUBSIG_MAX],
				     size_t *sig_len,
				     struct l3af_err *err) L3AF_MUST_CHECK;

/* Verify sig over msg with pub. L3AF_E_VERIFY if it does not verify
 * (including a wrong length or a non-canonical DER ECDSA signature);
 * L3AF_E_CRYPTO if it could not be checked. */
enum l3af_status signer_pubkey_verify(const struct signer_pubkey *pub,
				      const uint8_t *msg, size_t len,
				      const uint8_t *sig, size_t sig_len,
				      struct l3af_err *err) L3AF_MUST_CHECK;

/* The publisher public key of an OpenSSL key (via its DER SPKI). */
struct evp_pkey_st;
enum l3af_status signer_pubkey_from_evp(const struct evp_pkey_st *pkey,
					struct signer_pubkey *out,
					struct l3af_err *err) L3AF_MUST_CHECK;

/* Parse JSON text of at most SIGNER_DSSE_MAX bytes (checked first) with
 * duplicate keys rejected and a top-level object required. `what` names the
 * object in messages. *out is a new reference. */
struct json_t;
enum l3af_status signer_json_load(const char *text, size_t len,
				  const char *what, struct json_t **out,
				  struct l3af_err *err) L3AF_MUST_CHECK;

/* signer_dsse_verify of an envelope already loaded (strictly, no duplicate
 * keys) as a JSON object: the same checks without a dump and a re-parse. The
 * caller bounds its size. root is borrowed. */
enum l3af_status signer_dsse_verify_root(struct json_t *root,
					 const struct signer_pubkey *keys,
					 size_t nkeys, unsigned threshold,
					 struct signer_dsse_result *out,
					 struct l3af_err *err) L3AF_MUST_CHECK;

/* v as compact JSON with sorted keys (JSON_COMPACT | JSON_SORT_KEYS) in a
 * new l3af_malloc'd NUL-terminated string; L3AF_E_LIMIT over cap bytes. */
enum l3af_status signer_json_dump(const struct json_t *v, size_t cap,
				  const char *what, char **out,
				  struct l3af_err *err) L3AF_MUST_CHECK;

/* --- log entries and admin requests (entry*.c, admin.c) ----------------- */

#include <stdbool.h>

#define SIGNER_JSON_UINT_MAX ((UINT64_C(1) << 53) - 1) /* integers in entries */

/* Syntax rules (entry_syntax.c): a namespace pattern (a package name, or a
 * prefix of [A-Za-z0-9._-] ending in '*'); "os/arch[/distro]" (parts of
 * printable ASCII without space or '/'); a log origin (1..255 printable
 * ASCII bytes, no space, no '+', as tlog_origin_check). */
enum l3af_status signer_namespace_check(const char *pattern,
					struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_platform_check(const char *platform,
				       struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_origin_check(const char *origin,
				     struct l3af_err *err) L3AF_MUST_CHECK;

/* Strict JSON readers (entry_json.c); `what` names the object. */
/* obj is an object with exactly these n keys. */
enum l3af_status signer_json_fields(const struct json_t *obj,
				    const char *const *keys, size_t n,
				    const char *what, struct l3af_err *err) L3AF_MUST_CHECK;
/* obj[key] is a JSON integer in 0..2^53-1. */
enum l3af_status signer_json_uint(const struct json_t *obj, const char *key,
				  const char *what, uint64_t *out,
				  struct l3af_err *err) L3AF_MUST_CHECK;
/* obj[key] is a string without NUL of fewer than cap bytes; copied. */
enum l3af_status signer_json_str(const struct json_t *obj, const char *key,
				 const char *what, char *out, size_t cap,
				 struct l3af_err *err) L3AF_MUST_CHECK;
/* v is 64 lowercase hex digits. */
enum l3af_status signer_json_hex32(const struct json_t *v, const char *what,
				   uint8_t out[static 32],
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* 1..16 valid keys (each re-parses from its spki to the same alg and id),
 * sorted first if `sort`, then strictly increasing by id; threshold in
 * 1..n. */
enum l3af_status signer_keys_check(struct signer_pubkey *keys, size_t n,
				   unsigned threshold, bool sort, const char *what,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* [{"alg","id","spki"}...] (new reference, NULL if out of memory). */
struct json_t *signer_keys_json(const struct signer_pubkey *keys, size_t n);
/* Each element {"alg","id","spki"} exactly, alg and id those of the spki. */
enum l3af_status signer_keys_from_json(const struct json_t *arr, const char *what,
				       struct signer_pubkey keys[static SIGNER_SET_KEYS_MAX],
				       size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;
/* The five fields a key set shares with an admin request's params: keys,
 * namespaces, publisher, threshold, version. check validates them (sorting
 * the keys if `sort`); core_json writes them into a new object (NULL if out
 * of memory); core_parse reads and checks them (other fields of obj are the
 * caller's to check). */
enum l3af_status signer_keyset_core_check(struct signer_keyset *ks, bool sort,
					  struct l3af_err *err) L3AF_MUST_CHECK;
struct json_t *signer_keyset_core_json(const struct signer_keyset *ks);
enum l3af_status signer_keyset_core_parse(const struct json_t *obj, const char *what,
					  struct signer_keyset *ks,
					  struct l3af_err *err) L3AF_MUST_CHECK;
/* v looks like a DSSE envelope: exactly payload, payloadType (strings) and
 * signatures (1..SIGNER_DSSE_SIGS_MAX); signer_dsse_verify checks the rest. */
enum l3af_status signer_envelope_shape(const struct json_t *v, const char *what,
				       struct l3af_err *err) L3AF_MUST_CHECK;

/* Big-endian loads and stores (key IDs, cosignature timestamps). */
static inline uint32_t signer_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t signer_be64(const uint8_t *p)
{
	return (uint64_t)signer_be32(p) << 32 | signer_be32(p + 4);
}

static inline void signer_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void signer_put_be64(uint8_t *p, uint64_t v)
{
	signer_put_be32(p, (uint32_t)(v >> 32));
	signer_put_be32(p + 4, (uint32_t)v);
}

/* signer_admin_request_open without comparing the window to a clock: for
 * an agent re-checking the request a publisher.keys entry carries (the log
 * admitted it inside its window, at a time the agent cannot know; the
 * window's length is still checked). Same errors otherwise. */
enum l3af_status signer_admin_request_open_logged(const char *envelope, size_t len,
						  const struct signer_admin_root *root,
						  struct signer_admin_request *out,
						  struct l3af_err *err) L3AF_MUST_CHECK;

#endif
