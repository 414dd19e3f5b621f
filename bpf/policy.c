/*
 * policy.c - a repository's publishing policy (docs/policy-format.md):
 * parse the JSON document, and check inspected objects against it.
 *
 * Security property: parsing is strict (duplicate keys, unknown keys, wrong
 * types, unknown helper names and program types are refused), so a typo
 * cannot silently weaken a rule; checking is pure and fails closed (a NULL
 * policy is itself a violation).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <jansson.h>

#include "ebpf.h"

#define POLICY_MAX_BYTES (64u << 10)
#define POLICY_MAX_ITEMS 1024u
#define POLICY_MAX_NAME 255u

struct ebpf_policy {
	bool require_documentation;
	bool require_license;
	bool allow_tail_calls;
	bool allow_user_binaries;
	bool allow_native_images;
	size_t ntypes;
	char **types;      /* allowed program types; none = any */
	size_t nhelpers;
	uint32_t *helpers; /* denied helper IDs */
	size_t nkfuncs;
	char **kfuncs;     /* denied kfunc names */
};

static const char *const default_denied_helpers[] = {
	"bpf_probe_write_user", "bpf_override_return", "bpf_send_signal",
	"bpf_send_signal_thread",
};

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		l3af_free(names[i]);
	l3af_free(names);
}

void ebpf_policy_free(struct ebpf_policy *policy)
{
	if (!policy)
		return;
	free_names(policy->types, policy->ntypes);
	free_names(policy->kfuncs, policy->nkfuncs);
	l3af_free(policy->helpers);
	l3af_free(policy);
}

static bool set_default_helpers(struct ebpf_policy *p)
{
	size_t n = sizeof(default_denied_helpers) / sizeof(default_denied_helpers[0]);

	p->helpers = l3af_calloc(n, sizeof(*p->helpers));
	if (!p->helpers)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ebpf_helper_lookup(default_denied_helpers[i], &p->helpers[i]))
			return false;
	p->nhelpers = n;
	return true;
}

struct ebpf_policy *ebpf_policy_default(void)
{
	struct ebpf_policy *p = l3af_calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->require_documentation = true;
	p->require_license = true;
	p->allow_tail_calls = true;
	p->allow_user_binaries = true;
	p->allow_native_images = true; /* Windows packages ship .sys images */
	if (!set_default_helpers(p)) {
		ebpf_policy_free(p);
		return NULL;
	}
	return p;
}

/* ---- parse -------------------------------------------------------------- */

static enum l3af_status want_bool(bool *field, const char *key, json_t *v,
				  struct l3af_err *err)
{
	if (!json_is_boolean(v))
		return l3af_fail(err, L3AF_E_INVALID, "policy: \"%s\" must be true or false", key);
	*field = json_is_true(v);
	return L3AF_OK;
}

static enum l3af_status want_array(const char *key, json_t *v, struct l3af_err *err)
{
	if (!json_is_array(v))
		return l3af_fail(err, L3AF_E_INVALID, "policy: \"%s\" must be a list", key);
	if (json_array_size(v) > POLICY_MAX_ITEMS)
		return l3af_fail(err, L3AF_E_LIMIT, "policy: \"%s\" has more than %u items", key,
				 POLICY_MAX_ITEMS);
	return L3AF_OK;
}

static char *dup_name(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = l3af_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static bool name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= POLICY_MAX_NAME || s[n] <= 0x20 || s[n] > 0x7e)
			return false;
	return n > 0;
}

static bool known_prog_type(const char *name)
{
	const char *s;

	for (int t = 0; (s = libbpf_bpf_prog_type_str((enum bpf_prog_type)t)) != NULL; t++)
		if (strcmp(s, name) == 0)
			return true;
	return false;
}

/* A list of names; check (may be NULL) vets each one. */
static enum l3af_status parse_names(char ***out, size_t *nout, const char *key, json_t *v,
				    bool (*check)(const char *), struct l3af_err *err)
{
	enum l3af_status rc = want_array(key, v, err);
	size_t n = json_array_size(v);
	const char *s;

	if (rc != L3AF_OK)
		return rc;
	free_names(*out, *nout);
	*nout = 0;
	*out = l3af_calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return l3af_fail(err, L3AF_E_NOMEM, "policy: out of memory");
	for (size_t i = 0; i < n; i++) {
		s = json_string_value(json_array_get(v, i));
		if (!s || !name_ok(s) || (check && !check(s)))
			return l3af_fail(err, L3AF_E_INVALID,
					 "policy: \"%s\" item %zu is not a known name", key, i);
		if (!((*out)[i] = dup_name(s)))
			return l3af_fail(err, L3AF_E_NOMEM, "policy: out of memory");
		*nout = i + 1;
	}
	return L3AF_OK;
}

