/*
 * statement.c - in-toto Statement v1 (github.com/in-toto/attestation
 * spec/v1/statement.md) for one eBPF package:
 *
 *   {"_type":"https://in-toto.io/Statement/v1",
 *    "predicate":{...},
 *    "predicateType":"https://l3af.io/attestation/ebpf-package/v1",
 *    "subject":[{"digest":{"sha256":"<64 lowercase hex>"},"name":"<file>"}]}
 *
 * We require exactly one subject with a sha256 digest. Following the
 * attestation spec's parsing rules, unknown fields (in the statement, the
 * subject and its digest set) are ignored: unlike the DSSE envelope they are
 * covered by the signature. Only sha256 is checked; other digests are not.
 * The predicate's content is the CLI's; here only its required top-level
 * fields are checked (name, version, platform{os, arch}, files), and its
 * nesting depth is bounded.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <string.h>

#define SHA256_HEX 64

struct field {
	const char *key;
	json_type type;
};

static const struct field predicate_fields[] = {
	{ "name", JSON_STRING },
	{ "version", JSON_STRING },
	{ "platform", JSON_OBJECT },
	{ "files", JSON_ARRAY },
};

static const struct field platform_fields[] = {
	{ "os", JSON_STRING },
	{ "arch", JSON_STRING },
};

static enum l3af_status fields_require(const json_t *obj, const struct field *f,
				       size_t n, const char *what,
				       struct l3af_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(obj, f[i].key);

		if (!v || json_typeof(v) != f[i].type)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: statement: %s.%s missing or not %s", what,
					 f[i].key, f[i].type == JSON_STRING ? "a string"
					 : f[i].type == JSON_OBJECT ? "an object" : "an array");
	}
	return L3AF_OK;
}

/* 1 if v nests at most `left` levels of arrays and objects. The recursion
 * is bounded by `left`, not by the input. */
static int depth_ok(json_t *v, int left)
{
	const char *k;
	json_t *c;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (left == 0)
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			if (!depth_ok(c, left - 1))
				return 0;
		return 1;
	}
	json_object_foreach(v, k, c)
		if (!depth_ok(c, left - 1))
			return 0;
	return 1;
}

static enum l3af_status predicate_check(json_t *p, struct l3af_err *err)
{
	enum l3af_status rc;

	if (!json_is_object(p))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: predicate missing or not an object");
	rc = fields_require(p, predicate_fields, 4, "predicate", err);
	if (rc == L3AF_OK)
		rc = fields_require(json_object_get(p, "platform"), platform_fields, 2,
				    "predicate.platform", err);
	if (rc == L3AF_OK && !depth_ok(p, SIGNER_PREDICATE_DEPTH_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: statement: predicate nests deeper than %d",
			       SIGNER_PREDICATE_DEPTH_MAX);
	return rc;
}

/* A subject name: 1..255 bytes of UTF-8 (jansson checks that), no control
 * characters, so that it prints safely. */
static enum l3af_status name_check(const char *name, size_t len,
				   struct l3af_err *err)
{
	if (len == 0 || len > SIGNER_SUBJECT_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: subject name of %zu bytes (1 to %d)",
				 len, SIGNER_SUBJECT_NAME_MAX);
	/* Printable ASCII only, like package paths: no C0/C1 controls and no
	 * bidirectional overrides that would make a listing lie. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: statement: subject name has a byte that is not "
					 "printable ASCII (offset %zu)", i);
	return L3AF_OK;
}

enum l3af_status signer_statement_build(const char *name,
					const uint8_t sha256[static 32],
					const json_t *predicate, char **out,
					struct l3af_err *err)
{
	char hex[SHA256_HEX + 1];
	json_t *pred = NULL, *root = NULL;
	enum l3af_status rc;

	if (!name || !predicate || !out)
		return l3af_fail(err, L3AF_E_INVALID, "signer: statement: missing argument");
	rc = name_check(name, strlen(name), err);
	/* A private copy: the caller may change theirs later. */
	if (rc == L3AF_OK && !(pred = json_deep_copy(predicate)))
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: statement: copying the predicate");
	if (rc == L3AF_OK)
		rc = predicate_check(pred, err);
	l3af_hex_encode(hex, sha256, 32);
	if (rc == L3AF_OK &&
	    !(root = json_pack("{s:s, s:[{s:s, s:{s:s}}], s:s, s:O}",
			       "_type", SIGNER_STATEMENT_TYPE, "subject", "name", name,
			       "digest", "sha256", hex, "predicateType",
			       SIGNER_PREDICATE_TYPE, "predicate", pred)))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: statement: subject name is not UTF-8 (or out of memory)");
	if (rc == L3AF_OK)
		rc = signer_json_dump(root, SIGNER_STATEMENT_MAX, "statement", out, err);
	json_decref(root);
	json_decref(pred);
	return rc;
}

/* --- parsing ------------------------------------------------------------ */

static enum l3af_status exact_string(json_t *root, const char *key,
				     const char *want, struct l3af_err *err)
{
	const char *got = json_string_value(json_object_get(root, key));

	if (!got || strcmp(got, want) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: %s is not \"%s\"", key, want);
	return L3AF_OK;
}

static enum l3af_status digest_get(json_t *subject, uint8_t sha256[32],
				   struct l3af_err *err)
{
	json_t *d = json_object_get(json_object_get(subject, "digest"), "sha256");

