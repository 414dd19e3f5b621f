/*
 * test_entry_verify.c - signer_package_verify (a package entry against the
 * key set in force) and admin requests (build, open), with real keys and
 * signatures. Run from test_entry.c's main.
 */
#define _POSIX_C_SOURCE 200809L
#include "entry_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int k0[] = { 0 }, k1[] = { 1 }, k2[] = { 2 }, k3[] = { 3 };
static const int k01[] = { 0, 1 }, k23[] = { 2, 3 }, k22[] = { 2, 2 };

/* Replace pkg's envelope with one over a statement for (subject, digest,
 * predicate), signed by signers with payloadType type (in-toto if NULL). */
static void envelope_set(struct fx *fx, struct signer_package *pkg, const char *subject,
			 const uint8_t digest[32], json_t *pred, const int *signers,
			 size_t n, const char *type)
{
	json_decref(pkg->envelope);
	if (!type) {
		pkg->envelope = fx_statement_envelope(fx, subject, digest, pred, signers, n);
	} else {
		char *st = NULL;

		assert_int_equal(signer_statement_build(subject, digest, pred, &st, NULL), L3AF_OK);
		json_decref(pred);
		pkg->envelope = fx_envelope(fx, type, st, signers, n);
		l3af_free(st);
	}
}

static json_t *good_pred(void)
{
	return fx_predicate("ratelimiting", "1.0.0", "linux", "amd64", NULL, fx_files());
}

static enum l3af_status verify(const struct signer_entry *pe, const struct signer_keyset *ks,
			       struct l3af_err *err)
{
	l3af_err_clear(err);
	return signer_package_verify(&pe->pkg, ks, NULL, err);
}

void test_package_verify_allowed(void **state)
{
	struct fx fx;
	struct signer_entry ks, pe;
	struct signer_statement st;
	struct l3af_err err = { 0 };

	(void)state;
	fx_init(&fx);
	fx_keyset_entry(&fx, 1, &ks);
	fx_package_entry(&fx, &pe);
	fx_expect("allowed", signer_package_verify(&pe.pkg, &ks.keyset, &st, &err), L3AF_OK,
		  &err, NULL);
	assert_string_equal(st.name, "l3af_ratelimiting.tar.gz");
	assert_memory_equal(st.sha256, fx.digest, 32);
	assert_string_equal(json_string_value(json_object_get(st.predicate, "version")), "1.0.0");
	signer_statement_clear(&st);
	/* the P-256 key of the set, and a name under the acme-* pattern */
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k3, 1,
		     NULL);
	fx_expect("p-256", verify(&pe, &ks.keyset, &err), L3AF_OK, &err, NULL);
	strcpy(pe.pkg.name, "acme-fw");
	strcpy(pe.pkg.artifact_name, "l3af_acme-fw.tar.gz");
	strcpy(pe.pkg.platform, "linux/arm64/bookworm");
	envelope_set(&fx, &pe.pkg, "l3af_acme-fw.tar.gz", fx.digest,
		     fx_predicate("acme-fw", "1.0.0", "linux", "arm64", "bookworm", fx_files()),
		     k2, 1, NULL);
	fx_expect("acme-*", verify(&pe, &ks.keyset, &err), L3AF_OK, &err, NULL);
	signer_entry_clear(&pe);
	signer_entry_clear(&ks);
	fx_free(&fx);
}

