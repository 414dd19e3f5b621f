/*
 * admit.c - the HTTP-independent admission work on one submission
 * (docs/api.md "Write and query API (v1)"), cheap and authenticating checks
 * first: the envelope JSON (api_admit_parse); the DSSE signature under a key
 * set, then the statement and predicate from the verified payload
 * (api_admit_sign); sha256 and name of the artifact against the subject
 * (api_admit_subject); only then the archive, ELF inspection, manifest and
 * policy (api_admit_package); the complete signer_package_verify
 * (api_admit_verify); the entry bytes and their parsed form
 * (api_admit_entry). submit.c runs them around its write lock; `l3af-tlog
 * bench submit` runs api_admit (all of them) as its in-process baseline, so
 * both measure the same work.
 */
#define _GNU_SOURCE
#include "api_internal.h"
#include "signer_internal.h" /* signer_dsse_verify_root */

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool api_verdict_refuse(struct api_verdict *v, unsigned status, const char *code,
			const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->err.msg, sizeof(v->err.msg), fmt, ap);
	va_end(ap);
	return false;
}
#define refuse api_verdict_refuse

void api_admission_clear(struct api_admission *u)
{
	for (size_t i = 0; i < u->nobjs; i++)
		ebpf_object_free(u->objs[i]);
	l3af_free(u->objs);
	ebpf_pkg_free(u->pkg);
	signer_statement_clear(&u->st);
	json_decref(u->env);
	json_decref(u->files);
	json_decref(u->objects);
	json_decref(u->violations);
	l3af_free(u->ks);
	memset(u, 0, sizeof(*u));
}

/* The package name of the payload before anything is verified: only to
 * choose which publisher an unnamed signature is tried against (and the
 * refusal code). Standard base64 only; "" otherwise. */
void api_admit_hint(struct api_admission *u)
{
	struct signer_statement st = {.predicate = NULL};
	struct l3af_err err = {0};
	const json_t *p = json_object_get(u->env, "payload");
	const char *b64 = json_string_value(p);
	size_t len = json_string_length(p);
	uint8_t *payload = NULL;
	size_t plen = 0;

	if (u->hint_done)
		return;
	u->hint_done = true;
	if (b64)
		payload = l3af_malloc(len + 1);
	if (payload && l3af_base64_decode(payload, len + 1, &plen, b64, len) == L3AF_OK &&
	    signer_statement_parse((const char *)payload, plen, &st, &err) == L3AF_OK) {
		const char *name = json_string_value(json_object_get(st.predicate, "name"));
		if (name && signer_pkg_name_check(name, &err) == L3AF_OK)
			snprintf(u->hint, sizeof(u->hint), "%s", name);
	}
	signer_statement_clear(&st);
	l3af_free(payload);
}

bool api_admit_parse(struct api_admission *u, const char *text, size_t len,
		     const char *artifact_name, struct api_verdict *v)
{
	json_error_t je;
	const json_t *payload, *sig;
	size_t i;

	snprintf(u->cand.artifact_name, sizeof(u->cand.artifact_name), "%s", artifact_name);
	u->env = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(u->env))
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: %s",
			      u->env ? "not a JSON object" : je.text);
	payload = json_object_get(u->env, "payload");
	if (!json_is_string(payload))
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: no payload");
	if (!json_is_array(json_object_get(u->env, "signatures")))
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: no signatures");
	json_array_foreach(json_object_get(u->env, "signatures"), i, sig)
	{
		const char *id = json_string_value(json_object_get(sig, "keyid"));
		u->empty_keyid = u->empty_keyid || !id || !id[0];
	}
	u->cand.envelope = u->env;
	return true;
}

