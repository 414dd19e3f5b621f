/*
 * entry.c - log entries (docs/formats.md section 7): strict parse and the
 * builders. One spelling per entry: parse loads the bytes (no duplicate
 * keys), re-dumps them compact with sorted keys and refuses them unless the
 * dump is the same bytes; then every field is read and checked, and no
 * field outside the kind's list is allowed (the log writes every entry, so
 * an unknown field is never ours). The builders validate the struct with
 * the same checks, write the JSON and parse their own output before
 * handing it back, so that what they write is exactly what parse accepts.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <string.h>

static const char *const root_fields[] = {
	"admins", "kind", "origin", "threshold", "v", "version",
};
static const char *const keyset_fields[] = {
	"keys", "kind", "namespaces", "prev", "publisher", "request", "threshold", "v",
	"version",
};
static const char *const package_fields[] = {
	"artifact", "envelope", "files", "keys_index", "kind", "name", "objects",
	"platform", "publisher", "v", "version",
};
static const char *const artifact_fields[] = { "name", "sha256", "size" };
static const char *const file_fields[] = { "kind", "mode", "path", "sha256", "size" };

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* --- checks on the structs (shared by parse and the builders) ------------ */

static enum l3af_status root_check(struct signer_admin_root *r, bool sort,
				   struct l3af_err *err)
{
	enum l3af_status rc = signer_origin_check(r->origin, err);

	if (rc == L3AF_OK && (r->version == 0 || r->version > SIGNER_JSON_UINT_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: entry: admin.root version is not "
			       "in 1..2^53-1");
	if (rc == L3AF_OK)
		rc = signer_keys_check(r->admins, r->nadmins, r->threshold, sort, "admins", err);
	return rc;
}

static enum l3af_status keyset_check(struct signer_keyset *ks, bool sort,
				     struct l3af_err *err)
{
	enum l3af_status rc = signer_keyset_core_check(ks, sort, err);

	if (rc == L3AF_OK && ks->has_prev != (ks->version > 1))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: entry: prev must be null for version 1 and a leaf "
			       "hash for later versions");
	return rc;
}

/* A subject name as statement.c takes it: 1..255 printable ASCII bytes. */
static enum l3af_status artifact_name_check(const char *s, struct l3af_err *err)
{
	size_t len = strlen(s);

	if (len == 0 || len > SIGNER_SUBJECT_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: artifact.name of %zu "
				 "bytes (1 to %d)", len, SIGNER_SUBJECT_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return l3af_fail(err, L3AF_E_INVALID, "signer: entry: artifact.name byte "
					 "%zu is not printable ASCII", i);
	return L3AF_OK;
}

/* files: the manifest, [{"kind","mode","path","sha256","size"}...]. */
static enum l3af_status files_check(const json_t *files, struct l3af_err *err)
{
	const json_t *f;
	uint8_t digest[32];
	uint64_t size;
	size_t i;

	if (!json_is_array(files))
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: files is not an array");
	json_array_foreach(files, i, f) {
		enum l3af_status rc = signer_json_fields(f, file_fields, NFIELDS(file_fields),
							 "entry: files[]", err);

		if (rc == L3AF_OK && (!json_is_string(json_object_get(f, "kind")) ||
				      !json_is_string(json_object_get(f, "mode")) ||
				      !json_is_string(json_object_get(f, "path"))))
			rc = l3af_fail(err, L3AF_E_INVALID,
				       "signer: entry: files[%zu] kind, mode or path not a string", i);
		if (rc == L3AF_OK)
			rc = signer_json_hex32(json_object_get(f, "sha256"), "entry: files[].sha256",
					       digest, err);
		if (rc == L3AF_OK)
			rc = signer_json_uint(f, "size", "entry: files[]", &size, err);
		if (rc != L3AF_OK)
			return rc;
	}
	return L3AF_OK;
}

static enum l3af_status package_check(const struct signer_package *p,
				      struct l3af_err *err)
{
	enum l3af_status rc = signer_publisher_check(p->publisher, err);
	const json_t *o;
	size_t i;

