/*
 * entry_verify.c - is a package entry what its publisher signed, under the
 * key set in force (docs/formats.md section 7, `package`)?
 *
 * Order: publisher, namespace (cheap, no crypto), then the DSSE envelope
 * against ks->keys with ks->threshold, its payloadType, the statement, its
 * subject and its predicate. Every "does not match" is L3AF_E_VERIFY with a
 * message that starts with one of "publisher:", "namespace:", "signature:",
 * "subject:", "predicate:", so that the server and the agent can map it to
 * a reason code. A signed payload that is not an in-toto statement of ours
 * (wrong payloadType, a statement that does not parse) is L3AF_E_INVALID.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <string.h>

static enum l3af_status predicate_match(const struct signer_package *pkg,
					const json_t *pred, struct l3af_err *err)
{
	char platform[SIGNER_PLATFORM_MAX + 1];
	const char *name = json_string_value(json_object_get(pred, "name"));
	const char *version = json_string_value(json_object_get(pred, "version"));
	enum l3af_status rc;

	if (!name || strcmp(name, pkg->name) != 0 ||
	    json_string_length(json_object_get(pred, "name")) != strlen(name))
		return l3af_fail(err, L3AF_E_VERIFY,
				 "predicate: name is not the entry's name \"%s\"", pkg->name);
	if (!version || strcmp(version, pkg->version) != 0 ||
	    json_string_length(json_object_get(pred, "version")) != strlen(version))
		return l3af_fail(err, L3AF_E_VERIFY,
				 "predicate: version is not the entry's version \"%s\"",
				 pkg->version);
	rc = signer_platform_string(json_object_get(pred, "platform"), platform, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "predicate");
		return rc == L3AF_E_INVALID ? L3AF_E_VERIFY : rc;
	}
	if (strcmp(platform, pkg->platform) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "predicate: platform %s is not the entry's %s", platform,
				 pkg->platform);
	if (!json_equal(json_object_get(pred, "files"), pkg->files))
		return l3af_fail(err, L3AF_E_VERIFY,
				 "predicate: files is not the manifest the log read");
	return L3AF_OK;
}

static enum l3af_status statement_match(const struct signer_package *pkg,
					const struct signer_statement *st,
					struct l3af_err *err)
{
	if (strcmp(st->name, pkg->artifact_name) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "subject: name is not the artifact name \"%s\"",
				 pkg->artifact_name);
	if (memcmp(st->sha256, pkg->artifact_sha256, 32) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "subject: sha256 is not the artifact's digest");
	return predicate_match(pkg, st->predicate, err);
}

static enum l3af_status package_verify(const struct signer_package *pkg,
				       const struct signer_keyset *ks,
				       const struct signer_statement *parsed,
				       struct signer_statement *st, struct l3af_err *err)
{
	struct signer_dsse_result res = { .payload = NULL };
	struct signer_statement got = { .predicate = NULL };
	size_t n;
	enum l3af_status rc;

	if (!pkg || !ks || !pkg->envelope || !pkg->files)
		return l3af_fail(err, L3AF_E_INVALID, "signer: package verify: missing argument");
	if (ks->nkeys == 0 || ks->nkeys > SIGNER_SET_KEYS_MAX || ks->threshold == 0 ||
	    ks->threshold > ks->nkeys)
		return l3af_fail(err, L3AF_E_INVALID, "signer: package verify: bad key set");
	if (strncmp(pkg->publisher, ks->publisher, sizeof(ks->publisher)) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "publisher: entry publisher is not the key set's (%s)",
				 ks->publisher);
	if (!signer_namespace_match(ks, pkg->name))
		return l3af_fail(err, L3AF_E_VERIFY,
				 "namespace: package name %s is outside publisher %s's namespaces",
				 pkg->name, ks->publisher);
	/* The envelope is verified as the tree it is (no dump and re-parse);
	 * its canonical size is bounded as signer_json_dump would. */
	n = json_dumpb(pkg->envelope, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
	if (n == 0)
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: package envelope: JSON encoding failed");
	else if (n > SIGNER_DSSE_MAX)
		rc = l3af_fail(err, L3AF_E_LIMIT, "signer: package envelope: %zu bytes, limit %u",
			       n, SIGNER_DSSE_MAX);
	else
		rc = signer_dsse_verify_root(pkg->envelope, ks->keys, ks->nkeys, ks->threshold,
					     &res, err);
	if (rc == L3AF_E_VERIFY)
		l3af_err_prefix(err, "signature");
	if (rc == L3AF_OK && strcmp(res.payload_type, SIGNER_INTOTO_PAYLOAD_TYPE) != 0)
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: package verify: payloadType is not %s",
			       SIGNER_INTOTO_PAYLOAD_TYPE);
	if (rc == L3AF_OK && parsed)
		rc = statement_match(pkg, parsed, err);
	else if (rc == L3AF_OK)
		rc = signer_statement_parse((const char *)res.payload, res.payload_len, &got, err);
	if (rc == L3AF_OK && !parsed)
		rc = statement_match(pkg, &got, err);
	signer_dsse_result_clear(&res);
	if (rc == L3AF_OK && st)
		*st = got;
	else
		signer_statement_clear(&got);
	return rc;
}

enum l3af_status signer_package_verify(const struct signer_package *pkg,
				       const struct signer_keyset *ks,
				       struct signer_statement *st,
				       struct l3af_err *err)
{
	return package_verify(pkg, ks, NULL, st, err);
}

enum l3af_status signer_package_verify_parsed(const struct signer_package *pkg,
					      const struct signer_keyset *ks,
					      const struct signer_statement *parsed,
					      struct l3af_err *err)
{
	if (!parsed)
		return l3af_fail(err, L3AF_E_INVALID, "signer: package verify: missing argument");
	return package_verify(pkg, ks, parsed, NULL, err);
}