/* Name, version and platform from the predicate. *//* Name, version and platform from the predicate. */
static bool read_predicate(struct api_admission *u, struct api_verdict *v)
{
	struct l3af_err err = {0};
	const char *name = json_string_value(json_object_get(u->st.predicate, "name"));
	const char *version = json_string_value(json_object_get(u->st.predicate, "version"));

	if (!name || signer_pkg_name_check(name, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "predicate.name: %s",
			      name ? err.msg : "missing");
	if (!version || signer_version_check(version, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "predicate.version: %s",
			      version ? err.msg : "missing");
	if (signer_platform_string(json_object_get(u->st.predicate, "platform"),
				   u->cand.platform, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "predicate.platform: %s",
			      err.msg);
	snprintf(u->cand.name, sizeof(u->cand.name), "%s", name);
	snprintf(u->cand.version, sizeof(u->cand.version), "%s", version);
	return true;
}

static void on_violation(void *ctx, const char *file, const char *program, const char *rule,
			 const char *message)
{
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s}", "file", file, "program",
					     program, "rule", rule, "message", message));
}

/* The archive, its objects and the policy. */
bool api_admit_package(struct api_admission *u, const struct ebpf_policy *policy,
		       const uint8_t *art, uint64_t size, struct api_verdict *v)
{
	struct l3af_err err = {0};
	char *manifest = NULL;

	if (ebpf_pkg_read(art, size, &u->pkg, &err) != L3AF_OK)
		return refuse(v, 422, "invalid_package", "%s", err.msg);
	if (strcmp(u->pkg->name, u->cand.name) != 0)
		return refuse(v, 422, "manifest_mismatch",
			      "the archive holds package %s, the statement names %s", u->pkg->name,
			      u->cand.name);
	if (ebpf_pkg_manifest_json(u->pkg, &manifest, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", err.msg);
	u->files = json_loads(manifest, JSON_REJECT_DUPLICATES, NULL);
	l3af_free(manifest);
	u->objects = json_array();
	u->violations = json_array();
	u->objs = l3af_calloc(u->pkg->nfiles + 1, sizeof(*u->objs));
	if (!u->files || !u->objects || !u->violations || !u->objs)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
	for (size_t i = 0; i < u->pkg->nfiles; i++) {
		const struct ebpf_pkg_file *f = &u->pkg->files[i];
		struct ebpf_object *obj = NULL;
		if (f->kind != EBPF_KIND_BPF_ELF)
			continue;
		if (ebpf_inspect(f->data, f->size, f->path, &obj, &err) != L3AF_OK)
			return refuse(v, 422, "invalid_package", "%s: %s", f->path, err.msg);
		u->objs[u->nobjs++] = obj;
		/* the facts as a tree (ebpf_object_to_json's text without the
		 * dump and re-load) */
		if (json_array_append_new(u->objects, ebpf_object_json(obj)) != 0)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				      "%s: JSON: out of memory", f->path);
	}
	struct ebpf_pkg_facts facts = ebpf_pkg_facts_of(u->pkg);
	if (ebpf_policy_check(policy, (const struct ebpf_object *const *)u->objs, u->nobjs,
			      &facts, on_violation, u->violations) > 0)
		return refuse(v, 422, "policy", "the package breaks the repository policy");
	u->cand.files = u->files;
	u->cand.objects = u->objects;
	return true;
}

/* How signer_package_verify's refusal is answered. */
static bool verify_refusal(enum l3af_status rc, const struct l3af_err *err,
			   struct api_verdict *v)
{
	static const struct {
		const char *prefix;
		unsigned status;
		const char *code;
	} map[] = {
		{"signature:", 403, "signature"},     {"publisher:", 403, "signature"},
		{"namespace:", 403, "namespace"},     {"subject:", 422, "digest_mismatch"},
		{"predicate:", 422, "manifest_mismatch"},
	};

	if (rc == L3AF_E_VERIFY)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strncmp(err->msg, map[i].prefix, strlen(map[i].prefix)))
				return refuse(v, map[i].status, map[i].code, "%s", err->msg);
	if (rc == L3AF_E_VERIFY)
		return refuse(v, 403, "signature", "%s", err->msg);
	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err->msg);
	return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", err->msg);
}

