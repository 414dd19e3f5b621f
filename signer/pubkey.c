/*
 * pubkey.c - publisher public keys: SubjectPublicKeyInfo (RFC 5280 section
 * 4.1.2.7; RFC 8410 for Ed25519, RFC 5480 for P-256), PEM text (RFC 7468
 * section 13 "PUBLIC KEY"), key IDs, and signature checks.
 *
 * Key ID = lowercase hex SHA-256 of the canonical DER SPKI, the same rule
 * for both algorithms. Only canonical SPKIs are accepted (fixed length per
 * algorithm, and the parsed key must re-encode to the input bytes), so one
 * key has exactly one ID: a compressed P-256 point or explicit curve
 * parameters are refused.
 *
 * ECDSA signatures must be canonical DER (re-encode to themselves, no
 * trailing bytes). High-S values are accepted, as OpenSSL does: a third party
 * can turn one valid signature into another, which does not matter for DSSE
 * (see docs/signer.md, "Signature malleability").
 */
#include "signer.h"
#include "signer_internal.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PEM_PUB_BEGIN "-----BEGIN PUBLIC KEY-----\n"
#define PEM_PUB_END "-----END PUBLIC KEY-----\n"
#define PEM_PUB_TEXT_MAX 4096     /* cap on PEM text handed to OpenSSL */
#define ED25519_SPKI_BYTES 44     /* RFC 8410 section 4: prefix + 32 */
#define ED25519_SPKI_PREFIX 12
/* The only canonical Ed25519 SPKI prefix (RFC 8410 section 4 and its
 * Appendix A example): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING
 * (33 bytes, 0 unused bits) }. */
static const uint8_t ed25519_spki_prefix[ED25519_SPKI_PREFIX] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};
#define P256_SPKI_BYTES 91        /* RFC 5480, uncompressed point */

const char *signer_alg_name(enum signer_alg alg)
{
	switch (alg) {
	case SIGNER_ALG_ED25519:
		return "ed25519";
	case SIGNER_ALG_ECDSA_P256:
		return "ecdsa-p256";
	}
	return "unknown";
}

enum l3af_status signer_ossl_fail(struct l3af_err *err, enum l3af_status code,
				  const char *what)
{
	char why[256] = "no OpenSSL error recorded";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	ERR_clear_error();
	return l3af_fail(err, code, "%s: %s", what, why);
}

/* Which of our algorithms pkey is, with the SPKI length it must have. */
static enum l3af_status pkey_alg(const EVP_PKEY *pkey, enum signer_alg *alg,
				 size_t *spki_len, struct l3af_err *err)
{
	char group[64] = "";

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg = SIGNER_ALG_ED25519;
		*spki_len = ED25519_SPKI_BYTES;
		return L3AF_OK;
	}
	if (EVP_PKEY_is_a(pkey, "EC") &&
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) == 1 &&
	    strcmp(group, "prime256v1") == 0) {
		*alg = SIGNER_ALG_ECDSA_P256;
		*spki_len = P256_SPKI_BYTES;
		return L3AF_OK;
	}
	ERR_clear_error();
	return l3af_fail(err, L3AF_E_INVALID,
			 "signer: public key: algorithm %s%s%s not supported "
			 "(Ed25519, ECDSA P-256 named curve)",
			 EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?",
			 group[0] ? " " : "", group);
}

/* 0 if pkey re-encodes to exactly der[0 .. len). */
static int spki_differs(const EVP_PKEY *pkey, const uint8_t *der, size_t len)
{
	unsigned char *re = NULL;
	int n = i2d_PUBKEY(pkey, &re);
	int differs = n < 0 || (size_t)n != len || memcmp(re, der, len) != 0;

	OPENSSL_free(re);
	return differs;
}

static void keyid_compute(const uint8_t *spki, size_t len,
			  char id[static SIGNER_KEYID_BYTES])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, spki, len);
	l3af_hex_encode(id, h, sizeof(h));
}

