/*
 * entry_json.c - JSON pieces shared by log entries (entry.c) and admin
 * requests (admin.c): exact field sets, bounded integers, digests, public
 * keys {"alg","id","spki"}, key sets and the shape of a DSSE envelope kept
 * inside an entry. Reading is strict: a field is there with its type or
 * the object is refused, naming the field (never echoing the sender's
 * bytes).
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum l3af_status signer_json_fields(const json_t *obj, const char *const *keys,
				    size_t n, const char *what, struct l3af_err *err)
{
	if (!json_is_object(obj))
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s is not an object", what);
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, keys[i]))
			return l3af_fail(err, L3AF_E_INVALID, "signer: %s.%s is missing", what,
					 keys[i]);
	if (json_object_size(obj) != n)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s has an unknown field", what);
	return L3AF_OK;
}

enum l3af_status signer_json_uint(const json_t *obj, const char *key,
				  const char *what, uint64_t *out,
				  struct l3af_err *err)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!json_is_integer(v))
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.%s is not an integer", what, key);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > SIGNER_JSON_UINT_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.%s is outside 0..2^53-1",
				 what, key);
	*out = (uint64_t)i;
	return L3AF_OK;
}

enum l3af_status signer_json_str(const json_t *obj, const char *key,
				 const char *what, char *out, size_t cap,
				 struct l3af_err *err)
{
	const json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!s)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.%s is not a string", what, key);
	if (n >= cap || strlen(s) != n)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.%s is too long (%zu bytes)",
				 what, key, n);
	memcpy(out, s, n + 1);
	return L3AF_OK;
}

enum l3af_status signer_json_hex32(const json_t *v, const char *what,
				   uint8_t out[static 32], struct l3af_err *err)
{
	if (!json_is_string(v) || json_string_length(v) != 64 ||
	    l3af_hex_decode(out, 32, json_string_value(v), 64) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s is not 64 lowercase hex", what);
	return L3AF_OK;
}

/* --- public keys ---------------------------------------------------------- */

static const char *const key_fields[] = { "alg", "id", "spki" };

static json_t *pubkey_json(const struct signer_pubkey *k)
{
	char b64[((SIGNER_SPKI_MAX + 2) / 3) * 4 + 1];

	if (l3af_base64_encode(b64, sizeof(b64), k->spki, k->spki_len) != L3AF_OK)
		return NULL;
	return json_pack("{s:s, s:s, s:s}", "alg", signer_alg_name(k->alg), "id", k->id,
			 "spki", b64);
}

static enum l3af_status pubkey_from_json(const json_t *v, const char *what,
					 struct signer_pubkey *out,
					 struct l3af_err *err)
{
	const json_t *spki = json_object_get(v, "spki");
	const char *alg = json_string_value(json_object_get(v, "alg"));
	const char *id = json_string_value(json_object_get(v, "id"));
	uint8_t der[SIGNER_SPKI_MAX];
	size_t der_len = 0;
	enum l3af_status rc = signer_json_fields(v, key_fields, 3, what, err);

	if (rc != L3AF_OK)
		return rc;
	if (!json_is_string(spki) ||
	    json_string_length(spki) > ((SIGNER_SPKI_MAX + 2) / 3) * 4 ||
	    l3af_base64_decode(der, sizeof(der), &der_len, json_string_value(spki),
			       json_string_length(spki)) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.spki is not strict base64 "
				 "of at most %d bytes", what, SIGNER_SPKI_MAX);
	rc = signer_pubkey_from_spki(der, der_len, out, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "signer: %s.spki", what);
		return rc;
	}
	if (!alg || strcmp(alg, signer_alg_name(out->alg)) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s.alg is not that of its spki (%s)",
				 what, signer_alg_name(out->alg));
	if (!id || strcmp(id, out->id) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: %s.id is not the SHA-256 of its spki", what);
	return L3AF_OK;
}

static int pubkey_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct signer_pubkey *)a)->id,
		      ((const struct signer_pubkey *)b)->id);
}

enum l3af_status signer_keys_check(struct signer_pubkey *keys, size_t n,
				   unsigned threshold, bool sort, const char *what,
				   struct l3af_err *err)
{
	struct signer_pubkey re;

	if (n == 0 || n > SIGNER_SET_KEYS_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s has %zu keys (1 to %u)", what,
				 n, SIGNER_SET_KEYS_MAX);
	for (size_t i = 0; i < n; i++) {
		/* A key this module made or parsed re-parses to itself. */
		if (keys[i].spki_len > SIGNER_SPKI_MAX ||
		    signer_pubkey_from_spki(keys[i].spki, keys[i].spki_len, &re, NULL) != L3AF_OK ||
		    re.alg != keys[i].alg || strcmp(re.id, keys[i].id) != 0)
			return l3af_fail(err, L3AF_E_INVALID, "signer: %s key %zu is not a valid "
					 "public key", what, i);
	}
	if (sort)
		qsort(keys, n, sizeof(keys[0]), pubkey_id_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1].id, keys[i].id) >= 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: %s keys are not sorted by id, or an id repeats", what);
	if (threshold == 0 || threshold > n)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s threshold %u is not in 1..%zu",
				 what, threshold, n);
	return L3AF_OK;
}