/* A helper is named ("bpf_probe_write_user", "helper#36") or numbered. */
static bool helper_item(json_t *item, uint32_t *id)
{
	json_int_t n;

	if (json_is_string(item))
		return ebpf_helper_lookup(json_string_value(item), id);
	if (!json_is_integer(item))
		return false;
	n = json_integer_value(item);
	if (n < 1 || n > (json_int_t)UINT32_MAX)
		return false;
	*id = (uint32_t)n;
	return true;
}

static enum l3af_status parse_helpers(struct ebpf_policy *p, const char *key, json_t *v,
				      struct l3af_err *err)
{
	enum l3af_status rc = want_array(key, v, err);
	size_t n = json_array_size(v);

	if (rc != L3AF_OK)
		return rc;
	l3af_free(p->helpers);
	p->nhelpers = 0;
	p->helpers = l3af_calloc(n ? n : 1, sizeof(*p->helpers));
	if (!p->helpers)
		return l3af_fail(err, L3AF_E_NOMEM, "policy: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!helper_item(json_array_get(v, i), &p->helpers[i]))
			return l3af_fail(err, L3AF_E_INVALID,
					 "policy: \"%s\" item %zu is not a helper name or ID", key,
					 i);
	}
	p->nhelpers = n;
	return L3AF_OK;
}

static enum l3af_status parse_version(const char *key, json_t *v, struct l3af_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return l3af_fail(err, L3AF_E_INVALID, "policy: \"%s\" must be 1", key);
	return L3AF_OK;
}

enum policy_key {
	K_VERSION, K_REQ_DOC, K_REQ_LIC, K_TYPES, K_HELPERS, K_KFUNCS, K_TAIL, K_USER,
	K_NATIVE,
};

/* The document's keys, in document order (docs/policy-format.md); the rule
 * names reported by ebpf_policy_check are these keys. */
static const struct {
	const char *key;
	enum policy_key id;
} policy_keys[] = {
	{"version", K_VERSION},
	{"require_documentation", K_REQ_DOC},
	{"require_license", K_REQ_LIC},
	{"allowed_program_types", K_TYPES},
	{"denied_helpers", K_HELPERS},
	{"denied_kfuncs", K_KFUNCS},
	{"allow_tail_calls", K_TAIL},
	{"allow_user_binaries", K_USER},
	{"allow_native_images", K_NATIVE},
};

static enum l3af_status parse_key(struct ebpf_policy *p, const char *key, json_t *v,
				  struct l3af_err *err)
{
	size_t i = 0, n = sizeof(policy_keys) / sizeof(policy_keys[0]);

	while (i < n && strcmp(policy_keys[i].key, key) != 0)
		i++;
	if (i == n)
		return l3af_fail(err, L3AF_E_INVALID, "policy: unknown key \"%s\"", key);
	switch (policy_keys[i].id) {
	case K_VERSION: return parse_version(key, v, err);
	case K_REQ_DOC: return want_bool(&p->require_documentation, key, v, err);
	case K_REQ_LIC: return want_bool(&p->require_license, key, v, err);
	case K_TYPES: return parse_names(&p->types, &p->ntypes, key, v, known_prog_type, err);
	case K_HELPERS: return parse_helpers(p, key, v, err);
	case K_KFUNCS: return parse_names(&p->kfuncs, &p->nkfuncs, key, v, NULL, err);
	case K_TAIL: return want_bool(&p->allow_tail_calls, key, v, err);
	case K_USER: return want_bool(&p->allow_user_binaries, key, v, err);
	case K_NATIVE: return want_bool(&p->allow_native_images, key, v, err);
	}
	return l3af_fail(err, L3AF_E_INTERNAL, "policy: key table");
}

enum l3af_status ebpf_policy_parse(const char *json, size_t len, struct ebpf_policy **out,
				   struct l3af_err *err)
{
	struct ebpf_policy *p = NULL;
	enum l3af_status rc = L3AF_OK;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;

	*out = NULL;
	if (len > POLICY_MAX_BYTES) {
		rc = l3af_fail(err, L3AF_E_LIMIT, "policy: %zu bytes, more than %u", len,
			       POLICY_MAX_BYTES);
		goto out;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		rc = l3af_fail(err, L3AF_E_INVALID, "policy: not a JSON object: %s",
			       root ? "other JSON value" : jerr.text);
		goto out;
	}
	p = ebpf_policy_default();
	if (!p) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "policy: out of memory");
		goto out;
	}
	json_object_foreach(root, key, v) {
		rc = parse_key(p, key, v, err);
		if (rc != L3AF_OK)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	ebpf_policy_free(p);
	json_decref(root);
	return rc;
}