bool api_admit_sign(struct api_admission *u, const struct signer_keyset *ks,
		    uint64_t keys_index, struct api_verdict *v)
{
	struct signer_dsse_result res = {.payload = NULL};
	struct l3af_err err = {0};
	enum l3af_status rc;

	/* signer_dsse_verify's own checks and base64 (every DSSE variant) */
	rc = signer_dsse_verify_root(u->env, ks->keys, ks->nkeys, ks->threshold, &res, &err);
	if (rc == L3AF_E_VERIFY)
		l3af_err_prefix(&err, "signature");
	if (rc == L3AF_OK && strcmp(res.payload_type, SIGNER_INTOTO_PAYLOAD_TYPE) != 0)
		rc = l3af_fail(&err, L3AF_E_INVALID, "envelope: payloadType is not %s",
			       SIGNER_INTOTO_PAYLOAD_TYPE);
	if (rc == L3AF_OK && !u->have_st) {
		rc = signer_statement_parse((const char *)res.payload, res.payload_len, &u->st,
					    &err);
		u->have_st = rc == L3AF_OK;
		if (rc == L3AF_OK && !read_predicate(u, v)) {
			signer_dsse_result_clear(&res);
			return false;
		}
	}
	signer_dsse_result_clear(&res);
	if (rc != L3AF_OK)
		return verify_refusal(rc, &err, v);
	snprintf(u->cand.publisher, sizeof(u->cand.publisher), "%s", ks->publisher);
	u->cand.keys_index = keys_index;
	if (!signer_namespace_match(ks, u->cand.name))
		return refuse(v, 403, "namespace",
			      "namespace: package name %s is outside publisher %s's namespaces",
			      u->cand.name, ks->publisher);
	return true;
}

bool api_admit_subject(struct api_admission *u, const uint8_t *art, uint64_t size,
		       struct api_verdict *v)
{
	if (l3af_sha256(art, size, u->cand.artifact_sha256) != L3AF_OK)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "sha256 failed");
	u->cand.artifact_size = size;
	if (strcmp(u->st.name, u->cand.artifact_name) != 0)
		return refuse(v, 422, "digest_mismatch",
			      "subject: name is not the artifact name \"%s\"",
			      u->cand.artifact_name);
	if (memcmp(u->st.sha256, u->cand.artifact_sha256, 32) != 0)
		return refuse(v, 422, "digest_mismatch",
			      "subject: sha256 is not the artifact's digest");
	return true;
}

bool api_admit_verify(struct api_admission *u, const struct signer_keyset *ks,
		      uint64_t keys_index, struct api_verdict *v)
{
	struct l3af_err err = {0};
	enum l3af_status rc;

	snprintf(u->cand.publisher, sizeof(u->cand.publisher), "%s", ks->publisher);
	u->cand.keys_index = keys_index;
	/* u->st was parsed from this envelope's verified payload (api_admit_sign) */
	rc = signer_package_verify_parsed(&u->cand, ks, &u->st, &err);
	return rc == L3AF_OK || verify_refusal(rc, &err, v);
}

bool api_admit_entry(struct api_admission *u, char **entry, size_t *len,
		     struct signer_entry *parsed, struct api_verdict *v)
{
	enum l3af_status rc = signer_entry_package(&u->cand, entry, len, &v->err);

	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "entry: %s", v->err.msg);
	if (rc != L3AF_OK)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", v->err.msg);
	if (parsed) {
		/* What signer_entry_parse would give for these bytes: the
		 * builder wrote them from exactly these fields. */
		memset(parsed, 0, sizeof(*parsed));
		parsed->kind = SIGNER_ENTRY_PACKAGE;
		parsed->pkg = u->cand;
		json_incref(u->cand.envelope);
		json_incref(u->cand.files);
		json_incref(u->cand.objects);
	}
	return true;
}

bool api_admit(struct api_admission *u, const struct ebpf_policy *policy,
	       const struct signer_keyset *ks, uint64_t keys_index, const char *envelope,
	       size_t envelope_len, const uint8_t *art, uint64_t art_size,
	       const char *artifact_name, char **entry, size_t *len, struct api_verdict *v)
{
	return api_admit_parse(u, envelope, envelope_len, artifact_name, v) &&
	       api_admit_sign(u, ks, keys_index, v) && api_admit_subject(u, art, art_size, v) &&
	       api_admit_package(u, policy, art, art_size, v) &&
	       api_admit_verify(u, ks, keys_index, v) && api_admit_entry(u, entry, len, NULL, v);
}