json_t *signer_keys_json(const struct signer_pubkey *keys, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, pubkey_json(&keys[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	return arr;
}

enum l3af_status signer_keys_from_json(const json_t *arr, const char *what,
				       struct signer_pubkey keys[static SIGNER_SET_KEYS_MAX],
				       size_t *n, struct l3af_err *err)
{
	char sub[64];

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > SIGNER_SET_KEYS_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s is not an array of 1 to %u keys",
				 what, SIGNER_SET_KEYS_MAX);
	*n = json_array_size(arr);
	for (size_t i = 0; i < *n; i++) {
		enum l3af_status rc;

		snprintf(sub, sizeof(sub), "%s[%zu]", what, i);
		rc = pubkey_from_json(json_array_get(arr, i), sub, &keys[i], err);
		if (rc != L3AF_OK)
			return rc;
	}
	return L3AF_OK;
}

/* --- key sets: keys, namespaces, publisher, threshold, version ------------ */

enum l3af_status signer_keyset_core_check(struct signer_keyset *ks, bool sort,
					  struct l3af_err *err)
{
	enum l3af_status rc = signer_publisher_check(ks->publisher, err);

	if (rc == L3AF_OK && (ks->version == 0 || ks->version > SIGNER_JSON_UINT_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: key set version is not in 1..2^53-1");
	if (rc == L3AF_OK && (ks->nnamespaces == 0 || ks->nnamespaces > SIGNER_NAMESPACES_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: key set has %zu namespaces (1 to %u)",
			       ks->nnamespaces, SIGNER_NAMESPACES_MAX);
	for (size_t i = 0; rc == L3AF_OK && i < ks->nnamespaces; i++) {
		if (!memchr(ks->namespaces[i], '\0', sizeof(ks->namespaces[i])))
			rc = l3af_fail(err, L3AF_E_INVALID, "signer: namespace %zu too long", i);
		if (rc == L3AF_OK)
			rc = signer_namespace_check(ks->namespaces[i], err);
		for (size_t j = 0; rc == L3AF_OK && j < i; j++)
			if (strcmp(ks->namespaces[i], ks->namespaces[j]) == 0)
				rc = l3af_fail(err, L3AF_E_INVALID,
					       "signer: namespace %zu repeats namespace %zu", i, j);
	}
	if (rc == L3AF_OK)
		rc = signer_keys_check(ks->keys, ks->nkeys, ks->threshold, sort, "key set", err);
	return rc;
}

json_t *signer_keyset_core_json(const struct signer_keyset *ks)
{
	json_t *ns = json_array(), *obj = NULL;

	for (size_t i = 0; ns && i < ks->nnamespaces; i++)
		if (json_array_append_new(ns, json_string(ks->namespaces[i])) != 0) {
			json_decref(ns);
			return NULL;
		}
	if (ns)
		obj = json_pack("{s:o, s:O, s:s, s:I, s:I}", "keys",
				signer_keys_json(ks->keys, ks->nkeys), "namespaces", ns,
				"publisher", ks->publisher, "threshold", (json_int_t)ks->threshold,
				"version", (json_int_t)ks->version);
	json_decref(ns);
	return obj;
}

enum l3af_status signer_keyset_core_parse(const json_t *obj, const char *what,
					  struct signer_keyset *ks,
					  struct l3af_err *err)
{
	const json_t *ns = json_object_get(obj, "namespaces");
	char sub[64];
	uint64_t threshold = 0;
	enum l3af_status rc;

	snprintf(sub, sizeof(sub), "%s.keys", what);
	rc = signer_json_str(obj, "publisher", what, ks->publisher, sizeof(ks->publisher), err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(obj, "version", what, &ks->version, err);
	if (rc == L3AF_OK)
		rc = signer_json_uint(obj, "threshold", what, &threshold, err);
	if (rc == L3AF_OK && threshold > SIGNER_SET_KEYS_MAX)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: %s.threshold above %u", what,
			       SIGNER_SET_KEYS_MAX);
	ks->threshold = (unsigned)threshold;
	if (rc == L3AF_OK && (!json_is_array(ns) || json_array_size(ns) == 0 ||
			      json_array_size(ns) > SIGNER_NAMESPACES_MAX))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: %s.namespaces is not an array of 1 to %u patterns", what,
			       SIGNER_NAMESPACES_MAX);
	if (rc == L3AF_OK)
		ks->nnamespaces = json_array_size(ns);
	for (size_t i = 0; rc == L3AF_OK && i < ks->nnamespaces; i++) {
		const json_t *p = json_array_get(ns, i);

		if (!json_is_string(p) || json_string_length(p) > SIGNER_PKG_NAME_MAX ||
		    strlen(json_string_value(p)) != json_string_length(p))
			rc = l3af_fail(err, L3AF_E_INVALID,
				       "signer: %s.namespaces[%zu] is not a string of at most %u bytes",
				       what, i, SIGNER_PKG_NAME_MAX);
		else
			memcpy(ks->namespaces[i], json_string_value(p), json_string_length(p) + 1);
	}
	if (rc == L3AF_OK)
		rc = signer_keys_from_json(json_object_get(obj, "keys"), sub, ks->keys,
					   &ks->nkeys, err);
	if (rc == L3AF_OK)
		rc = signer_keyset_core_check(ks, false, err);
	return rc;
}

/* --- DSSE envelopes kept in entries ---------------------------------------- */

enum l3af_status signer_envelope_shape(const json_t *v, const char *what,
				       struct l3af_err *err)
{
	static const char *const fields[] = { "payload", "payloadType", "signatures" };
	const json_t *sigs = json_object_get(v, "signatures");
	enum l3af_status rc = signer_json_fields(v, fields, 3, what, err);

	if (rc != L3AF_OK)
		return rc;
	if (!json_is_string(json_object_get(v, "payload")) ||
	    !json_is_string(json_object_get(v, "payloadType")) || !json_is_array(sigs) ||
	    json_array_size(sigs) == 0 || json_array_size(sigs) > SIGNER_DSSE_SIGS_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: %s is not a DSSE envelope (payload, payloadType, "
				 "1 to %u signatures)", what, SIGNER_DSSE_SIGS_MAX);
	return L3AF_OK;
}
