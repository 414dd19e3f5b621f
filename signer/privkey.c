/*
 * privkey.c - publisher private keys: generate, load, save, free, and the
 * raw signing step that dsse.c calls over a PAE.
 *
 * Files are unencrypted PKCS#8 (RFC 5958) in PEM (RFC 7468 section 10,
 * "PRIVATE KEY"), as `openssl genpkey` writes them; Ed25519 keys use the
 * RFC 8410 form.
 *
 * Security:
 * - Ed25519 secrets live in a struct signer_key (key.c): sodium_malloc
 *   memory, no-access except while signing. They pass through OpenSSL only
 *   while a file is read or written.
 * - ECDSA P-256 secrets are held by OpenSSL (EVP_PKEY), which keeps the
 *   scalar in its secure heap when the application has set one up
 *   (CRYPTO_secure_malloc_init) and clears it on free.
 * - Key file text is read into sodium_malloc memory (signer_key_file_read)
 *   and written from a BIO_s_secmem buffer, both wiped on release; a seed
 *   copied out for saving sits in sodium_malloc memory too.
 * - Messages never hold key bytes; OpenSSL's text is its static reason.
 */
#include "signer.h"
#include "signer_internal.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PEM_PRIV_BEGIN "-----BEGIN PRIVATE KEY-----\n"
#define ED_KEY_NAME "publisher" /* the signer_key name; not used in notes */
#define ED_SEED_BYTES 32

struct signer_privkey {
	struct signer_pubkey pub;
	EVP_PKEY *evp;         /* ECDSA P-256, else NULL */
	struct signer_key *ed; /* Ed25519, else NULL */
};

void signer_privkey_free(struct signer_privkey *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->evp);
	signer_key_free(key->ed);
	sodium_memzero(key, sizeof(*key));
	l3af_free(key);
}

const struct signer_pubkey *signer_privkey_pubkey(const struct signer_privkey *key)
{
	return &key->pub;
}

/* Fill key->ed from seed (random if NULL) and key->pub from its public key:
 * the RFC 8410 SPKI is a fixed 12-byte prefix and the 32-byte key. */
static enum l3af_status ed_adopt(struct signer_privkey *key,
				 const uint8_t *seed, struct l3af_err *err)
{
	static const uint8_t prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
					    0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	uint8_t spki[sizeof(prefix) + SIGNER_PUB_BYTES];
	struct signer_vkey vk;
	enum l3af_status rc;

	rc = seed ? signer_key_from_seed(ED_KEY_NAME, SIGNER_TYPE_ED25519, seed,
					 &key->ed, err)
		  : signer_key_generate(ED_KEY_NAME, SIGNER_TYPE_ED25519, &key->ed, err);
	if (rc != L3AF_OK)
		return rc;
	signer_key_vkey(key->ed, &vk);
	memcpy(spki, prefix, sizeof(prefix));
	memcpy(spki + sizeof(prefix), vk.pub, SIGNER_PUB_BYTES);
	return signer_pubkey_from_spki(spki, sizeof(spki), &key->pub, err);
}

/* Take a reference to an OpenSSL P-256 key. */
static enum l3af_status p256_adopt(struct signer_privkey *key, EVP_PKEY *evp,
				   struct l3af_err *err)
{
	if (EVP_PKEY_up_ref(evp) != 1)
		return signer_ossl_fail(err, L3AF_E_CRYPTO, "signer: ecdsa key: up_ref");
	key->evp = evp;
	return signer_pubkey_from_evp(evp, &key->pub, err);
}

enum l3af_status signer_privkey_generate(enum signer_alg alg,
					 struct signer_privkey **out,
					 struct l3af_err *err)
{
	struct signer_privkey *key = NULL;
	EVP_PKEY *evp = NULL;
	enum l3af_status rc = L3AF_OK;

	if (!out || (alg != SIGNER_ALG_ED25519 && alg != SIGNER_ALG_ECDSA_P256))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: publisher key: algorithm %d not supported", (int)alg);
	key = l3af_calloc(1, sizeof(*key));
	if (!key)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: publisher key: out of memory");
	if (alg == SIGNER_ALG_ED25519) {
		rc = ed_adopt(key, NULL, err);
	} else if (!(evp = EVP_EC_gen("P-256"))) {
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO, "signer: ecdsa key: EVP_EC_gen");
	} else {
		rc = p256_adopt(key, evp, err);
	}
	EVP_PKEY_free(evp);
	if (rc != L3AF_OK)
		signer_privkey_free(key);
	else
		*out = key;
	return rc;
}

