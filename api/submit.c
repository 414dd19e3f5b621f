/*
 * submit.c - POST /v1/submit once its body is in (post.c): the package
 * checks (docs/api.md "Write and query API (v1)") and admission.
 *
 *   1. the envelope is JSON (no duplicate keys) and its payload an in-toto
 *      statement: 400 bad_request otherwise;
 *   2. the archive is read and every bpf-elf file inspected by bpf/ (422
 *      invalid_package), the package is named as the predicate says (422
 *      manifest_mismatch) and meets the policy (422 policy, "violations");
 *   3. under the write lock: the publisher whose key set in force verifies
 *      the envelope (signer_package_verify: 403 signature / namespace /
 *      unknown_publisher, 422 digest_mismatch / manifest_mismatch), then
 *      uniqueness of (name, version, platform) against the index and the
 *      entries still in flight (409 conflict; the same artifact again is
 *      the original entry, existing:true), then the entry is queued;
 *   4. the answer waits until the entry is published and indexed.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a submission refers to while it is checked (owned). */
struct sub {
	json_t *env, *files, *objects, *violations;
	struct signer_statement st;
	struct ebpf_pkg *pkg;
	struct ebpf_object **objs;
	size_t nobjs;
	uint8_t *art;
	struct signer_package cand;
};

static void sub_free(struct sub *u)
{
	for (size_t i = 0; i < u->nobjs; i++)
		ebpf_object_free(u->objs[i]);
	l3af_free(u->objs);
	ebpf_pkg_free(u->pkg);
	l3af_free(u->art);
	signer_statement_clear(&u->st);
	json_decref(u->env);
	json_decref(u->files);
	json_decref(u->objects);
	json_decref(u->violations);
}

/* A refusal decided while checking: status, code, message. */
struct verdict {
	unsigned status;
	const char *code;
	struct l3af_err err;
};

static bool refuse(struct verdict *v, unsigned status, const char *code, const char *fmt, ...)
	L3AF_PRINTF(4, 5);
static bool refuse(struct verdict *v, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->err.msg, sizeof(v->err.msg), fmt, ap);
	va_end(ap);
	return false;
}

/* Step 1: the envelope and its statement. */
static bool parse_envelope(struct sub *u, const char *text, size_t len, struct verdict *v)
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

/* Step 1b: name, version and platform from the predicate. */
static bool read_predicate(struct sub *u, struct verdict *v)
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

/* Step 2: the archive, its objects and the policy. */
static bool check_package(struct api_write *w, struct sub *u, int fd, uint64_t size,
			  struct verdict *v)
{
	struct l3af_err err = {0};
	char *manifest = NULL;
	size_t got = 0;

	u->art = l3af_malloc(size ? size : 1);
	if (!u->art)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
	while (got < size) {
		ssize_t k = pread(fd, u->art + got, size - got, (off_t)got);
		if (k <= 0)
			return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				      "reading the uploaded artifact back failed");
		got += (size_t)k;
	}
	if (l3af_sha256(u->art, size, u->cand.artifact_sha256) != L3AF_OK)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "sha256 failed");
	u->cand.artifact_size = size;
	if (ebpf_pkg_read(u->art, size, &u->pkg, &err) != L3AF_OK)
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
		char *facts = NULL;
		if (f->kind != EBPF_KIND_BPF_ELF)
			continue;
		if (ebpf_inspect(f->data, f->size, f->path, &obj, &err) != L3AF_OK)
			return refuse(v, 422, "invalid_package", "%s: %s", f->path, err.msg);
		u->objs[u->nobjs++] = obj;
		if (ebpf_object_to_json(obj, &facts, &err) != L3AF_OK)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", err.msg);
		json_array_append_new(u->objects, json_loads(facts, 0, NULL));
		l3af_free(facts);
	}
	struct ebpf_pkg_facts facts = ebpf_pkg_facts_of(u->pkg);
	if (ebpf_policy_check(w->policy, (const struct ebpf_object *const *)u->objs, u->nobjs,
			      &facts, on_violation, u->violations) > 0)
		return refuse(v, 422, "policy", "the package breaks the repository policy");
	return true;
}

