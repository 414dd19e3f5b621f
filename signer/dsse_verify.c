/*
 * dsse_verify.c - parse and verify DSSE v1 JSON envelopes
 * (secure-systems-lab/dsse envelope.md "Parsing rules", protocol.md "To
 * verify" and "Multi-signature Verification"), against a set of trusted
 * publisher keys with a threshold.
 *
 * Order: arguments, size (before any parsing), JSON (no duplicate keys),
 * fields (no unknown ones), base64 of payload and of every signature, then
 * the signature checks. An envelope that is malformed anywhere is refused
 * whole (L3AF_E_INVALID) before any crypto runs. Signatures that do not
 * verify are skipped, as protocol.md says; only the count of distinct
 * trusted keys that verified decides (L3AF_E_VERIFY below the threshold).
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#define SIG_B64_MAX 1024 /* longest signature text read (any algorithm) */
#define SIG_BIN_MAX 768  /* room for its decoded bytes */

struct envelope {
	json_t *root;
	const char *type; /* borrowed from root */
	size_t type_len;
	uint8_t *payload; /* l3af_malloc, NUL after payload_len bytes */
	size_t payload_len;
	json_t *sigs;     /* borrowed from root */
};

static const char *const envelope_fields[] = { "payload", "payloadType", "signatures" };
static const char *const sig_fields[] = { "keyid", "sig" };

/* Every key of obj must be in list. Names are not echoed: they are the
 * sender's bytes. */
static enum l3af_status fields_check(json_t *obj, const char *const *list,
				     size_t n, const char *what,
				     struct l3af_err *err)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(obj, k, v) {
		for (i = 0; i < n && strcmp(k, list[i]) != 0; i++)
			;
		if (i == n)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: dsse: %s has an unknown field "
					 "(refused: fields outside the PAE are not signed)", what);
	}
	return L3AF_OK;
}

/* protocol.md: "Either standard or URL-safe base64 encodings are allowed.
 * Signers may use either, and verifiers MUST accept either." Each variant is
 * strict: no white space, no stray bits, one alphabet. */
static int b64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
		      size_t *out_len)
{
	static const int variants[] = {
		sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
		sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	};

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (sodium_base642bin(out, cap, s, len, NULL, out_len, NULL,
				      variants[i]) == 0)
			return 1;
	return 0;
}

static enum l3af_status type_get(struct envelope *env, struct l3af_err *err)
{
	const json_t *v = json_object_get(env->root, "payloadType");

	if (!json_is_string(v))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: payloadType missing or not a string");
	env->type = json_string_value(v);
	env->type_len = json_string_length(v);
	return L3AF_OK;
}

static enum l3af_status payload_get(struct envelope *env, struct l3af_err *err)
{
	const json_t *v = json_object_get(env->root, "payload");
	size_t len = json_string_length(v), cap = len / 4 * 3 + 3;

	if (!json_is_string(v))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: payload missing or not a string");
	if (!(env->payload = l3af_malloc(cap + 1)))
		return l3af_fail(err, L3AF_E_NOMEM, "signer: dsse: payload: out of memory");
	if (!b64_decode(json_string_value(v), len, env->payload, cap, &env->payload_len))
		return l3af_fail(err, L3AF_E_INVALID, "signer: dsse: payload is not base64");
	env->payload[env->payload_len] = '\0';
	return L3AF_OK;
}

static enum l3af_status sig_check(json_t *s, size_t i, struct l3af_err *err)
{
	const json_t *keyid = json_object_get(s, "keyid");
	const json_t *sig = json_object_get(s, "sig");

	if (!json_is_object(s))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: signature %zu is not an object", i);
	if (fields_check(s, sig_fields, 2, "a signature", err) != L3AF_OK)
		return L3AF_E_INVALID;
	if (keyid && !json_is_string(keyid))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: signature %zu: keyid is not a string", i);
	if (!json_is_string(sig) || json_string_length(sig) > SIG_B64_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: signature %zu: sig missing, not a string "
				 "or over %d characters", i, SIG_B64_MAX);
	return L3AF_OK;
}

static enum l3af_status sigs_get(struct envelope *env, struct l3af_err *err)
{
	size_t n;
	enum l3af_status rc = L3AF_OK;

	env->sigs = json_object_get(env->root, "signatures");
	n = json_array_size(env->sigs);
	if (!json_is_array(env->sigs) || n == 0 || n > SIGNER_DSSE_SIGS_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: signatures must be an array of 1 to %d",
				 SIGNER_DSSE_SIGS_MAX);
	for (size_t i = 0; i < n && rc == L3AF_OK; i++)
		rc = sig_check(json_array_get(env->sigs, i), i, err);
	return rc;
}

/* The checks on a loaded envelope object (env->root set). */
static enum l3af_status envelope_check(struct envelope *env, struct l3af_err *err)
{
	enum l3af_status rc = fields_check(env->root, envelope_fields, 3, "the envelope", err);

	if (rc == L3AF_OK)
		rc = type_get(env, err);
	if (rc == L3AF_OK)
		rc = payload_get(env, err);
	if (rc == L3AF_OK)
		rc = sigs_get(env, err);
	return rc;
}

static enum l3af_status envelope_parse(const char *text, size_t len,
				       struct envelope *env,
				       struct l3af_err *err)
{
	enum l3af_status rc = signer_json_load(text, len, "dsse envelope",
					       &env->root, err);

	if (rc == L3AF_OK)
		rc = envelope_check(env, err);
	return rc;
}

/* Trusted keys: 1..64 of them, distinct IDs (else one signature would count
 * twice toward the threshold), and a threshold they can reach. */
