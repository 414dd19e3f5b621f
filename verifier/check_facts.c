/*
 * check_facts.c - the node policy on what the log recorded about a package:
 * its programs' types, helper and kfunc calls, tail calls (the entry's
 * `objects`, docs/policy-format.md "Inspection JSON"), its user-space
 * binaries and native images (the manifest's kinds), and the revoked and
 * yanked lists.
 */
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

static bool has_string(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && s && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* A denied helper is listed by name ("bpf_probe_write_user", "helper#36") or ID. */
static bool helper_denied(const json_t *denied, json_int_t id, const char *name)
{
	char alt[32];
	size_t i;
	json_t *v;

	snprintf(alt, sizeof(alt), "helper#%lld", (long long)id);
	json_array_foreach(denied, i, v) {
		if (json_is_integer(v) && json_integer_value(v) == id)
			return true;
		if (json_is_string(v) &&
		    ((name && !strcmp(json_string_value(v), name)) || !strcmp(json_string_value(v), alt)))
			return true;
	}
	return false;
}

static enum l3af_status program_check(const struct lv_node *n, const char *file, json_t *prog,
				      json_t *out, struct l3af_verify_result *r)
{
	const char *name = json_string_value(json_object_get(prog, "name"));
	const char *type = json_string_value(json_object_get(prog, "prog_type"));
	const char *digest = json_string_value(json_object_get(prog, "insns_sha256"));
	json_t *helpers = json_object_get(prog, "helpers"), *kfuncs = json_object_get(prog, "kfuncs");
	json_t *tail = json_object_get(prog, "tail_calls"), *v;
	enum l3af_status rc = L3AF_OK;
	size_t i;

	if (!name || !type || !digest || !json_is_array(helpers) || !json_is_array(kfuncs) ||
	    !json_is_integer(tail))
		return lv_deny(r, "facts", "%s: a program's recorded facts are malformed", file);
	if (json_array_append_new(out, json_pack("{s:s,s:s,s:O*,s:s,s:O*,s:s}", "file", file, "name",
						 name, "section", json_object_get(prog, "section"),
						 "prog_type", type, "insn_cnt",
						 json_object_get(prog, "insn_cnt"), "insns_sha256",
						 digest)) != 0)
		return L3AF_E_NOMEM;
	if (json_array_size(n->allowed_types) && !has_string(n->allowed_types, type))
		rc = lv_deny(r, "program_type", "%s: program %s has type %s, not allowed on this node",
			     file, name, type);
	json_array_foreach(helpers, i, v) {
		json_t *id = json_object_get(v, "id");
		const char *hname = json_string_value(json_object_get(v, "name"));

		if (rc != L3AF_OK)
			break;
		if (!json_is_integer(id))
			rc = lv_deny(r, "facts", "%s: program %s: malformed helper", file, name);
		else if (helper_denied(n->denied_helpers, json_integer_value(id), hname))
			rc = lv_deny(r, "helper", "%s: program %s calls %s, denied on this node", file,
				     name, hname ? hname : "a denied helper");
	}
	json_array_foreach(kfuncs, i, v) {
		if (rc != L3AF_OK)
			break;
		if (has_string(n->denied_kfuncs, json_string_value(v)))
			rc = lv_deny(r, "kfunc", "%s: program %s calls kfunc %s, denied on this node",
				     file, name, json_string_value(v));
	}
	if (rc == L3AF_OK && !n->allow_tail_calls && json_integer_value(tail) > 0)
		rc = lv_deny(r, "tail_calls", "%s: program %s makes tail calls, denied on this node",
			     file, name);
	return rc;
}

static const char *str_or(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Is this manifest path a bpf-elf file of pkg? */
static bool is_elf_path(const struct signer_package *pkg, const char *path)
{
	size_t i;
	json_t *f;

	json_array_foreach(pkg->files, i, f)
		if (!strcmp(str_or(json_object_get(f, "kind")), "bpf-elf") &&
		    !strcmp(str_or(json_object_get(f, "path")), path))
			return true;
	return false;
}

/* The objects' `file`s are exactly the manifest's bpf-elf paths, each once:
 * facts recorded for one object cannot stand in for another's. */
static enum l3af_status objects_match(const struct signer_package *pkg, size_t nelf,
				      struct l3af_verify_result *r)
{
	size_t i, j;
	json_t *obj, *other;

	json_array_foreach(pkg->objects, i, obj) {
		const char *file = json_string_value(json_object_get(obj, "file"));

		if (!file || !json_is_array(json_object_get(obj, "programs")))
			return lv_deny(r, "facts", "object %zu's recorded facts are malformed", i);
		if (!is_elf_path(pkg, file))
			return lv_deny(r, "objects_mismatch", "the entry records facts for %s, "
				       "which is not a BPF object of the manifest", file);
		json_array_foreach(pkg->objects, j, other) {
			if (j >= i)
				break;
			if (!strcmp(str_or(json_object_get(other, "file")), file))
				return lv_deny(r, "objects_mismatch",
					       "the entry records facts for %s twice", file);
		}
	}
	if (json_array_size(pkg->objects) != nelf)
		return lv_deny(r, "objects_mismatch", "the entry records facts for %zu objects, "
			       "the manifest has %zu BPF objects", json_array_size(pkg->objects),
			       nelf);
	return L3AF_OK;
}

enum l3af_status lv_check_facts(const struct lv_node *n, const struct signer_package *pkg,
				struct l3af_verify_result *r)
{
	json_t *progs = json_array(), *f, *obj, *p;
	size_t i, j, nelf = 0, before = r->nreasons;
	enum l3af_status rc;

	if (!progs || lv_set(r, "programs", progs) != L3AF_OK)
		return L3AF_E_NOMEM;
	json_array_foreach(pkg->files, i, f) {
		const char *kind = json_string_value(json_object_get(f, "kind"));
		const char *path = json_string_value(json_object_get(f, "path"));

		if (!kind || !path)
			continue; /* reported by the manifest comparison */
		nelf += !strcmp(kind, "bpf-elf");
		if (!n->allow_user_binaries && !strcmp(kind, "user-exe") &&
		    (rc = lv_deny(r, "user_binary", "%s is a user-space executable, denied on this node",
				  path)) != L3AF_OK)
			return rc;
		if (!n->allow_native_images && !strcmp(kind, "native-sys") &&
		    (rc = lv_deny(r, "native_image", "%s is a Windows native image, denied on this node",
				  path)) != L3AF_OK)
			return rc;
	}
	if (!json_is_array(pkg->objects))
		return lv_deny(r, "facts", "the entry records no object facts");
	rc = objects_match(pkg, nelf, r);
	if (rc != L3AF_OK || r->nreasons > before)
		return rc;
	json_array_foreach(pkg->objects, i, obj) {
		const char *file = json_string_value(json_object_get(obj, "file"));
		json_t *list = json_object_get(obj, "programs");

		json_array_foreach(list, j, p)
			if ((rc = program_check(n, file, p, progs, r)) != L3AF_OK)
				return rc;
	}
	return L3AF_OK;
}

static bool matches(const struct lv_match *m, const struct signer_package *pkg, uint64_t index)
{
	if (m->has_sha256 && memcmp(m->sha256, pkg->artifact_sha256, 32) != 0)
		return false;
	if (m->has_index && m->index != index)
		return false;
	if (m->name[0] && (strcmp(m->name, pkg->name) || strcmp(m->version, pkg->version)))
		return false;
	if (m->has_platform && strcmp(m->platform, pkg->platform))
		return false;
	return true;
}

enum l3af_status lv_check_revocation(const struct lv_node *n, const struct signer_package *pkg,
				     uint64_t index, struct l3af_verify_result *r)
{
	enum l3af_status rc = L3AF_OK;

	for (size_t i = 0; rc == L3AF_OK && i < n->nrevoked; i++)
		if (matches(&n->revoked[i], pkg, index))
			rc = lv_deny(r, "revoked", "entry %llu (%s %s) is revoked%s%s",
				     (unsigned long long)index, pkg->name, pkg->version,
				     n->revoked[i].reason[0] ? ": " : "", n->revoked[i].reason);
	for (size_t i = 0; rc == L3AF_OK && i < n->nyanked; i++)
		if (matches(&n->yanked[i], pkg, index))
			rc = lv_deny(r, "yanked", "entry %llu (%s %s) is yanked%s%s",
				     (unsigned long long)index, pkg->name, pkg->version,
				     n->yanked[i].reason[0] ? ": " : "", n->yanked[i].reason);
	return rc;
}
