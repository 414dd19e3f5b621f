/*
 * admit.c - the HTTP-independent admission work on one submission
 * (docs/api.md "Write and query API (v1)"): envelope and statement,
 * predicate, artifact digest, archive read, manifest, ELF inspection, policy
 * (api_admit_check); the signature under a key set (api_admit_verify); the
 * entry bytes and their parsed form (api_admit_entry). submit.c runs them
 * around its write lock; `l3af-tlog bench submit` runs api_admit (all three)
 * as its in-process baseline, so both measure the same work.
 */
#define _GNU_SOURCE
#include "api_internal.h"

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
	memset(u, 0, sizeof(*u));
}

/* The envelope and its statement. */
static bool parse_envelope(struct api_admission *u, const char *text, size_t len,
			   struct api_verdict *v)
{
	struct l3af_err err = {0};
	json_error_t je;
	const char *b64;
	uint8_t *payload;
	size_t plen = 0, cap;
	enum l3af_status rc;

	u->env = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(u->env))
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: %s",
			      u->env ? "not a JSON object" : je.text);
	b64 = json_string_value(json_object_get(u->env, "payload"));
	if (!b64)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: no payload");
	cap = strlen(b64);
	payload = l3af_malloc(cap + 1);
	if (!payload)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
	rc = l3af_base64_decode(payload, cap + 1, &plen, b64, cap);
	if (rc == L3AF_OK)
		rc = signer_statement_parse((const char *)payload, plen, &u->st, &err);
	else
		l3af_fail(&err, rc, "payload is not base64");
	l3af_free(payload);
	if (rc != L3AF_OK)
		return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "envelope: %s", err.msg);
	return true;
}

/* Name, version and platform from the predicate. */
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
static bool check_package(const struct ebpf_policy *policy, struct api_admission *u,
			  const uint8_t *art, uint64_t size, struct api_verdict *v)
{
	struct l3af_err err = {0};
	char *manifest = NULL;

	if (l3af_sha256(art, size, u->cand.artifact_sha256) != L3AF_OK)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "sha256 failed");
	u->cand.artifact_size = size;
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
	return true;
}

bool api_admit_check(struct api_admission *u, const struct ebpf_policy *policy,
		     const char *envelope, size_t envelope_len, const uint8_t *art,
		     uint64_t art_size, const char *artifact_name, struct api_verdict *v)
{
	snprintf(u->cand.artifact_name, sizeof(u->cand.artifact_name), "%s", artifact_name);
	if (!parse_envelope(u, envelope, envelope_len, v) || !read_predicate(u, v) ||
	    !check_package(policy, u, art, art_size, v))
		return false;
	u->cand.envelope = u->env;
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

bool api_admit_verify(struct api_admission *u, const struct signer_keyset *ks,
		      uint64_t keys_index, struct api_verdict *v)
{
	struct l3af_err err = {0};
	enum l3af_status rc;

	snprintf(u->cand.publisher, sizeof(u->cand.publisher), "%s", ks->publisher);
	u->cand.keys_index = keys_index;
	/* u->st was parsed from this envelope's payload (parse_envelope) */
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
	return api_admit_check(u, policy, envelope, envelope_len, art, art_size, artifact_name,
			       v) &&
	       api_admit_verify(u, ks, keys_index, v) && api_admit_entry(u, entry, len, NULL, v);
}