void test_package_verify_denied(void **state)
{
	struct fx fx;
	struct signer_entry ks, pe;
	struct signer_keyset other;
	struct l3af_err err = { 0 };
	uint8_t bad[32];
	json_t *files, *pred;

	(void)state;
	fx_init(&fx);
	fx_keyset_entry(&fx, 1, &ks);
	fx_package_entry(&fx, &pe);
	memcpy(bad, fx.digest, 32);
	bad[31] ^= 1;

	/* a key that is not in the set (an admin's) */
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k0, 1,
		     NULL);
	fx_expect("unknown key", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "signature: ");
	/* another publisher's key set: keys 0 and 1, all names */
	other = ks.keyset;
	strcpy(other.publisher, "beta");
	other.nnamespaces = 1;
	strcpy(other.namespaces[0], "*");
	other.keys[0] = fx.pub[0];
	other.keys[1] = fx.pub[1];
	fx_expect("entry of acme, set of beta", verify(&pe, &other, &err), L3AF_E_VERIFY, &err,
		  "publisher: ");
	strcpy(pe.pkg.publisher, "beta");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k2, 1,
		     NULL);
	fx_expect("beta's set, acme's signature", verify(&pe, &other, &err), L3AF_E_VERIFY,
		  &err, "signature: ");
	strcpy(pe.pkg.publisher, "acme");
	fx_expect("back to acme", verify(&pe, &ks.keyset, &err), L3AF_OK, &err, NULL);

	/* name outside the namespaces (signed as such) */
	strcpy(pe.pkg.name, "other");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("other", "1.0.0", "linux", "amd64", NULL, fx_files()), k2, 1,
		     NULL);
	fx_expect("namespace", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "namespace: ");
	strcpy(pe.pkg.name, "ratelimiting");

	/* subject */
	envelope_set(&fx, &pe.pkg, "l3af_other.tar.gz", fx.digest, good_pred(), k2, 1, NULL);
	fx_expect("subject name", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "subject: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", bad, good_pred(), k2, 1, NULL);
	fx_expect("digest", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err, "subject: ");

	/* predicate: name, version, platform, files */
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("acme-fw", "1.0.0", "linux", "amd64", NULL, fx_files()), k2, 1,
		     NULL);
	fx_expect("predicate name", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "predicate: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("ratelimiting", "1.0.1", "linux", "amd64", NULL, fx_files()), k2,
		     1, NULL);
	fx_expect("predicate version", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "predicate: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("ratelimiting", "1.0.0", "linux", "amd64", "bookworm", fx_files()),
		     k2, 1, NULL);
	fx_expect("predicate platform", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "predicate: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("ratelimiting", "1.0.0", "linux", "a/b", NULL, fx_files()), k2,
		     1, NULL);
	fx_expect("predicate platform with '/'", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY,
		  &err, "predicate: ");
	files = fx_files();
	json_object_set_new(json_array_get(files, 0), "size", json_integer(4));
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest,
		     fx_predicate("ratelimiting", "1.0.0", "linux", "amd64", NULL, files), k2, 1,
		     NULL);
	fx_expect("predicate files", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "predicate: ");

	/* signed, but not an in-toto statement */
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k2, 1,
		     "application/vnd.other+json");
	fx_expect("payload type", verify(&pe, &ks.keyset, &err), L3AF_E_INVALID, &err,
		  "signer: ");
	/* a payload changed after signing */
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k2, 1,
		     NULL);
	pred = json_object_get(pe.pkg.envelope, "payload");
	{
		char *p = strdup(json_string_value(pred));

		p[10] = p[10] == 'A' ? 'B' : 'A';
		json_string_set(pred, p);
		free(p);
	}
	fx_expect("tampered payload", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "signature: ");
	signer_entry_clear(&pe);
	signer_entry_clear(&ks);
	fx_free(&fx);
}

void test_package_verify_threshold(void **state)
{
	struct fx fx;
	struct signer_entry ks, pe;
	struct l3af_err err = { 0 };

	(void)state;
	fx_init(&fx);
	fx_keyset_entry(&fx, 2, &ks);
	assert_int_equal(ks.keyset.threshold, 2);
	fx_package_entry(&fx, &pe);
	fx_expect("2-of-2, one signature", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "signature: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k22, 2,
		     NULL);
	fx_expect("2-of-2, one key twice", verify(&pe, &ks.keyset, &err), L3AF_E_VERIFY, &err,
		  "signature: ");
	envelope_set(&fx, &pe.pkg, "l3af_ratelimiting.tar.gz", fx.digest, good_pred(), k23, 2,
		     NULL);
	fx_expect("2-of-2, two keys", verify(&pe, &ks.keyset, &err), L3AF_OK, &err, NULL);
	signer_entry_clear(&pe);
	signer_entry_clear(&ks);
	fx_free(&fx);
}

/* --- admin requests ------------------------------------------------------------ */