/* How signer_package_verify's refusal is answered. */
static bool verify_refusal(enum l3af_status rc, const struct l3af_err *err, struct verdict *v)
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

/* Did a signature of the envelope name a key of ks (or name none)? */
static bool signed_by(const json_t *env, const struct signer_keyset *ks)
{
	size_t i;
	json_t *sig;

	json_array_foreach(json_object_get(env, "signatures"), i, sig)
	{
		const char *id = json_string_value(json_object_get(sig, "keyid"));
		if (!id || !id[0])
			return true;
		for (size_t k = 0; k < ks->nkeys; k++)
			if (!strcmp(ks->keys[k].id, id))
				return true;
	}
	return false;
}

/* Step 3a (lock held): the publisher whose key set verifies the package. */
static bool choose_publisher(struct api_write *w, struct sub *u, struct verdict *v)
{
	struct verdict first = {0};
	const struct api_pub *owner = NULL;
	bool candidate = false;

again:
	for (size_t i = 0; i < w->npubs; i++) {
		struct api_pub *p = &w->pubs[i];
		struct l3af_err err = {0};
		bool ns = signer_namespace_match(&p->ks, u->cand.name);
		enum l3af_status rc;

		owner = ns && !owner ? p : owner;
		if (!signed_by(u->env, &p->ks))
			continue;
		if (!p->index_known) {
			/* its new key set is queued: check under it once indexed */
			char id[SIGNER_PUBLISHER_MAX + 1];
			snprintf(id, sizeof(id), "%s", p->ks.publisher);
			api_write_wait_pub(w, id);
			owner = NULL;
			candidate = false;
			first.status = 0;
			goto again;
		}
		candidate = true;
		snprintf(u->cand.publisher, sizeof(u->cand.publisher), "%s", p->ks.publisher);
		u->cand.keys_index = p->index;
		rc = signer_package_verify(&u->cand, &p->ks, NULL, &err);
		if (rc == L3AF_OK)
			return true;
		if (!first.status || ns) /* prefer the answer of the name's owner */
			verify_refusal(rc, &err, &first);
	}
	if (!candidate && owner)
		return refuse(v, 403, "signature",
			      "signature: no key of publisher %s signed the envelope",
			      owner->ks.publisher);
	if (!candidate)
		return refuse(v, 403, "unknown_publisher",
			      "no publisher's key set holds a key that signed the envelope");
	if (!strcmp(first.code, "namespace") && owner)
		return refuse(v, 403, "signature",
			      "signature: package %s belongs to publisher %s, whose keys did not "
			      "sign it", u->cand.name, owner->ks.publisher);
	*v = first;
	return false;
}

/* Step 3b (lock held): uniqueness. *t is an in-flight twin to wait for, or
 * *existing an indexed one. */
static bool check_unique(struct api_write *w, struct sub *u, const char *hex,
			 struct api_ticket **twin, bool *existing, uint64_t *index,
			 struct verdict *v)
{
	struct api_pkg_row row;
	struct l3af_err err = {0};
	size_t n = 0;

	if (api_index_lookup(w->ix, "name", u->cand.name, u->cand.version, u->cand.platform, &row,
			     1, &n, &err) != L3AF_OK)
		return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err.msg);
	if (n == 1 && strcmp(row.sha256, hex) != 0)
		return refuse(v, 409, "conflict",
			      "%s %s for %s is already logged (entry %llu) with another artifact",
			      u->cand.name, u->cand.version, u->cand.platform,
			      (unsigned long long)row.index);
	if (n == 1) {
		*existing = true;
		*index = row.index;
		return true;
	}
	for (struct api_ticket *t = w->head; t; t = t->next) {
		if (t->kind != SIGNER_ENTRY_PACKAGE || strcmp(t->name, u->cand.name) ||
		    strcmp(t->version, u->cand.version) || strcmp(t->platform, u->cand.platform))
			continue;
		if (strcmp(t->sha256, hex) != 0)
			return refuse(v, 409, "conflict",
				      "%s %s for %s is being logged with another artifact",
				      u->cand.name, u->cand.version, u->cand.platform);
		t->refs++;
		*twin = t;
		*existing = true;
		return true;
	}
	return true;
}