/* ---- check -------------------------------------------------------------- */

struct report {
	ebpf_violation_fn fn;
	void *ctx;
	size_t count;
};

L3AF_PRINTF(5, 6)
static void violation(struct report *r, const char *file, const char *program,
		      const char *rule, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	r->count++;
	if (!r->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->fn(r->ctx, file ? file : "", program ? program : "", rule, msg);
}

static bool listed(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static bool helper_denied(const struct ebpf_policy *p, uint32_t id)
{
	for (size_t i = 0; i < p->nhelpers; i++)
		if (p->helpers[i] == id)
			return true;
	return false;
}

static void check_package(const struct ebpf_policy *p, const struct ebpf_pkg_facts *f,
			  struct report *r)
{
	if (p->require_documentation && !f->has_doc)
		violation(r, "", "", "require_documentation",
			  "the package has no documentation file (README*, *.md, docs/)");
	if (p->require_license && !f->has_license)
		violation(r, "", "", "require_license",
			  "the package has no licence file (LICENSE*, COPYING*)");
	if (!p->allow_user_binaries && f->has_user_exe)
		violation(r, "", "", "allow_user_binaries",
			  "the package contains a user-space executable");
	if (!p->allow_native_images && f->has_native)
		violation(r, "", "", "allow_native_images",
			  "the package contains a Windows native image (.sys)");
}

static void check_prog(const struct ebpf_policy *p, const char *file,
		       const struct ebpf_prog *prog, struct report *r)
{
	char name[EBPF_HELPER_NAME_BYTES];

	if (p->ntypes && !listed(p->types, p->ntypes, prog->prog_type))
		violation(r, file, prog->name, "allowed_program_types",
			  "program type %s (section \"%s\") is not allowed", prog->prog_type,
			  prog->section);
	for (size_t i = 0; i < prog->nhelpers; i++)
		if (helper_denied(p, prog->helpers[i]))
			violation(r, file, prog->name, "denied_helpers",
				  "calls denied helper %s (%u)",
				  ebpf_helper_format(prog->helpers[i], name), prog->helpers[i]);
	for (size_t i = 0; i < prog->nkfuncs; i++)
		if (listed(p->kfuncs, p->nkfuncs, prog->kfuncs[i]))
			violation(r, file, prog->name, "denied_kfuncs", "calls denied kfunc %s",
				  prog->kfuncs[i]);
	if (!p->allow_tail_calls && prog->tail_calls)
		violation(r, file, prog->name, "allow_tail_calls", "makes %u tail call(s)",
			  prog->tail_calls);
}

static void check_object(const struct ebpf_policy *p, const struct ebpf_object *obj,
			 struct report *r)
{
	if (p->require_license && !obj->license)
		violation(r, obj->file, "", "require_license",
			  "the object has no \"license\" section");
	for (size_t i = 0; i < obj->nprogs; i++)
		check_prog(p, obj->file, &obj->progs[i], r);
}

struct ebpf_pkg_facts ebpf_pkg_facts_of(const struct ebpf_pkg *pkg)
{
	struct ebpf_pkg_facts f = {0};

	for (size_t i = 0; pkg && i < pkg->nfiles; i++) {
		f.has_doc |= pkg->files[i].kind == EBPF_KIND_DOC;
		f.has_license |= pkg->files[i].kind == EBPF_KIND_LICENSE;
		f.has_user_exe |= pkg->files[i].kind == EBPF_KIND_USER_EXE;
		f.has_native |= pkg->files[i].kind == EBPF_KIND_NATIVE_SYS;
	}
	return f;
}

size_t ebpf_policy_check(const struct ebpf_policy *policy, const struct ebpf_object *const *objs,
			 size_t n, const struct ebpf_pkg_facts *facts,
			 ebpf_violation_fn on_violation, void *ctx)
{
	struct report r = {.fn = on_violation, .ctx = ctx};

	if (!policy) {
		violation(&r, "", "", "policy", "no policy given");
		return r.count;
	}
	if (!facts) {
		violation(&r, "", "", "policy", "no package facts given");
		return r.count;
	}
	check_package(policy, facts, &r);
	for (size_t i = 0; objs && i < n; i++)
		if (objs[i])
			check_object(policy, objs[i], &r);
	return r.count;
}