static enum l3af_status open_at(const char *env, const struct signer_admin_root *root,
				int64_t now, struct signer_admin_request *out,
				struct l3af_err *err)
{
	l3af_err_clear(err);
	return signer_admin_request_open(env, strlen(env), root, now, out, err);
}

/* Sign req with signers and open it at now against root. */
static enum l3af_status sign_open(struct fx *fx, const struct signer_admin_request *req,
				  const char *type, const int *signers, size_t n,
				  const struct signer_admin_root *root, int64_t now,
				  struct l3af_err *err)
{
	struct signer_admin_request out;
	char *env = fx_admin_envelope(fx, req, type, signers, n);
	enum l3af_status rc = open_at(env, root, now, &out, err);

	l3af_free(env);
	return rc;
}

void test_admin_open(void **state)
{
	struct fx fx;
	struct signer_admin_root root;
	struct signer_admin_request req, out, r;
	struct l3af_err err = { 0 };
	char *env, *payload = NULL;

	(void)state;
	fx_init(&fx);
	fx_admin_root(&fx, 1, &root);
	fx_admin_request(&fx, &req);
	assert_int_equal(signer_admin_request_build(&req, &payload, NULL), L3AF_OK);
#define PAYLOAD_HEAD "{\"action\":\"publisher.register\",\"nonce\":" \
	"\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",\"not_after\":"
	assert_int_equal(strncmp(payload, PAYLOAD_HEAD, strlen(PAYLOAD_HEAD)), 0);
	l3af_free(payload);

	env = fx_admin_envelope(&fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1);
	memset(&out, 0, sizeof(out));
	fx_expect("good", open_at(env, &root, FX_NOW, &out, &err), L3AF_OK, &err, NULL);
	assert_string_equal(out.action, "publisher.register");
	assert_string_equal(out.origin, FX_ORIGIN);
	assert_memory_equal(out.nonce, req.nonce, 16);
	assert_int_equal(out.not_before, req.not_before);
	assert_int_equal(out.not_after, req.not_after);
	assert_string_equal(out.params.publisher, "acme");
	assert_int_equal(out.params.nkeys, 2);
	assert_false(out.params.has_prev);
	assert_true(strcmp(out.params.keys[0].id, out.params.keys[1].id) < 0);
	/* the window edges, with 60 s of skew */
	fx_expect("not_after + 60", open_at(env, &root, req.not_after + 60, &out, &err), L3AF_OK,
		  &err, NULL);
	fx_expect("expired", open_at(env, &root, req.not_after + 61, &out, &err), L3AF_E_VERIFY,
		  &err, "expired: ");
	fx_expect("not_before - 60", open_at(env, &root, req.not_before - 60, &out, &err),
		  L3AF_OK, &err, NULL);
	fx_expect("not yet valid", open_at(env, &root, req.not_before - 61, &out, &err),
		  L3AF_E_VERIFY, &err, "not yet valid: ");
	/* another log */
	strcpy(root.origin, "example.org/other-log");
	fx_expect("origin", open_at(env, &root, FX_NOW, &out, &err), L3AF_E_VERIFY, &err,
		  "origin: ");
	fx_admin_root(&fx, 1, &root);
	l3af_free(env);

	/* the admin's key is the only one that counts */
	fx_expect("publisher key", sign_open(&fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, k2, 1, &root,
					      FX_NOW, &err), L3AF_E_VERIFY, &err, "signature: ");
	fx_expect("second admin", sign_open(&fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, k1, 1, &root,
					     FX_NOW, &err), L3AF_OK, &err, NULL);
	fx_expect("payload type", sign_open(&fx, &req, SIGNER_INTOTO_PAYLOAD_TYPE, k0, 1, &root,
					     FX_NOW, &err), L3AF_E_INVALID, &err, "signer: ");
	/* windows */
	r = req;
	r.not_after = r.not_before + SIGNER_ADMIN_WINDOW_MAX;
	fx_expect("window 900", sign_open(&fx, &r, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1, &root,
					   FX_NOW, &err), L3AF_OK, &err, NULL);
	r.not_after++;
	fx_expect("window 901", sign_open(&fx, &r, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1, &root,
					   FX_NOW, &err), L3AF_E_VERIFY, &err, "window: ");
	r.not_after = r.not_before - 1;
	fx_expect("window < 0", sign_open(&fx, &r, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1, &root,
					   FX_NOW, &err), L3AF_E_VERIFY, &err, "window: ");
	/* an update */
	r = req;
	strcpy(r.action, "publisher.update");
	r.params.version = 2;
	fx_expect("update", sign_open(&fx, &r, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1, &root, FX_NOW,
				       &err), L3AF_OK, &err, NULL);
	fx_free(&fx);
}