static enum l3af_status keys_check(const struct signer_pubkey *keys,
				   size_t nkeys, unsigned threshold,
				   struct l3af_err *err)
{
	if (!keys || nkeys == 0 || nkeys > SIGNER_DSSE_KEYS_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: %zu trusted keys (1 to %d allowed)",
				 keys ? nkeys : 0, SIGNER_DSSE_KEYS_MAX);
	if (threshold == 0 || threshold > nkeys)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: threshold %u with %zu keys", threshold, nkeys);
	for (size_t i = 0; i < nkeys; i++)
		for (size_t j = i + 1; j < nkeys; j++)
			if (strcmp(keys[i].id, keys[j].id) == 0)
				return l3af_fail(err, L3AF_E_INVALID,
						 "signer: dsse: trusted key %.16s given twice",
						 keys[i].id);
	return L3AF_OK;
}

/* Check one signature entry against the keys its keyid selects (all if the
 * keyid is empty or absent) that have not verified yet. */
static enum l3af_status verify_one(const json_t *s, size_t idx,
				   const uint8_t *pae, size_t pae_len,
				   const struct signer_pubkey *keys, size_t nkeys,
				   uint64_t *mask, unsigned *count,
				   struct l3af_err *err)
{
	const char *keyid = json_string_value(json_object_get(s, "keyid"));
	const json_t *sig64 = json_object_get(s, "sig");
	uint8_t sig[SIG_BIN_MAX];
	size_t sig_len = 0;

	if (!b64_decode(json_string_value(sig64), json_string_length(sig64), sig,
			sizeof(sig), &sig_len))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: dsse: signature %zu: sig is not base64", idx);
	for (size_t j = 0; j < nkeys; j++) {
		struct l3af_err local = { .code = L3AF_OK };
		enum l3af_status rc;

		if ((*mask >> j & 1) || (keyid && keyid[0] && strcmp(keyid, keys[j].id) != 0))
			continue;
		rc = signer_pubkey_verify(&keys[j], pae, pae_len, sig, sig_len, &local);
		if (rc == L3AF_OK) {
			*mask |= UINT64_C(1) << j;
			(*count)++;
		} else if (rc != L3AF_E_VERIFY) {
			return l3af_fail(err, rc, "%s", local.msg);
		}
	}
	return L3AF_OK;
}

static enum l3af_status result_fill(struct envelope *env, uint64_t mask,
				    unsigned count, struct signer_dsse_result *out,
				    struct l3af_err *err)
{
	char *type = l3af_malloc(env->type_len + 1);

	if (!type)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: dsse: out of memory");
	memcpy(type, env->type, env->type_len + 1);
	out->payload_type = type;
	out->payload = env->payload;
	out->payload_len = env->payload_len;
	out->sigs = (unsigned)json_array_size(env->sigs);
	out->verified = count;
	out->verified_mask = mask;
	env->payload = NULL; /* now the caller's */
	return L3AF_OK;
}

/* The signature checks of a parsed envelope (the payload moves to out). */
static enum l3af_status verify_parsed(struct envelope *envp,
				      const struct signer_pubkey *keys,
				      size_t nkeys, unsigned threshold,
				      struct signer_dsse_result *out,
				      struct l3af_err *err)
{
	struct envelope env = *envp;
	uint8_t *pae = NULL;
	size_t pae_len = 0;
	uint64_t mask = 0;
	unsigned count = 0;
	enum l3af_status rc = signer_dsse_pae(env.type, env.type_len, env.payload,
				     env.payload_len, &pae, &pae_len, err);
	for (size_t i = 0; rc == L3AF_OK && i < json_array_size(env.sigs); i++)
		rc = verify_one(json_array_get(env.sigs, i), i, pae, pae_len, keys,
				nkeys, &mask, &count, err);
	if (rc == L3AF_OK && count < threshold)
		rc = l3af_fail(err, L3AF_E_VERIFY,
			       "signer: dsse: %u trusted keys verified, %u required "
			       "(%zu signatures)", count, threshold, json_array_size(env.sigs));
	if (rc == L3AF_OK && out)
		rc = result_fill(&env, mask, count, out, err);
	l3af_free(pae);
	envp->payload = env.payload; /* NULL if it moved to out */
	return rc;
}

enum l3af_status signer_dsse_verify(const char *envelope, size_t len,
				    const struct signer_pubkey *keys,
				    size_t nkeys, unsigned threshold,
				    struct signer_dsse_result *out,
				    struct l3af_err *err)
{
	struct envelope env = { .root = NULL };
	enum l3af_status rc = keys_check(keys, nkeys, threshold, err);

	if (rc == L3AF_OK)
		rc = envelope_parse(envelope, len, &env, err);
	if (rc == L3AF_OK)
		rc = verify_parsed(&env, keys, nkeys, threshold, out, err);
	l3af_free(env.payload);
	json_decref(env.root);
	return rc;
}

enum l3af_status signer_dsse_verify_root(struct json_t *root,
					 const struct signer_pubkey *keys,
					 size_t nkeys, unsigned threshold,
					 struct signer_dsse_result *out,
					 struct l3af_err *err)
{
	struct envelope env = { .root = root };
	enum l3af_status rc = keys_check(keys, nkeys, threshold, err);

	if (rc == L3AF_OK && !json_is_object(root))
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: dsse envelope: not a JSON object");
	if (rc == L3AF_OK)
		rc = envelope_check(&env, err);
	if (rc == L3AF_OK)
		rc = verify_parsed(&env, keys, nkeys, threshold, out, err);
	l3af_free(env.payload);
	return rc;
}


void signer_dsse_result_clear(struct signer_dsse_result *res)
{
	if (!res)
		return;
	l3af_free(res->payload_type);
	l3af_free(res->payload);
	memset(res, 0, sizeof(*res));
}