	if (rc == L3AF_OK)
		rc = signer_pkg_name_check(p->name, err);
	if (rc == L3AF_OK)
		rc = signer_version_check(p->version, err);
	if (rc == L3AF_OK)
		rc = signer_platform_check(p->platform, err);
	if (rc == L3AF_OK)
		rc = artifact_name_check(p->artifact_name, err);
	if (rc == L3AF_OK && (p->artifact_size > SIGNER_JSON_UINT_MAX ||
			      p->keys_index > SIGNER_JSON_UINT_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: entry: artifact.size or keys_index above 2^53-1");
	if (rc == L3AF_OK)
		rc = signer_envelope_shape(p->envelope, "entry: envelope", err);
	if (rc == L3AF_OK)
		rc = files_check(p->files, err);
	if (rc != L3AF_OK)
		return rc;
	if (!json_is_array(p->objects))
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: objects is not an array");
	json_array_foreach(p->objects, i, o)
		if (!json_is_object(o))
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: entry: objects[%zu] is not an object", i);
	return L3AF_OK;
}

/* --- parse ---------------------------------------------------------------- */

static enum l3af_status root_parse(const json_t *j, struct signer_entry *e,
				   struct l3af_err *err)
{
	struct signer_admin_root *r = &e->root;
	uint64_t threshold = 0;
	enum l3af_status rc = signer_json_fields(j, root_fields, NFIELDS(root_fields),
						 "entry", err);

	if (rc == L3AF_OK)
		rc = signer_json_str(j, "origin", "entry", r->origin, sizeof(r->origin), err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(j, "version", "entry", &r->version, err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(j, "threshold", "entry", &threshold, err);
	if (rc == L3AF_OK && threshold > SIGNER_SET_KEYS_MAX)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: entry.threshold above %u",
			       SIGNER_SET_KEYS_MAX);
	r->threshold = (unsigned)threshold;
	if (rc == L3AF_OK)
		rc = signer_keys_from_json(json_object_get(j, "admins"), "entry.admins",
					   r->admins, &r->nadmins, err);
	if (rc == L3AF_OK)
		rc = root_check(r, false, err);
	return rc;
}

static enum l3af_status keyset_parse(const json_t *j, struct signer_entry *e,
				     struct l3af_err *err)
{
	const json_t *prev = json_object_get(j, "prev");
	enum l3af_status rc = signer_json_fields(j, keyset_fields, NFIELDS(keyset_fields),
						 "entry", err);

	if (rc == L3AF_OK)
		rc = signer_keyset_core_parse(j, "entry", &e->keyset, err);
	if (rc == L3AF_OK && !json_is_null(prev)) {
		rc = signer_json_hex32(prev, "entry.prev", e->keyset.prev, err);
		e->keyset.has_prev = true;
	}
	if (rc == L3AF_OK)
		rc = keyset_check(&e->keyset, false, err);
	if (rc == L3AF_OK)
		rc = signer_envelope_shape(json_object_get(j, "request"), "entry.request", err);
	if (rc == L3AF_OK)
		e->request = json_incref(json_object_get(j, "request"));
	return rc;
}

static enum l3af_status package_parse(const json_t *j, struct signer_entry *e,
				      struct l3af_err *err)
{
	struct signer_package *p = &e->pkg;
	const json_t *art = json_object_get(j, "artifact");
	enum l3af_status rc = signer_json_fields(j, package_fields, NFIELDS(package_fields),
						 "entry", err);

	if (rc == L3AF_OK)
		rc = signer_json_str(j, "publisher", "entry", p->publisher, sizeof(p->publisher),
				     err);
	if (rc == L3AF_OK)
		rc = signer_json_str(j, "name", "entry", p->name, sizeof(p->name), err);
	if (rc == L3AF_OK)
		rc = signer_json_str(j, "version", "entry", p->version, sizeof(p->version), err);
	if (rc == L3AF_OK)
		rc = signer_json_str(j, "platform", "entry", p->platform, sizeof(p->platform), err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(j, "keys_index", "entry", &p->keys_index, err);
	if (rc == L3AF_OK)
		rc = signer_json_fields(art, artifact_fields, NFIELDS(artifact_fields),
					"entry.artifact", err);
	if (rc == L3AF_OK)
		rc = signer_json_str(art, "name", "entry.artifact", p->artifact_name,
				     sizeof(p->artifact_name), err);
	if (rc == L3AF_OK)
		rc = signer_json_hex32(json_object_get(art, "sha256"), "entry.artifact.sha256",
				       p->artifact_sha256, err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(art, "size", "entry.artifact", &p->artifact_size, err);
	if (rc == L3AF_OK) {
		p->envelope = json_incref(json_object_get(j, "envelope"));
		p->files = json_incref(json_object_get(j, "files"));
		p->objects = json_incref(json_object_get(j, "objects"));
		rc = package_check(p, err);
	}
	return rc;
}

/* Compares the canonical dump with the entry bytes as jansson writes it: one
 * encoding pass, no copy, stops at the first difference. */
struct canon_cmp {
	const uint8_t *bytes;
	size_t len, pos;
	bool differs;
};

static int canon_cmp_chunk(const char *buf, size_t size, void *data)
{
	struct canon_cmp *c = data;

	if (size > c->len - c->pos || memcmp(c->bytes + c->pos, buf, size) != 0) {
		c->differs = true;
		return -1;
	}
	c->pos += size;
	return 0;
}

static enum l3af_status canonical_check(const json_t *root, const uint8_t *bytes,
					size_t len, struct l3af_err *err)
{
	struct canon_cmp c = { .bytes = bytes, .len = len };
	int r = json_dump_callback(root, canon_cmp_chunk, &c, JSON_COMPACT | JSON_SORT_KEYS);

	if (r != 0 && !c.differs)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: entry: JSON encoding failed");
	if (r != 0 || c.pos != len)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: entry: not canonical (compact JSON, keys sorted, one "
				 "spelling per value)");
	return L3AF_OK;
}

enum l3af_status signer_entry_parse(const uint8_t *bytes, size_t len,
				    struct signer_entry *out, struct l3af_err *err)
{
	struct signer_entry e;
	json_t *root = NULL;
	uint64_t v = 0;
	const char *kind;
	enum l3af_status rc;

	if (!bytes || !out)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: missing argument");
	if (len > SIGNER_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: entry: %zu bytes, limit %u", len,
				 SIGNER_ENTRY_MAX);
	memset(&e, 0, sizeof(e));
	rc = signer_json_load((const char *)bytes, len, "entry", &root, err);
	if (rc == L3AF_OK)
		rc = canonical_check(root, bytes, len, err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(root, "v", "entry", &v, err);
	if (rc == L3AF_OK && v != 1)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: entry: unknown v %llu (only 1)",
			       (unsigned long long)v);
	kind = json_string_value(json_object_get(root, "kind"));
	if (rc == L3AF_OK && !kind)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: entry.kind is not a string");
	if (rc == L3AF_OK) {
		if (strcmp(kind, "admin.root") == 0) {
			e.kind = SIGNER_ENTRY_ADMIN_ROOT;
			rc = root_parse(root, &e, err);
		} else if (strcmp(kind, "publisher.keys") == 0) {
			e.kind = SIGNER_ENTRY_PUBLISHER_KEYS;
			rc = keyset_parse(root, &e, err);
		} else if (strcmp(kind, "package") == 0) {
			e.kind = SIGNER_ENTRY_PACKAGE;
			rc = package_parse(root, &e, err);
		} else {
			rc = l3af_fail(err, L3AF_E_INVALID, "signer: entry: unknown kind");
		}
	}
	json_decref(root);
	if (rc != L3AF_OK) {
		signer_entry_clear(&e);
		return rc;
	}
	*out = e;
	return L3AF_OK;
}

void signer_entry_clear(struct signer_entry *e)
{
	if (!e)
		return;
	json_decref(e->request);
	json_decref(e->pkg.envelope);
	json_decref(e->pkg.files);
	json_decref(e->pkg.objects);
	memset(e, 0, sizeof(*e));
}

/* --- builders ------------------------------------------------------------- */

/* Dump j (stolen); with reparse, parse the result too: builders hand out only
 * bytes that parse accepts. */
static enum l3af_status finish_as(json_t *j, bool reparse, char **out, size_t *len,
				  struct l3af_err *err)
{
	struct signer_entry check;
	char *s = NULL;
	enum l3af_status rc = L3AF_OK;

	if (!j)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: entry: building JSON failed "
				 "(out of memory or not UTF-8)");
	rc = signer_json_dump(j, SIGNER_ENTRY_MAX, "entry", &s, err);
	json_decref(j);
	if (rc == L3AF_OK && reparse) {
		rc = signer_entry_parse((const uint8_t *)s, strlen(s), &check, err);
		signer_entry_clear(&check);
	}
	if (rc != L3AF_OK) {
		l3af_free(s);
		return rc;
	}
	*out = s;
	*len = strlen(s);
	return L3AF_OK;
}

static enum l3af_status finish(json_t *j, char **out, size_t *len, struct l3af_err *err)
{
	return finish_as(j, true, out, len, err);
}

/* s[0 .. cap) holds a NUL. */
static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

enum l3af_status signer_entry_admin_root(const struct signer_admin_root *root,
					 char **out, size_t *len, struct l3af_err *err)
{
	struct signer_admin_root r;
	enum l3af_status rc;

	if (!root || !out || !len)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: missing argument");
	r = *root;
	if (!terminated(r.origin, sizeof(r.origin)))
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: origin not terminated");
	rc = root_check(&r, true, err);
	if (rc != L3AF_OK)
		return rc;
	return finish(json_pack("{s:o, s:s, s:s, s:I, s:i, s:I}", "admins",
				signer_keys_json(r.admins, r.nadmins), "kind", "admin.root",
				"origin", r.origin, "threshold", (json_int_t)r.threshold, "v", 1,
				"version", (json_int_t)r.version),
		      out, len, err);
}

enum l3af_status signer_entry_keyset(const struct signer_keyset *ks,
				     const char *request, size_t request_len,
				     char **out, size_t *len, struct l3af_err *err)
{
	struct signer_keyset k;
	char hex[65];
	json_t *req = NULL, *j = NULL;
	enum l3af_status rc;

	if (!ks || !request || !out || !len)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: missing argument");
	k = *ks;
	if (!terminated(k.publisher, sizeof(k.publisher)) ||
	    k.nnamespaces > SIGNER_NAMESPACES_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: bad key set");
	for (size_t i = 0; i < k.nnamespaces; i++)
		if (!terminated(k.namespaces[i], sizeof(k.namespaces[i])))
			return l3af_fail(err, L3AF_E_INVALID, "signer: entry: namespace %zu not "
					 "terminated", i);
	rc = keyset_check(&k, true, err);
	if (rc == L3AF_OK)
		rc = signer_json_load(request, request_len, "request", &req, err);
	if (rc == L3AF_OK)
		rc = signer_envelope_shape(req, "request", err);
	if (rc == L3AF_OK && !(j = signer_keyset_core_json(&k)))
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: entry: out of memory");
	l3af_hex_encode(hex, k.prev, 32);
	if (rc == L3AF_OK &&
	    (json_object_set_new(j, "kind", json_string("publisher.keys")) != 0 ||
	     json_object_set_new(j, "prev", k.has_prev ? json_string(hex) : json_null()) != 0 ||
	     json_object_set(j, "request", req) != 0 ||
	     json_object_set_new(j, "v", json_integer(1)) != 0))
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: entry: out of memory");
	json_decref(req);
	if (rc != L3AF_OK) {
		json_decref(j);
		return rc;
	}
	return finish(j, out, len, err);
}

enum l3af_status signer_entry_package(const struct signer_package *pkg,
				      char **out, size_t *len, struct l3af_err *err)
{
	char hex[65];
	enum l3af_status rc;

	if (!pkg || !out || !len)
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: missing argument");
	if (!terminated(pkg->publisher, sizeof(pkg->publisher)) ||
	    !terminated(pkg->name, sizeof(pkg->name)) ||
	    !terminated(pkg->version, sizeof(pkg->version)) ||
	    !terminated(pkg->platform, sizeof(pkg->platform)) ||
	    !terminated(pkg->artifact_name, sizeof(pkg->artifact_name)))
		return l3af_fail(err, L3AF_E_INVALID, "signer: entry: a string is not terminated");
	rc = package_check(pkg, err);
	if (rc != L3AF_OK)
		return rc;
	l3af_hex_encode(hex, pkg->artifact_sha256, 32);
	/* No reparse: package_check above is the check package_parse ends with,
	 * every other field is written from a checked string or integer, and a
	 * sorted compact dump is the one spelling. Parsing the server's own
	 * output again was 23% of an admission (callgrind, bench submit).
	 * test_entry and fuzz_entry check that parse accepts what this builds. */
	return finish_as(json_pack("{s:{s:s, s:s, s:I}, s:O, s:O, s:I, s:s, s:s, s:O, s:s, s:s,"
				" s:i, s:s}",
				"artifact", "name", pkg->artifact_name, "sha256", hex, "size",
				(json_int_t)pkg->artifact_size, "envelope", pkg->envelope,
				"files", pkg->files, "keys_index", (json_int_t)pkg->keys_index,
				"kind", "package", "name", pkg->name, "objects", pkg->objects,
				"platform", pkg->platform, "publisher", pkg->publisher, "v", 1,
				"version", pkg->version),
			 false, out, len, err);
}