enum l3af_status signer_pubkey_from_spki(const uint8_t *der, size_t len,
					 struct signer_pubkey *out,
					 struct l3af_err *err)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = NULL;
	struct signer_pubkey pub = { .spki_len = 0 };
	size_t want = 0;
	enum l3af_status rc;

	if (!der || !out || len == 0 || len > SIGNER_SPKI_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key: SPKI of %zu bytes (1 to %d allowed)",
				 der ? len : 0, SIGNER_SPKI_MAX);
	if (len == ED25519_SPKI_BYTES &&
	    memcmp(der, ed25519_spki_prefix, ED25519_SPKI_PREFIX) == 0) {
		/* The canonical Ed25519 form is these exact bytes, which
		 * OpenSSL's decoder accepts and re-encodes unchanged; OpenSSL
		 * 3.0's d2i_PUBKEY costs 54 us a key here against 0.25 us for
		 * this path, and it dominated an agent's bundle check. */
		pub.alg = SIGNER_ALG_ED25519;
		rc = L3AF_OK;
		goto copy;
	}
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (!pkey) {
		rc = signer_ossl_fail(err, L3AF_E_INVALID,
				      "signer: public key: SPKI does not parse");
		goto out;
	}
	rc = pkey_alg(pkey, &pub.alg, &want, err);
	if (rc == L3AF_OK && (p != der + len || len != want ||
			      spki_differs(pkey, der, len)))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: public key: %s SPKI is not in canonical form",
			       signer_alg_name(pub.alg));
	if (rc != L3AF_OK)
		goto out;
copy:
	memcpy(pub.spki, der, len);
	pub.spki_len = len;
	keyid_compute(pub.spki, len, pub.id);
	*out = pub;
out:
	EVP_PKEY_free(pkey);
	return rc;
}

enum l3af_status signer_pubkey_from_evp(const struct evp_pkey_st *pkey,
					struct signer_pubkey *out,
					struct l3af_err *err)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	enum l3af_status rc;

	if (n <= 0)
		return signer_ossl_fail(err, L3AF_E_CRYPTO,
					"signer: public key: i2d_PUBKEY");
	rc = signer_pubkey_from_spki(der, (size_t)n, out, err);
	OPENSSL_free(der);
	return rc;
}

/* Only '\n' and '\r' may follow the PEM block in bio. */
static int pem_rest_clean(BIO *bio)
{
	char *rest = NULL;
	long n = BIO_get_mem_data(bio, &rest);

	for (long i = 0; i < n; i++)
		if (rest[i] != '\n' && rest[i] != '\r')
			return 0;
	return 1;
}

static enum l3af_status pem_check(const char *name, const char *header,
				  BIO *bio, struct l3af_err *err)
{
	if (strcmp(name, "PUBLIC KEY") != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key PEM: label is not PUBLIC KEY");
	if (header[0] != '\0')
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key PEM: has headers");
	if (!pem_rest_clean(bio))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key PEM: text after the END line");
	return L3AF_OK;
}

enum l3af_status signer_pubkey_parse_pem(const char *text, size_t len,
					 struct signer_pubkey *out,
					 struct l3af_err *err)
{
	static const char begin[] = PEM_PUB_BEGIN;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	BIO *bio = NULL;
	enum l3af_status rc = L3AF_OK;

	if (!text || len < sizeof(begin) - 1 || len > PEM_PUB_TEXT_MAX ||
	    memcmp(text, begin, sizeof(begin) - 1) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key PEM: does not start with "
				 "-----BEGIN PUBLIC KEY----- (or over %d bytes)",
				 PEM_PUB_TEXT_MAX);
	bio = BIO_new_mem_buf(text, (int)len);
	if (!bio)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: public key PEM: out of memory");
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1)
		rc = signer_ossl_fail(err, L3AF_E_INVALID,
				      "signer: public key PEM: does not parse");
	if (rc == L3AF_OK)
		rc = pem_check(name, header, bio, err);
	if (rc == L3AF_OK)
		rc = signer_pubkey_from_spki(data, (size_t)dlen, out, err);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return rc;
}

enum l3af_status signer_pubkey_format_pem(const struct signer_pubkey *pub,
					  char buf[static SIGNER_PUBKEY_PEM_MAX],
					  struct l3af_err *err)
{
	char b64[(SIGNER_SPKI_MAX + 2) / 3 * 4 + 1];
	size_t n, pos;