/* Step 3 (lock held): admit and wait. */
static bool admit(struct api_write *w, struct sub *u, bool *existing, uint64_t *index,
		  struct verdict *v)
{
	struct api_ticket tmpl = {.kind = SIGNER_ENTRY_PACKAGE}, *t = NULL;
	char *entry = NULL;
	size_t len = 0;
	enum l3af_status rc;

	if (w->index_broken)
		return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			      "the lookup index failed; the operator must restart the server");
	if (!choose_publisher(w, u, v))
		return false;
	l3af_hex_encode(tmpl.sha256, u->cand.artifact_sha256, 32);
	if (!check_unique(w, u, tmpl.sha256, &t, existing, index, v))
		return false;
	if (*existing && !t)
		return true;
	if (!t) {
		snprintf(tmpl.name, sizeof(tmpl.name), "%s", u->cand.name);
		snprintf(tmpl.version, sizeof(tmpl.version), "%s", u->cand.version);
		snprintf(tmpl.platform, sizeof(tmpl.platform), "%s", u->cand.platform);
		rc = signer_entry_package(&u->cand, &entry, &len, &v->err);
		if (rc == L3AF_OK)
			rc = api_write_enqueue(w, &tmpl, entry, len, &t, &v->err);
		l3af_free(entry);
		if (rc == L3AF_E_BUSY)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "%s", v->err.msg);
		if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
			return refuse(v, MHD_HTTP_BAD_REQUEST, "bad_request", "entry: %s", v->err.msg);
		if (rc != L3AF_OK)
			return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "%s", v->err.msg);
	}
	rc = api_write_wait(w, t, index, &v->err);
	if (rc != L3AF_OK)
		return refuse(v, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", v->err.msg);
	return true;
}

static enum MHD_Result answer(struct api_server *s, struct MHD_Connection *c, bool existing,
			      uint64_t index)
{
	struct l3af_err err = {0};
	char *bundle = NULL;
	size_t len = 0;
	enum l3af_status rc = api_bundle_for(s, index, &bundle, &len, &err);

	if (rc != L3AF_OK)
		return api_send_failure(s, c, "/v1/submit", rc, &err);
	json_t *doc = json_pack("{s:s%, s:b, s:I}", "bundle", bundle, len, "existing", existing,
				"index", (json_int_t)index);
	l3af_free(bundle);
	return api_send_json(c, MHD_HTTP_OK, doc);
}

enum MHD_Result api_submit_finish(struct api_server *s, struct MHD_Connection *c,
				  const char *envelope, size_t envelope_len, int artifact_fd,
				  uint64_t artifact_size, const char *artifact_name)
{
	struct api_write *w = s->w;
	struct sub u = {0};
	struct verdict v = {0};
	bool ok, existing = false;
	uint64_t index = 0;
	enum MHD_Result ret;

	snprintf(u.cand.artifact_name, sizeof(u.cand.artifact_name), "%s", artifact_name);
	ok = parse_envelope(&u, envelope, envelope_len, &v) && read_predicate(&u, &v) &&
	     check_package(w, &u, artifact_fd, artifact_size, &v);
	if (ok) {
		u.cand.envelope = u.env;
		u.cand.files = u.files;
		u.cand.objects = u.objects;
		pthread_mutex_lock(&w->lock);
		ok = admit(w, &u, &existing, &index, &v);
		pthread_mutex_unlock(&w->lock);
	}
	if (ok)
		ret = answer(s, c, existing, index);
	else
		ret = api_refuse(s, c, v.status, v.code, v.err.msg,
				 !strcmp(v.code, "policy")
					 ? json_pack("{s:O}", "violations", u.violations)
					 : NULL);
	sub_free(&u);
	return ret;
}
