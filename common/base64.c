/*
 * base64.c - strict base64 (RFC 4648 section 4, standard alphabet, padded):
 * no white space, no bytes outside the alphabet, '=' only as the last one or
 * two characters, and canonical trailing bits, so every byte string has
 * exactly one accepted spelling (the one l3af_base64_encode writes).
 *
 * The strictness is one validation pass over a 256-entry table; the decoding
 * itself is OpenSSL's table-driven EVP_DecodeBlock (EVP_EncodeBlock for
 * encoding). libsodium's constant-time sodium_base642bin cost ~40
 * instructions per character, and the bundle format nests base64 (entries
 * inside the extra), so the agent's check decodes ~19 k characters.
 * No secret is ever base64-decoded through here, so timing does not matter.
 * tests/common/test_base64.c proves the decoder equivalent to the former
 * libsodium-based one on random inputs and mutations.
 */
#include "l3af.h"

#include <openssl/evp.h>
#include <string.h>

/* Largest piece handed to EVP_{De,En}codeBlock at once (they take an int):
 * a multiple of 4 characters / 3 bytes. */
#define DECODE_CHUNK ((size_t)1 << 30)
#define ENCODE_CHUNK ((size_t)3 << 28)

/* Value of each byte as a base64 symbol; 0x80 for any other byte ('=',
 * white space, '-', '_', bytes >= 0x80 included). */
static const uint8_t b64_value[256] = {
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x3e, 0x80, 0x80, 0x80, 0x3f,
	0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
	0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

size_t l3af_base64_len(size_t binlen)
{
	return (binlen + 2) / 3 * 4;
}

enum l3af_status l3af_base64_encode(char *out, size_t cap, const uint8_t *bin,
				    size_t binlen)
{
	unsigned char *o = (unsigned char *)out;

	if (cap < l3af_base64_len(binlen) + 1)
		return L3AF_E_LIMIT;
	o[0] = '\0';
	while (binlen > 0) {
		size_t n = binlen < ENCODE_CHUNK ? binlen : ENCODE_CHUNK;
		int w = EVP_EncodeBlock(o, bin, (int)n); /* writes a NUL after */

		o += w;
		bin += n;
		binlen -= n;
	}
	return L3AF_OK;
}

/* Decodes whole groups in[0..len) (len % 4 == 0, every byte a symbol) into
 * out[0 .. len / 4 * 3). */
static enum l3af_status decode_groups(uint8_t *out, const unsigned char *in, size_t len)
{
	while (len > 0) {
		size_t n = len < DECODE_CHUNK ? len : DECODE_CHUNK;

		if (EVP_DecodeBlock(out, in, (int)n) != (int)(n / 4 * 3))
			return L3AF_E_INTERNAL; /* validated input: cannot happen */
		out += n / 4 * 3;
		in += n;
		len -= n;
	}
	return L3AF_OK;
}

size_t l3af_base64_decoded_max(const char *b64, size_t len)
{
	size_t n = len / 4 * 3;

	for (size_t i = 1; i <= 2 && i <= len && n > 0; i++)
		if (b64[len - i] == '=')
			n--;
	return n;
}

enum l3af_status l3af_base64_decode(uint8_t *out, size_t cap, size_t *outlen,
				    const char *b64, size_t len)
{
	const unsigned char *in = (const unsigned char *)b64;
	unsigned char last[4];
	uint8_t tail[3];
	size_t pad, n;
	unsigned bad = 0;
	enum l3af_status rc;

	if (len == 0 || len % 4 != 0)
		return L3AF_E_INVALID;
	pad = in[len - 1] != '=' ? 0 : in[len - 2] != '=' ? 1 : 2;
	/* Every character before the padding is a symbol (a '=' among them is
	 * not: that refuses "A===", "AA=A", "=AAA", "AAAA===="). */
	for (size_t i = 0; i < len - 4; i += 4)
		bad |= b64_value[in[i]] | b64_value[in[i + 1]] | b64_value[in[i + 2]] |
		       b64_value[in[i + 3]];
	bad |= b64_value[in[len - 4]] | b64_value[in[len - 3]];
	if (pad < 2)
		bad |= b64_value[in[len - 2]];
	if (pad < 1)
		bad |= b64_value[in[len - 1]];
	if (bad & 0x80)
		return L3AF_E_INVALID;
	/* Canonical: the bits of the last symbol that the padding drops are 0
	 * (refuses "AB==" and "AAB=", second spellings of "AA==" and "AAA="). */
	if ((pad == 1 && (b64_value[in[len - 2]] & 0x03) != 0) ||
	    (pad == 2 && (b64_value[in[len - 3]] & 0x0f) != 0))
		return L3AF_E_INVALID;
	n = len / 4 * 3 - pad;
	if (n > cap)
		return L3AF_E_INVALID;
	rc = decode_groups(out, in, len - 4);
	if (rc != L3AF_OK)
		return rc;
	/* The last group through a copy: out may have room for its 3 - pad
	 * bytes only, and the dropped bits are zero, so 'A' stands for '='. */
	memcpy(last, in + len - 4, 4);
	if (pad >= 1)
		last[3] = 'A';
	if (pad == 2)
		last[2] = 'A';
	rc = decode_groups(tail, last, 4);
	if (rc != L3AF_OK)
		return rc;
	memcpy(out + (len / 4 - 1) * 3, tail, 3 - pad);
	*outlen = n;
	return L3AF_OK;
}