/* --- loading ------------------------------------------------------------ */

/* Encrypted keys are refused instead of prompting on a terminal (the
 * default PEM callback would). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static enum l3af_status pem_decode(const char *text, size_t len,
				   const char *path, EVP_PKEY **out,
				   struct l3af_err *err)
{
	static const char begin[] = PEM_PRIV_BEGIN;
	char what[L3AF_ERR_MSG_BYTES / 2];
	BIO *bio;

	if (len < sizeof(begin) - 1 || memcmp(text, begin, sizeof(begin) - 1) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: key file %s: not an unencrypted PKCS#8 PEM key "
				 "(-----BEGIN PRIVATE KEY-----)", path);
	bio = BIO_new_mem_buf(text, (int)len);
	*out = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (*out)
		return L3AF_OK;
	snprintf(what, sizeof(what), "signer: key file %.200s: PKCS#8 does not parse", path);
	return signer_ossl_fail(err, L3AF_E_INVALID, what);
}

/* The raw Ed25519 seed out of evp, into guarded memory, into key->ed. */
static enum l3af_status ed_from_evp(struct signer_privkey *key, EVP_PKEY *evp,
				    struct l3af_err *err)
{
	uint8_t *seed = sodium_malloc(ED_SEED_BYTES);
	size_t n = ED_SEED_BYTES;
	enum l3af_status rc;

	if (!seed)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: ed25519 key: sodium_malloc failed");
	if (EVP_PKEY_get_raw_private_key(evp, seed, &n) != 1 || n != ED_SEED_BYTES)
		rc = signer_ossl_fail(err, L3AF_E_INVALID,
				      "signer: ed25519 key: no 32-byte private key");
	else
		rc = ed_adopt(key, seed, err);
	sodium_free(seed); /* wipes */
	return rc;
}

/* A PKCS#8 file may carry a public key that does not belong to the private
 * one; signatures would then fail under the key's own ID. */
static enum l3af_status p256_from_evp(struct signer_privkey *key, EVP_PKEY *evp,
				      struct l3af_err *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, evp, NULL);
	int ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return signer_ossl_fail(err, L3AF_E_INVALID,
					"signer: ecdsa key: public and private halves do not match");
	return p256_adopt(key, evp, err);
}

static enum l3af_status key_from_evp(EVP_PKEY *evp, struct signer_privkey **out,
				     struct l3af_err *err)
{
	struct signer_privkey *key = NULL;
	struct signer_pubkey pub;
	enum l3af_status rc = signer_pubkey_from_evp(evp, &pub, err);

	if (rc == L3AF_OK && !(key = l3af_calloc(1, sizeof(*key))))
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: publisher key: out of memory");
	if (rc == L3AF_OK)
		rc = pub.alg == SIGNER_ALG_ED25519 ? ed_from_evp(key, evp, err)
						   : p256_from_evp(key, evp, err);
	if (rc != L3AF_OK)
		signer_privkey_free(key);
	else
		*out = key;
	return rc;
}

enum l3af_status signer_privkey_load(const char *path,
				     struct signer_privkey **out,
				     struct l3af_err *err)
{
	char *text = NULL;
	size_t len = 0;
	EVP_PKEY *evp = NULL;
	enum l3af_status rc = signer_sodium_ready(err);

	if (rc == L3AF_OK && !out)
		rc = l3af_fail(err, L3AF_E_INVALID, "signer: key file: no output");
	if (rc == L3AF_OK)
		rc = signer_key_file_read(path, &text, &len, err);
	if (rc == L3AF_OK)
		rc = pem_decode(text, len, path, &evp, err);
	if (rc == L3AF_OK)
		rc = key_from_evp(evp, out, err);
	EVP_PKEY_free(evp); /* OpenSSL clears private key material on free */
	sodium_free(text);  /* wipes; NULL is fine */
	return rc;
}

