/*
 * dsse.c - DSSE v1 envelopes (github.com/secure-systems-lab/dsse):
 * protocol.md "Signature Definition" (PAE), "Protocol" and "Multi-signature
 * Verification"; envelope.md "Standard JSON envelope" and "Parsing rules".
 *
 *   {"payload":"<base64 body>","payloadType":"<type>",
 *    "signatures":[{"keyid":"<hex SHA-256 of SPKI>","sig":"<base64 sig>"}]}
 *
 * Decisions (docs/signer.md, "DSSE envelopes"):
 * - Unknown fields are refused, at the top level and in signature objects,
 *   although envelope.md says to ignore them: nothing outside the PAE is
 *   signed, and the log stores the envelope as it came, so it would record
 *   bytes that no publisher signed.
 * - Base64 on input: standard or URL-safe alphabet, padded or not, each
 *   strict (no white space, no stray bits, no mixed alphabets), as
 *   protocol.md requires verifiers to accept either. Output is standard with
 *   padding.
 * - keyid is a hint (protocol.md): a non-empty keyid selects the one trusted
 *   key with that ID; an empty or absent one tries every trusted key.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* --- shared JSON loading ------------------------------------------------ */

enum l3af_status signer_json_load(const char *text, size_t len,
				  const char *what, json_t **out,
				  struct l3af_err *err)
{
	json_error_t jerr;
	json_t *v;

	if (!text)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s: no text", what);
	if (len > SIGNER_DSSE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: %s: %zu bytes, limit %u",
				 what, len, SIGNER_DSSE_MAX);
	/* jansson 2.14 also stops at nesting depth 2048 (JSON_PARSER_MAX_DEPTH)
	 * and refuses "\u0000" and trailing text. */
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return l3af_fail(err, json_error_code(&jerr) == json_error_out_of_memory
				 ? L3AF_E_NOMEM : L3AF_E_INVALID,
				 "signer: %s: JSON line %d column %d: %s",
				 what, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(v)) {
		json_decref(v);
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s: not a JSON object", what);
	}
	*out = v;
	return L3AF_OK;
}

/* --- PAE ------------------------------------------------------------------ */

enum l3af_status signer_dsse_pae(const char *type, size_t type_len,
				 const uint8_t *body, size_t body_len,
				 uint8_t **out, size_t *out_len,
				 struct l3af_err *err)
{
	char l1[32], l2[32];
	int n1, n2;
	uint8_t *buf, *p;

	if (!type || (!body && body_len > 0) || !out || !out_len)
		return l3af_fail(err, L3AF_E_INVALID, "signer: dsse: PAE: missing argument");
	if (type_len > SIGNER_DSSE_MAX || body_len > SIGNER_DSSE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: dsse: PAE: over %u bytes",
				 SIGNER_DSSE_MAX);
	/* LEN() is ASCII decimal without leading zeros: exactly %zu. */
	n1 = snprintf(l1, sizeof(l1), "DSSEv1 %zu ", type_len);
	n2 = snprintf(l2, sizeof(l2), " %zu ", body_len);
	buf = l3af_malloc((size_t)n1 + type_len + (size_t)n2 + body_len + 1);
	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: dsse: PAE: out of memory");
	p = buf;
	memcpy(p, l1, (size_t)n1), p += n1;
	memcpy(p, type, type_len), p += type_len;
	memcpy(p, l2, (size_t)n2), p += n2;
	if (body_len > 0)
		memcpy(p, body, body_len), p += body_len;
	*out = buf;
	*out_len = (size_t)(p - buf);
	return L3AF_OK;
}

/* --- signing ------------------------------------------------------------ */

/* Compact JSON with sorted keys into a new l3af_malloc'd string. */
enum l3af_status signer_json_dump(const struct json_t *v, size_t cap,
				  const char *what, char **out,
				  struct l3af_err *err)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *s;

	if (n == 0)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: %s: JSON encoding failed", what);
	if (n > cap)
		return l3af_fail(err, L3AF_E_LIMIT, "signer: %s: %zu bytes, limit %zu",
				 what, n, cap);
	if (!(s = l3af_malloc(n + 1)))
		return l3af_fail(err, L3AF_E_NOMEM, "signer: %s: out of memory", what);
	if (json_dumpb(v, s, n, flags) != n) {
		l3af_free(s);
		return l3af_fail(err, L3AF_E_INTERNAL, "signer: %s: JSON size changed", what);
	}
	s[n] = '\0';
	*out = s;
	return L3AF_OK;
}

/* Base64 of bin in a new l3af_malloc'd string, or NULL. */
static char *b64_new(const uint8_t *bin, size_t len)
{
	size_t cap = l3af_base64_len(len) + 1;
	char *s = l3af_malloc(cap);

	if (s && l3af_base64_encode(s, cap, bin, len) != L3AF_OK) {
		l3af_free(s);
		s = NULL;
	}
	return s;
}

static enum l3af_status envelope_build(const struct signer_privkey *key,
				       const char *type, const uint8_t *payload,
				       size_t payload_len, const uint8_t *sig,
				       size_t sig_len, char **out,
				       struct l3af_err *err)
{
	char *body = b64_new(payload, payload_len);
	char *sig64 = b64_new(sig, sig_len);
	json_t *root = NULL;
	enum l3af_status rc;

	if (body && sig64)
		root = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payload", body,
				 "payloadType", type, "signatures",
				 "keyid", signer_privkey_pubkey(key)->id, "sig", sig64);
	if (!root)
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: dsse: building the envelope: out of memory");
	else
		rc = signer_json_dump(root, SIGNER_DSSE_MAX, "dsse envelope", out, err);
	json_decref(root);
	l3af_free(body);
	l3af_free(sig64);
	return rc;
}

/* A payload type we sign: non-empty strict UTF-8 (it goes into JSON). */
static enum l3af_status type_check(const char *type, struct l3af_err *err)
{
	size_t len = strlen(type), i = 0, n;
	uint32_t cp;

	if (len == 0 || len > SIGNER_DSSE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: dsse: payloadType is empty or too long");
	for (; i < len; i += n)
		if ((n = signer_utf8_next((const uint8_t *)type + i, len - i, &cp)) == 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: dsse: payloadType is not UTF-8");
	return L3AF_OK;
}

enum l3af_status signer_dsse_sign(const struct signer_privkey *key,
				  const char *payload_type,
				  const uint8_t *payload, size_t payload_len,
				  char **envelope, struct l3af_err *err)
{
	uint8_t *pae = NULL;
	uint8_t sig[SIGNER_PUBSIG_MAX];
	size_t pae_len = 0, sig_len = 0;
	enum l3af_status rc;

	if (!key || !payload_type || (!payload && payload_len > 0) || !envelope)
		return l3af_fail(err, L3AF_E_INVALID, "signer: dsse: sign: missing argument");
	/* The base64 payload alone must fit in an envelope. */
	if (payload_len > SIGNER_DSSE_MAX / 4 * 3)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: dsse: payload of %zu bytes cannot fit in %u",
				 payload_len, SIGNER_DSSE_MAX);
	rc = type_check(payload_type, err);
	if (rc == L3AF_OK)
		rc = signer_dsse_pae(payload_type, strlen(payload_type), payload,
				     payload_len, &pae, &pae_len, err);
	if (rc == L3AF_OK)
		rc = signer_privkey_sign(key, pae, pae_len, sig, &sig_len, err);
	if (rc == L3AF_OK)
		rc = envelope_build(key, payload_type, payload, payload_len, sig,
				    sig_len, envelope, err);
	l3af_free(pae);
	return rc;
}