void test_admin_open_threshold(void **state)
{
	static const char spaced[] = "{\"action\": \"publisher.register\"}";
	struct fx fx;
	struct signer_admin_root root;
	struct signer_admin_request req, out;
	struct l3af_err err = { 0 };
	json_t *env;
	char *text;

	(void)state;
	fx_init(&fx);
	fx_admin_root(&fx, 2, &root);
	fx_admin_request(&fx, &req);
	fx_expect("2-of-2, one", sign_open(&fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, k0, 1, &root,
					    FX_NOW, &err), L3AF_E_VERIFY, &err, "signature: ");
	fx_expect("2-of-2, two", sign_open(&fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, k01, 2, &root,
					    FX_NOW, &err), L3AF_OK, &err, NULL);
	/* a signed payload that is not canonical, or not JSON */
	fx_admin_root(&fx, 1, &root);
	env = fx_envelope(&fx, SIGNER_ADMIN_PAYLOAD_TYPE, spaced, k0, 1);
	text = fx_dump(env);
	fx_expect("spaced payload", open_at(text, &root, FX_NOW, &out, &err), L3AF_E_INVALID,
		  &err, "signer: ");
	free(text);
	json_decref(env);
	env = fx_envelope(&fx, SIGNER_ADMIN_PAYLOAD_TYPE, "not json", k1, 1);
	text = fx_dump(env);
	fx_expect("not json", open_at(text, &root, FX_NOW, &out, &err), L3AF_E_INVALID, &err,
		  "signer: ");
	free(text);
	json_decref(env);
	fx_expect("malformed envelope", open_at("{}", &root, FX_NOW, &out, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	root.threshold = 3;
	fx_expect("bad root", open_at("{}", &root, FX_NOW, &out, &err), L3AF_E_INVALID, &err,
		  "signer: ");
	fx_free(&fx);
}

void test_admin_build_refusals(void **state)
{
	struct fx fx;
	struct signer_admin_request req, r;
	struct l3af_err err = { 0 };
	char *out = NULL;

	(void)state;
	fx_init(&fx);
	fx_admin_request(&fx, &req);
#define REFUSE(desc, change)                                                              \
	do {                                                                              \
		r = req;                                                                  \
		change;                                                                   \
		l3af_err_clear(&err);                                                     \
		fx_expect(desc, signer_admin_request_build(&r, &out, &err), L3AF_E_INVALID,  \
			  &err, "signer: ");                                              \
		assert_null(out);                                                         \
	} while (0)
	REFUSE("action", strcpy(r.action, "publisher.delete"));
	REFUSE("register v2", r.params.version = 2);
	REFUSE("update v1", strcpy(r.action, "publisher.update"));
	REFUSE("origin", strcpy(r.origin, "a+b"));
	REFUSE("not_before < 0", r.not_before = -1);
	REFUSE("not_after 2^53", r.not_after = (int64_t)1 << 53);
	REFUSE("publisher", strcpy(r.params.publisher, "ACME"));
	REFUSE("namespace", strcpy(r.params.namespaces[1], "a b"));
	REFUSE("no namespaces", r.params.nnamespaces = 0);
	REFUSE("threshold 0", r.params.threshold = 0);
	REFUSE("threshold 3", r.params.threshold = 3);
	REFUSE("no keys", r.params.nkeys = 0);
	REFUSE("same key twice", r.params.keys[1] = r.params.keys[0]);
	REFUSE("bad key id", r.params.keys[0].id[0] ^= 1);
#undef REFUSE
	assert_int_equal(signer_admin_request_build(&req, &out, NULL), L3AF_OK);
	l3af_free(out);
	fx_free(&fx);
}
