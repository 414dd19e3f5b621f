/*
 * entry_fixture.c - real keys, envelopes, statements and entries for the
 * entry tests (see entry_fixture.h).
 */
#include "entry_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	for (int i = 0; i < FX_NKEYS; i++) {
		enum signer_alg alg = i % 2 ? SIGNER_ALG_ECDSA_P256 : SIGNER_ALG_ED25519;

		assert_int_equal(signer_privkey_generate(alg, &fx->key[i], NULL), L3AF_OK);
		fx->pub[i] = *signer_privkey_pubkey(fx->key[i]);
	}
	assert_int_equal(l3af_sha256("archive bytes", 13, fx->digest), L3AF_OK);
}

void fx_free(struct fx *fx)
{
	for (int i = 0; i < FX_NKEYS; i++)
		signer_privkey_free(fx->key[i]);
	memset(fx, 0, sizeof(*fx));
}

void fx_expect(const char *desc, enum l3af_status got, enum l3af_status want,
	       const struct l3af_err *err, const char *prefix)
{
	if (getenv("FX_VERBOSE"))
		printf("%-32s %s\n", desc, err ? err->msg : "");
	if (got != want)
		fail_msg("%s: got %s (%s), want %s", desc, l3af_status_name(got),
			 err ? err->msg : "", l3af_status_name(want));
	if (got != L3AF_OK && err && err->msg[0] == '\0')
		fail_msg("%s: no message", desc);
	if (prefix && err && strncmp(err->msg, prefix, strlen(prefix)) != 0)
		fail_msg("%s: message '%s' does not start with '%s'", desc, err->msg, prefix);
}

char *fx_dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(s);
	return s;
}

json_t *fx_files(void)
{
	char hex[65];
	uint8_t d[32];
	json_t *files;

	assert_int_equal(l3af_sha256("elf", 3, d), L3AF_OK);
	l3af_hex_encode(hex, d, 32);
	files = json_pack("[{s:s, s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:s, s:i}]",
			  "kind", "bpf-elf", "mode", "0644", "path", "x.bpf.o", "sha256", hex,
			  "size", 3, "kind", "doc", "mode", "0644", "path", "README.md", "sha256",
			  hex, "size", 3);
	assert_non_null(files);
	return files;
}

json_t *fx_predicate(const char *name, const char *version, const char *os,
		     const char *arch, const char *distro, json_t *files)
{
	json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:{s:s}}", "name", name,
			      "version", version, "platform", "os", os, "arch", arch, "files",
			      files, "license", "spdx", "GPL-2.0-only");

	assert_non_null(p);
	if (distro)
		assert_int_equal(json_object_set_new(json_object_get(p, "platform"), "distro",
						     json_string(distro)), 0);
	return p;
}

json_t *fx_envelope(struct fx *fx, const char *type, const char *payload,
		    const int *signers, size_t nsigners)
{
	json_t *env = NULL;

	for (size_t i = 0; i < nsigners; i++) {
		char *text = NULL;
		json_t *one;

		assert_int_equal(signer_dsse_sign(fx->key[signers[i]], type,
						  (const uint8_t *)payload, strlen(payload),
						  &text, NULL), L3AF_OK);
		one = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(one);
		l3af_free(text);
		if (!env) {
			env = one;
			continue;
		}
		assert_int_equal(json_array_extend(json_object_get(env, "signatures"),
						   json_object_get(one, "signatures")), 0);
		json_decref(one);
	}
	return env;
}

json_t *fx_statement_envelope(struct fx *fx, const char *subject,
			      const uint8_t digest[32], json_t *predicate,
			      const int *signers, size_t nsigners)
{
	char *st = NULL;
	json_t *env;

	assert_int_equal(signer_statement_build(subject, digest, predicate, &st, NULL), L3AF_OK);
	json_decref(predicate);
	env = fx_envelope(fx, SIGNER_INTOTO_PAYLOAD_TYPE, st, signers, nsigners);
	l3af_free(st);
	return env;
}