	if (!json_is_string(d) || json_string_length(d) != SHA256_HEX ||
	    l3af_hex_decode(sha256, 32, json_string_value(d), SHA256_HEX) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: subject digest.sha256 is not 64 lowercase hex");
	return L3AF_OK;
}

static enum l3af_status subject_get(json_t *root, struct signer_statement *st,
				    struct l3af_err *err)
{
	json_t *subjects = json_object_get(root, "subject");
	json_t *s = json_array_get(subjects, 0);
	json_t *name = json_object_get(s, "name");
	enum l3af_status rc;

	if (!json_is_array(subjects) || json_array_size(subjects) != 1 ||
	    !json_is_object(s))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: subject must be an array of exactly one object");
	if (!json_is_string(name))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: statement: subject name missing or not a string");
	rc = name_check(json_string_value(name), json_string_length(name), err);
	if (rc == L3AF_OK)
		rc = digest_get(s, st->sha256, err);
	if (rc == L3AF_OK)
		memcpy(st->name, json_string_value(name), json_string_length(name) + 1);
	return rc;
}

enum l3af_status signer_statement_parse(const char *json, size_t len,
					struct signer_statement *out,
					struct l3af_err *err)
{
	struct signer_statement st = { .predicate = NULL };
	json_t *root = NULL;
	enum l3af_status rc = L3AF_OK;

	if (!out)
		return l3af_fail(err, L3AF_E_INVALID, "signer: statement: no output");
	if (len > SIGNER_STATEMENT_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: statement: %zu bytes, limit %u",
				 len, SIGNER_STATEMENT_MAX);
	rc = signer_json_load(json, len, "statement", &root, err);
	if (rc == L3AF_OK)
		rc = exact_string(root, "_type", SIGNER_STATEMENT_TYPE, err);
	if (rc == L3AF_OK)
		rc = exact_string(root, "predicateType", SIGNER_PREDICATE_TYPE, err);
	if (rc == L3AF_OK)
		rc = subject_get(root, &st, err);
	if (rc == L3AF_OK)
		rc = predicate_check(json_object_get(root, "predicate"), err);
	if (rc == L3AF_OK) {
		st.predicate = json_incref(json_object_get(root, "predicate"));
		*out = st;
	}
	json_decref(root);
	return rc;
}

void signer_statement_clear(struct signer_statement *st)
{
	if (!st)
		return;
	json_decref(st->predicate);
	memset(st, 0, sizeof(*st));
}