	if (!pub || pub->spki_len == 0 || pub->spki_len > SIGNER_SPKI_MAX ||
	    l3af_base64_encode(b64, sizeof(b64), pub->spki, pub->spki_len) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: public key: no SPKI to format");
	/* RFC 7468 section 2: base64 lines of 64 characters. */
	n = strlen(b64);
	pos = (size_t)snprintf(buf, SIGNER_PUBKEY_PEM_MAX, "%s", PEM_PUB_BEGIN);
	for (size_t i = 0; i < n; i += 64)
		pos += (size_t)snprintf(buf + pos, SIGNER_PUBKEY_PEM_MAX - pos,
					"%.64s\n", b64 + i);
	snprintf(buf + pos, SIGNER_PUBKEY_PEM_MAX - pos, "%s", PEM_PUB_END);
	return L3AF_OK;
}

/* --- signature checks --------------------------------------------------- */

static enum l3af_status verify_ed25519(const struct signer_pubkey *pub,
				       const uint8_t *msg, size_t len,
				       const uint8_t *sig, size_t sig_len,
				       struct l3af_err *err)
{
	enum l3af_status rc = signer_sodium_ready(err);

	if (rc != L3AF_OK)
		return rc;
	if (sig_len != crypto_sign_BYTES)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: ed25519 key %.16s: signature is %zu bytes, want 64",
				 pub->id, sig_len);
	if (crypto_sign_verify_detached(sig, msg, len,
					pub->spki + ED25519_SPKI_PREFIX) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: ed25519 key %.16s: signature does not verify", pub->id);
	return L3AF_OK;
}

/* The signature must be one DER Ecdsa-Sig-Value (RFC 3279 section 2.2.3)
 * that re-encodes to itself: no BER forms, no leading zeros, nothing after. */
static enum l3af_status ecdsa_der_check(const struct signer_pubkey *pub,
					const uint8_t *sig, size_t sig_len,
					struct l3af_err *err)
{
	const unsigned char *p = sig;
	unsigned char *der = NULL;
	ECDSA_SIG *s = NULL;
	int n = -1, ok;

	if (sig_len > 0 && sig_len <= SIGNER_PUBSIG_MAX)
		s = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
	if (s)
		n = i2d_ECDSA_SIG(s, &der);
	ok = s && p == sig + sig_len && n == (int)sig_len &&
	     memcmp(der, sig, sig_len) == 0;
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	ERR_clear_error();
	if (!ok)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: ecdsa key %.16s: signature is not canonical DER",
				 pub->id);
	return L3AF_OK;
}

static enum l3af_status verify_ecdsa(const struct signer_pubkey *pub,
				     const uint8_t *msg, size_t len,
				     const uint8_t *sig, size_t sig_len,
				     struct l3af_err *err)
{
	const unsigned char *p = pub->spki;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	enum l3af_status rc = ecdsa_der_check(pub, sig, sig_len, err);
	int r;

	if (rc != L3AF_OK)
		return rc;
	pkey = d2i_PUBKEY(NULL, &p, (long)pub->spki_len);
	ctx = EVP_MD_CTX_new();
	if (!pkey || !ctx ||
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1) {
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO,
				      "signer: ecdsa key: EVP_DigestVerifyInit");
		goto out;
	}
	r = EVP_DigestVerify(ctx, sig, sig_len, msg, len);
	if (r == 0) {
		ERR_clear_error();
		rc = l3af_fail(err, L3AF_E_VERIFY,
			       "signer: ecdsa key %.16s: signature does not verify", pub->id);
	} else if (r != 1) {
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO,
				      "signer: ecdsa key: EVP_DigestVerify");
	}
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}

enum l3af_status signer_pubkey_verify(const struct signer_pubkey *pub,
				      const uint8_t *msg, size_t len,
				      const uint8_t *sig, size_t sig_len,
				      struct l3af_err *err)
{
	switch (pub->alg) {
	case SIGNER_ALG_ED25519:
		if (pub->spki_len == ED25519_SPKI_BYTES)
			return verify_ed25519(pub, msg, len, sig, sig_len, err);
		break;
	case SIGNER_ALG_ECDSA_P256:
		if (pub->spki_len == P256_SPKI_BYTES)
			return verify_ecdsa(pub, msg, len, sig, sig_len, err);
		break;
	}
	return l3af_fail(err, L3AF_E_INVALID,
			 "signer: public key: not a parsed Ed25519 or P-256 key");
}
