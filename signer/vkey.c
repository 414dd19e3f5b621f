/*
 * vkey.c - public key material: key names, key IDs and the verifier key text
 * form, plus the strict UTF-8 decoder the note parser shares.
 *
 * Formats: c2sp.org/signed-note v1.0.0 ("Format" for names, "Signatures" for
 * key IDs, "Verifier keys" for vkeys); type 0x04 key IDs per
 * c2sp.org/tlog-cosignature v1.0.1 "Format". The same "<name>+<hex>+<base64>"
 * splitter serves the private text form in key.c, so nothing here echoes
 * the base64 part in a message.
 */
#define _POSIX_C_SOURCE 200809L
#include "signer.h"
#include "signer_internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* --- names and key IDs (signed-note "Format", "Signatures") ------------ */

size_t signer_utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Unicode White_Space: the set Go's unicode.IsSpace (x/mod) matches. */
static int is_unicode_space(uint32_t c)
{
	if (c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0)
		return 1;
	if (c == 0x1680 || (c >= 0x2000 && c <= 0x200a))
		return 1;
	return c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

/* C0, DEL and C1 controls: never part of a name. */
static int is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

const char *signer_name_problem(const char *name, size_t len)
{
	const uint8_t *p = (const uint8_t *)name;
	uint32_t c = 0;
	size_t n;

	if (len == 0)
		return "is empty";
	if (len > SIGNER_NAME_MAX)
		return "is longer than 255 bytes";
	for (size_t i = 0; i < len; i += n) {
		n = signer_utf8_next(p + i, len - i, &c);
		if (n == 0)
			return "is not valid UTF-8";
		if (c == '+')
			return "contains '+'";
		if (is_unicode_space(c))
			return "contains white space";
		if (is_control(c))
			return "contains a control character";
	}
	return NULL;
}

enum l3af_status signer_name_check(const char *name, struct l3af_err *err)
{
	const char *why;

	if (!name)
		return l3af_fail(err, L3AF_E_INVALID, "signer: key name: missing");
	/* The name is not echoed: it may hold bytes unfit for a log line. */
	why = signer_name_problem(name, strnlen(name, SIGNER_NAME_MAX + 1));
	if (why)
		return l3af_fail(err, L3AF_E_INVALID, "signer: key name: %s", why);
	return L3AF_OK;
}

uint32_t signer_key_id(const char *name, uint8_t type,
		       const uint8_t pub[static SIGNER_PUB_BYTES])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t nl = '\n';

	(void)signer_sodium_ready(NULL); /* SHA-256 works even if this failed */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, &nl, 1);
	crypto_hash_sha256_update(&st, &type, 1);
	crypto_hash_sha256_update(&st, pub, SIGNER_PUB_BYTES);
	crypto_hash_sha256_final(&st, h);
	return signer_be32(h);
}

int signer_type_supported(unsigned type)
{
	return type == SIGNER_TYPE_ED25519 || type == SIGNER_TYPE_COSIG_V1;
}

/* --- verifier key text (signed-note "Verifier keys") ------------------- */

enum l3af_status signer_key_fields_parse(const char *s, size_t len,
					 const char *what,
					 struct signer_key_fields *f,
					 struct l3af_err *err)
{
	const char *plus = memchr(s, '+', len);
	size_t nlen, off, n = 0;
	uint8_t idb[4];
	const char *why;

	if (!plus)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: %s: no '+' after the key name", what);
	nlen = (size_t)(plus - s);
	why = signer_name_problem(s, nlen);
	if (why)
		return l3af_fail(err, L3AF_E_INVALID, "signer: %s: key name %s", what, why);
	off = nlen + 1;
	if (len - off < 9 || s[off + 8] != '+' ||
	    l3af_hex_decode(idb, sizeof(idb), s + off, 8) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: %s: key ID is not 8 lowercase hex digits and '+'", what);
	off += 9;
	if (l3af_base64_decode(f->bin, sizeof(f->bin), &n, s + off,
			       len - off) != L3AF_OK || n != sizeof(f->bin))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: %s: key is not base64 of a type byte and 32 bytes", what);
	memcpy(f->name, s, nlen);
	f->name[nlen] = '\0';
	f->id = signer_be32(idb);
	return L3AF_OK;
}

enum l3af_status signer_vkey_parse(const char *text, size_t len,
				   struct signer_vkey *out,
				   struct l3af_err *err)
{
	struct signer_key_fields f = { .id = 0 };
	struct signer_vkey vk;
	enum l3af_status rc;

	if (!text || len >= SIGNER_VKEY_TEXT_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: verifier key: missing or longer than %d bytes",
				 SIGNER_VKEY_TEXT_MAX - 1);
	rc = signer_key_fields_parse(text, len, "verifier key", &f, err);
	if (rc != L3AF_OK)
		return rc;
	if (!signer_type_supported(f.bin[0]))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: verifier key %s: unsupported signature type 0x%02x",
				 f.name, f.bin[0]);
	memset(&vk, 0, sizeof(vk));
	memcpy(vk.name, f.name, sizeof(vk.name));
	vk.type = f.bin[0];
	memcpy(vk.pub, f.bin + 1, sizeof(vk.pub));
	vk.id = signer_key_id(vk.name, vk.type, vk.pub);
	if (vk.id != f.id)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: verifier key %s: key ID %08" PRIx32 " != %08" PRIx32,
				 f.name, f.id, vk.id);
	*out = vk;
	return L3AF_OK;
}

void signer_vkey_format(const struct signer_vkey *vkey,
			char buf[static SIGNER_VKEY_TEXT_MAX])
{
	uint8_t bin[SIGNER_KEY_BIN_BYTES];
	char b64[SIGNER_KEY_B64_BYTES];

	bin[0] = vkey->type;
	memcpy(bin + 1, vkey->pub, SIGNER_PUB_BYTES);
	if (l3af_base64_encode(b64, sizeof(b64), bin, sizeof(bin)) != L3AF_OK) {
		buf[0] = '\0'; /* cannot happen: b64 has room */
		return;
	}
	snprintf(buf, SIGNER_VKEY_TEXT_MAX, "%.*s+%08" PRIx32 "+%s",
		 (int)strnlen(vkey->name, SIGNER_NAME_MAX), vkey->name, vkey->id,
		 b64);
}