/* --- saving ------------------------------------------------------------- */

/* An OpenSSL key to write: a new reference for P-256, a temporary key made
 * from the seed for Ed25519. */
static enum l3af_status export_evp(const struct signer_privkey *key,
				   EVP_PKEY **out, struct l3af_err *err)
{
	uint8_t *seed;
	enum l3af_status rc;

	if (key->evp) {
		if (EVP_PKEY_up_ref(key->evp) != 1)
			return signer_ossl_fail(err, L3AF_E_CRYPTO, "signer: ecdsa key: up_ref");
		*out = key->evp;
		return L3AF_OK;
	}
	if (!(seed = sodium_malloc(ED_SEED_BYTES)))
		return l3af_fail(err, L3AF_E_NOMEM, "signer: ed25519 key: sodium_malloc failed");
	rc = signer_key_seed_get(key->ed, seed, err);
	if (rc == L3AF_OK &&
	    !(*out = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
						  ED_SEED_BYTES)))
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO,
				      "signer: ed25519 key: EVP_PKEY_new_raw_private_key");
	sodium_free(seed); /* wipes */
	return rc;
}

static enum l3af_status pem_write_file(BIO *bio, const char *path,
				       const struct signer_privkey *key,
				       struct l3af_err *err)
{
	struct l3af_err local = { .code = L3AF_OK };
	char *pem = NULL;
	long n = BIO_get_mem_data(bio, &pem);
	enum l3af_status rc;

	if (n <= 0 || !pem)
		return l3af_fail(err, L3AF_E_INTERNAL, "signer: publisher key: empty PEM");
	rc = l3af_file_create(path, pem, (size_t)n, 0600, &local);
	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "signer: %s key %.16s: save: %s",
				 signer_alg_name(key->pub.alg), key->pub.id, local.msg);
	return L3AF_OK;
}

enum l3af_status signer_privkey_save(const struct signer_privkey *key,
				     const char *path, struct l3af_err *err)
{
	EVP_PKEY *evp = NULL;
	BIO *bio = NULL;
	enum l3af_status rc;

	if (!key || !path)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: publisher key save: missing key or path");
	rc = export_evp(key, &evp, err);
	/* A secure-memory BIO: its buffer is cleared when freed or grown. */
	if (rc == L3AF_OK && !(bio = BIO_new(BIO_s_secmem())))
		rc = l3af_fail(err, L3AF_E_NOMEM, "signer: publisher key: out of memory");
	if (rc == L3AF_OK &&
	    PEM_write_bio_PKCS8PrivateKey(bio, evp, NULL, NULL, 0, NULL, NULL) != 1)
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO,
				      "signer: publisher key: PEM_write_bio_PKCS8PrivateKey");
	if (rc == L3AF_OK)
		rc = pem_write_file(bio, path, key, err);
	BIO_free(bio);
	EVP_PKEY_free(evp);
	return rc;
}

/* --- signing ------------------------------------------------------------ */

static enum l3af_status sign_ecdsa(const struct signer_privkey *key,
				   const uint8_t *msg, size_t len,
				   uint8_t sig[static SIGNER_PUBSIG_MAX],
				   size_t *sig_len, struct l3af_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = SIGNER_PUBSIG_MAX;
	enum l3af_status rc = L3AF_OK;

	if (!ctx ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key->evp) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, msg, len) != 1)
		rc = signer_ossl_fail(err, L3AF_E_CRYPTO, "signer: ecdsa key: EVP_DigestSign");
	else
		*sig_len = n;
	EVP_MD_CTX_free(ctx);
	return rc;
}

enum l3af_status signer_privkey_sign(const struct signer_privkey *key,
				     const uint8_t *msg, size_t len,
				     uint8_t sig[static SIGNER_PUBSIG_MAX],
				     size_t *sig_len, struct l3af_err *err)
{
	enum l3af_status rc;

	if (key->evp)
		return sign_ecdsa(key, msg, len, sig, sig_len, err);
	rc = signer_key_sign_raw(key->ed, msg, len, sig, err);
	if (rc == L3AF_OK)
		*sig_len = SIGNER_SIG_BYTES;
	return rc;
}