void fx_admin_request(struct fx *fx, struct signer_admin_request *req)
{
	memset(req, 0, sizeof(*req));
	strcpy(req->action, "publisher.register");
	strcpy(req->origin, FX_ORIGIN);
	for (int i = 0; i < 16; i++)
		req->nonce[i] = (uint8_t)(0xa0 + i);
	req->not_before = FX_NOW - 10;
	req->not_after = FX_NOW + 290;
	strcpy(req->params.publisher, "acme");
	req->params.version = 1;
	req->params.nnamespaces = 2;
	strcpy(req->params.namespaces[0], "acme-*");
	strcpy(req->params.namespaces[1], "ratelimiting");
	req->params.threshold = 1;
	req->params.nkeys = 2;
	req->params.keys[0] = fx->pub[2];
	req->params.keys[1] = fx->pub[3];
}

void fx_admin_root(struct fx *fx, unsigned t, struct signer_admin_root *root)
{
	memset(root, 0, sizeof(*root));
	root->version = 1;
	strcpy(root->origin, FX_ORIGIN);
	root->threshold = t;
	root->nadmins = 2;
	root->admins[0] = fx->pub[0];
	root->admins[1] = fx->pub[1];
}

char *fx_admin_envelope(struct fx *fx, const struct signer_admin_request *req,
			const char *type, const int *signers, size_t nsigners)
{
	char *payload = NULL, *text, *out;
	json_t *env;

	assert_int_equal(signer_admin_request_build(req, &payload, NULL), L3AF_OK);
	env = fx_envelope(fx, type, payload, signers, nsigners);
	l3af_free(payload);
	text = fx_dump(env);
	json_decref(env);
	out = l3af_malloc(strlen(text) + 1);
	assert_non_null(out);
	strcpy(out, text);
	free(text);
	return out;
}

void fx_keyset_entry(struct fx *fx, unsigned t, struct signer_entry *e)
{
	static const int admin0[] = { 0 };
	struct signer_admin_request req;
	struct l3af_err err = { 0 };
	char *env, *bytes = NULL;
	size_t len = 0;

	fx_admin_request(fx, &req);
	req.params.threshold = t;
	env = fx_admin_envelope(fx, &req, SIGNER_ADMIN_PAYLOAD_TYPE, admin0, 1);
	fx_expect("keyset entry", signer_entry_keyset(&req.params, env, strlen(env), &bytes,
						      &len, &err), L3AF_OK, &err, NULL);
	fx_expect("keyset parse", signer_entry_parse((const uint8_t *)bytes, len, e, &err),
		  L3AF_OK, &err, NULL);
	l3af_free(env);
	l3af_free(bytes);
}

void fx_package_entry(struct fx *fx, struct signer_entry *e)
{
	static const int signer2[] = { 2 };
	struct signer_package p;
	struct l3af_err err = { 0 };
	char *bytes = NULL;
	size_t len = 0;

	memset(&p, 0, sizeof(p));
	strcpy(p.publisher, "acme");
	p.keys_index = 1;
	strcpy(p.name, "ratelimiting");
	strcpy(p.version, "1.0.0");
	strcpy(p.platform, "linux/amd64");
	strcpy(p.artifact_name, "l3af_ratelimiting.tar.gz");
	memcpy(p.artifact_sha256, fx->digest, 32);
	p.artifact_size = 4242;
	p.envelope = fx_statement_envelope(fx, p.artifact_name, fx->digest,
					   fx_predicate("ratelimiting", "1.0.0", "linux", "amd64",
							NULL, fx_files()),
					   signer2, 1);
	p.files = fx_files();
	p.objects = json_pack("[{s:s, s:[]}]", "file", "x.bpf.o", "programs");
	fx_expect("package entry", signer_entry_package(&p, &bytes, &len, &err), L3AF_OK,
		  &err, NULL);
	json_decref(p.envelope);
	json_decref(p.files);
	json_decref(p.objects);
	fx_expect("package parse", signer_entry_parse((const uint8_t *)bytes, len, e, &err),
		  L3AF_OK, &err, NULL);
	l3af_free(bytes);
}
