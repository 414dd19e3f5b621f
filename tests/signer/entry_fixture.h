/*
 * entry_fixture.h - shared by test_entry.c and test_entry_verify.c: real
 * keys (signer_privkey_generate), real DSSE envelopes (signer_dsse_sign),
 * real statements (signer_statement_build) and the entries built from them.
 */
#ifndef L3AF_ENTRY_FIXTURE_H
#define L3AF_ENTRY_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "signer.h"

#define FX_ORIGIN "example.com/l3af-log"
#define FX_NOW ((int64_t)1700000000)
#define FX_NKEYS 4

/* keys 0, 1: admins; keys 2, 3: publisher acme (Ed25519, P-256). */
struct fx {
	struct signer_privkey *key[FX_NKEYS];
	struct signer_pubkey pub[FX_NKEYS];
	uint8_t digest[32];       /* the artifact's SHA-256 */
};

void fx_init(struct fx *fx);
void fx_free(struct fx *fx);

/* Fail the test with desc, the status names and the message unless got ==
 * want; if prefix is not NULL the message must start with it. */
void fx_expect(const char *desc, enum l3af_status got, enum l3af_status want,
	       const struct l3af_err *err, const char *prefix);

/* The manifest [{"kind","mode","path","sha256","size"}] of the fixture. */
json_t *fx_files(void);
/* A predicate with these fields (distro may be NULL) and files (stolen). */
json_t *fx_predicate(const char *name, const char *version, const char *os,
		     const char *arch, const char *distro, json_t *files);
/* Envelope object over payload with payloadType type, signed by each key in
 * signers (signatures arrays merged). */
json_t *fx_envelope(struct fx *fx, const char *type, const char *payload,
		    const int *signers, size_t nsigners);
/* An envelope over a statement (subject name, digest, predicate stolen). */
json_t *fx_statement_envelope(struct fx *fx, const char *subject,
			      const uint8_t digest[32], json_t *predicate,
			      const int *signers, size_t nsigners);

/* An admin request for acme (keys 2 and 3, namespaces acme-* and
 * ratelimiting, threshold 1, version 1) valid around FX_NOW. */
void fx_admin_request(struct fx *fx, struct signer_admin_request *req);
/* The root: admins keys 0 and 1 (in that order, unsorted is fine for the
 * builder), threshold t. */
void fx_admin_root(struct fx *fx, unsigned t, struct signer_admin_root *root);
/* req built, signed by signers with payloadType type; text l3af_free'd. */
char *fx_admin_envelope(struct fx *fx, const struct signer_admin_request *req,
			const char *type, const int *signers, size_t nsigners);

/* A publisher.keys entry for acme (version 1) parsed back: e->keyset. The
 * threshold of the key set is t. */
void fx_keyset_entry(struct fx *fx, unsigned t, struct signer_entry *e);
/* A valid package entry of acme's "ratelimiting" 1.0.0, linux/amd64, signed
 * by key 2, built and parsed back (signer_entry_clear it). */
void fx_package_entry(struct fx *fx, struct signer_entry *e);

/* The text of JSON v, compact with sorted keys (free()). */
char *fx_dump(const json_t *v);

/* Tests of test_entry_syntax.c and test_entry_verify.c, run from
 * test_entry.c's main. */
void test_syntax(void **state);
void test_version_cmp(void **state);
void test_namespace(void **state);
void test_platform(void **state);
void test_package_verify_allowed(void **state);
void test_package_verify_denied(void **state);
void test_package_verify_threshold(void **state);
void test_admin_open(void **state);
void test_admin_open_threshold(void **state);
void test_admin_build_refusals(void **state);

#endif
