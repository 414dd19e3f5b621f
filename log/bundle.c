/*
 * bundle.c - offline verification bundles (docs/formats.md section 8): a
 * c2sp.org/tlog-proof@v1 for an entry whose extra (decoded) is
 *
 *   l3af-bundle/v1\n
 *   entry <base64 of the entry bytes>\n
 *   keys <decimal index> <base64 of the publisher.keys entry>\n   package only
 *   kproof <base64 hash>\n ...       0..63 lines: the key-set entry's proof
 *
 * One spelling per bundle, as for the proof text around it: the parser
 * accepts exactly what the formatter writes ("\n" line ends, printable
 * ASCII, canonical decimal and padded base64, this order, nothing else).
 * The extra is not authenticated: tlog_bundle_verify hashes both entries
 * and checks their inclusion proofs against the (already verified)
 * checkpoint. What the entries say is the caller's business.
 */
#include "tlog.h"

#include <stdio.h>
#include <string.h>

#define ENTRY_PREFIX "entry "
#define KEYS_PREFIX "keys "
#define KPROOF_PREFIX "kproof "
#define HASH_B64_LEN 44                 /* base64 of 32 bytes */
#define INDEX_MAX (TLOG_SIZE_MAX - 1)   /* index < size <= 2^63 - 1 */
#define KPROOF_MAX (TLOG_PROOF_MAX - 1) /* an inclusion proof: at most 63 */

/* ---- format -------------------------------------------------------------- */

static enum l3af_status entry_check(const char *what, const uint8_t *data, size_t len,
				    struct l3af_err *err)
{
	if (len == 0 || len > TLOG_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: %s of %zu bytes (1..%d)", what,
				 len, TLOG_ENTRY_MAX);
	if (!data)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: %s is NULL", what);
	return L3AF_OK;
}

static enum l3af_status format_check(const struct tlog_bundle *b, struct l3af_err *err)
{
	enum l3af_status rc = entry_check("entry", b->entry, b->entry_len, err);

	if (rc != L3AF_OK || !b->has_keys)
		return rc;
	rc = entry_check("key-set entry", b->keys_entry, b->keys_entry_len, err);
	if (rc != L3AF_OK)
		return rc;
	if (b->keys_index > INDEX_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: key-set index out of range");
	if (b->nkproof > KPROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: %zu key-set proof hashes (max %d)",
				 b->nkproof, KPROOF_MAX);
	return L3AF_OK;
}

/* Exact length of the extra text. Every term is bounded (two entries of at
 * most 65535 bytes, 63 hashes), so this cannot overflow. */
static size_t extra_size(const struct tlog_bundle *b)
{
	char digits[24];
	size_t len = sizeof(TLOG_BUNDLE_HEADER); /* with its "\n" */

	len += strlen(ENTRY_PREFIX) + l3af_base64_len(b->entry_len) + 1;
	if (!b->has_keys)
		return len;
	len += strlen(KEYS_PREFIX) +
	       (size_t)snprintf(digits, sizeof(digits), "%llu",
				(unsigned long long)b->keys_index) +
	       1 + l3af_base64_len(b->keys_entry_len) + 1;
	len += b->nkproof * (strlen(KPROOF_PREFIX) + HASH_B64_LEN + 1);
	return len;
}

static void put(char *buf, size_t *pos, const char *s, size_t len)
{
	memcpy(buf + *pos, s, len);
	*pos += len;
}

/* base64(bin) then "\n"; buf has room for the text plus a NUL (the
 * encoder's NUL lands where the "\n" goes). */
static enum l3af_status put_b64_line(char *buf, size_t cap, size_t *pos, const uint8_t *bin,
				     size_t len, struct l3af_err *err)
{
	if (l3af_base64_encode(buf + *pos, cap - *pos, bin, len) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INTERNAL, "bundle: extra size miscomputed");
	*pos += l3af_base64_len(len);
	buf[(*pos)++] = '\n';
	return L3AF_OK;
}

static enum l3af_status extra_write(const struct tlog_bundle *b, char *buf, size_t cap,
				    size_t *pos, struct l3af_err *err)
{
	char idx[48];
	enum l3af_status rc;

	put(buf, pos, TLOG_BUNDLE_HEADER "\n", sizeof(TLOG_BUNDLE_HEADER));
	put(buf, pos, ENTRY_PREFIX, strlen(ENTRY_PREFIX));
	rc = put_b64_line(buf, cap, pos, b->entry, b->entry_len, err);
	if (rc != L3AF_OK || !b->has_keys)
		return rc;
	int w = snprintf(idx, sizeof(idx), KEYS_PREFIX "%llu ",
			 (unsigned long long)b->keys_index);
	put(buf, pos, idx, (size_t)w);
	rc = put_b64_line(buf, cap, pos, b->keys_entry, b->keys_entry_len, err);
	for (size_t i = 0; i < b->nkproof && rc == L3AF_OK; i++) {
		put(buf, pos, KPROOF_PREFIX, strlen(KPROOF_PREFIX));
		rc = put_b64_line(buf, cap, pos, b->kproof[i], TLOG_HASH_BYTES, err);
	}
	return rc;
}

enum l3af_status tlog_bundle_format(const struct tlog_bundle *b, const char *note,
				    size_t note_len, char **out, size_t *len,
				    struct l3af_err *err)
{
	size_t cap, pos = 0;
	char *extra;
	enum l3af_status rc;

	if (!b || !out || !len)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: NULL argument");
	rc = format_check(b, err);
	if (rc != L3AF_OK)
		return rc;
	cap = extra_size(b) + 1;
	if (cap - 1 > TLOG_PROOF_EXTRA_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "bundle: extra of %zu bytes (max %u)",
				 cap - 1, TLOG_PROOF_EXTRA_MAX);
	extra = l3af_malloc(cap);
	if (!extra)
		return l3af_fail(err, L3AF_E_NOMEM, "bundle: %zu bytes", cap);
	rc = extra_write(b, extra, cap, &pos, err);
	if (rc == L3AF_OK && pos != cap - 1)
		rc = l3af_fail(err, L3AF_E_INTERNAL, "bundle: extra size miscomputed");
	if (rc == L3AF_OK)
		rc = tlog_proof_text_format(b->proof.index,
					    (const uint8_t(*)[TLOG_HASH_BYTES])b->proof.proof,
					    b->proof.nproof, (const uint8_t *)extra, pos, note,
					    note_len, out, len, err);
	l3af_free(extra);
	return rc;
}

/* ---- parse ----------------------------------------------------------------- */

/* Every extra line is printable ASCII: refuses CR (CRLF), NUL, tabs and high
 * bytes by name before any field is read. */
static enum l3af_status line_check(size_t lineno, const char *line, size_t len,
				   struct l3af_err *err)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\r')
			return l3af_fail(err, L3AF_E_INVALID,
					 "bundle: extra line %zu: carriage return "
					 "(lines end in \\n only)", lineno);
		if (c < 0x20 || c > 0x7e)
			return l3af_fail(err, L3AF_E_INVALID,
					 "bundle: extra line %zu: byte 0x%02x at column %zu is "
					 "not printable ASCII", lineno, c, i + 1);
	}
	return L3AF_OK;
}

static int has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/* An entry in canonical padded base64: 1..TLOG_ENTRY_MAX bytes. */
static enum l3af_status parse_entry_b64(size_t lineno, const char *what, const char *b64,
					size_t b64_len, uint8_t out[static TLOG_ENTRY_MAX],
					size_t *out_len, struct l3af_err *err)
{
	if (b64_len == 0)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: extra line %zu: empty %s",
				 lineno, what);
	if (l3af_base64_decoded_max(b64, b64_len) > TLOG_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "bundle: extra line %zu: %s over %d bytes", lineno, what,
				 TLOG_ENTRY_MAX);
	if (l3af_base64_decode(out, TLOG_ENTRY_MAX, out_len, b64, b64_len) != L3AF_OK ||
	    *out_len == 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: %s is not canonical padded base64",
				 lineno, what);
	return L3AF_OK;
}

static enum l3af_status parse_entry(struct tlog_bundle *b, size_t lineno, const char *line,
				    size_t len, struct l3af_err *err)
{
	if (!has_prefix(line, len, ENTRY_PREFIX))
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: expected \"entry <base64>\"", lineno);
	return parse_entry_b64(lineno, "entry", line + strlen(ENTRY_PREFIX),
			       len - strlen(ENTRY_PREFIX), b->entry, &b->entry_len, err);
}

static enum l3af_status parse_keys(struct tlog_bundle *b, size_t lineno, const char *line,
				   size_t len, struct l3af_err *err)
{
	const char *num = NULL, *sp = NULL;
	size_t rest = 0;

	if (has_prefix(line, len, KEYS_PREFIX)) {
		num = line + strlen(KEYS_PREFIX);
		rest = len - strlen(KEYS_PREFIX);
		sp = memchr(num, ' ', rest);
	}
	if (!sp)
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: expected \"keys <index> <base64>\"",
				 lineno);
	if (l3af_parse_u64(num, (size_t)(sp - num), INDEX_MAX, &b->keys_index) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: key-set index is not a decimal in "
				 "0..2^63-2 without leading zeros", lineno);
	b->has_keys = true;
	return parse_entry_b64(lineno, "key-set entry", sp + 1,
			       rest - (size_t)(sp - num) - 1, b->keys_entry,
			       &b->keys_entry_len, err);
}

static enum l3af_status parse_kproof(struct tlog_bundle *b, size_t lineno, const char *line,
				     size_t len, struct l3af_err *err)
{
	size_t got = 0;

	if (!has_prefix(line, len, KPROOF_PREFIX))
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: expected \"kproof <base64 hash>\"",
				 lineno);
	if (b->nkproof == KPROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: more than %d key-set proof hashes",
				 lineno, KPROOF_MAX);
	if (len - strlen(KPROOF_PREFIX) != HASH_B64_LEN ||
	    l3af_base64_decode(b->kproof[b->nkproof], TLOG_HASH_BYTES, &got,
			       line + strlen(KPROOF_PREFIX), HASH_B64_LEN) != L3AF_OK ||
	    got != TLOG_HASH_BYTES)
		return l3af_fail(err, L3AF_E_INVALID,
				 "bundle: extra line %zu: not canonical base64 of a 32-byte hash",
				 lineno);
	b->nkproof++;
	return L3AF_OK;
}

static enum l3af_status parse_fields(struct tlog_bundle *b, size_t lineno, const char *line,
				     size_t len, struct l3af_err *err)
{
	if (lineno == 1) {
		if (len != strlen(TLOG_BUNDLE_HEADER) ||
		    memcmp(line, TLOG_BUNDLE_HEADER, len) != 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "bundle: extra line 1: header is not \""
					 TLOG_BUNDLE_HEADER "\"");
		return L3AF_OK;
	}
	if (lineno == 2)
		return parse_entry(b, lineno, line, len, err);
	if (lineno == 3)
		return parse_keys(b, lineno, line, len, err);
	return parse_kproof(b, lineno, line, len, err);
}

/* A line whose fields parse is printable ASCII (fixed words, decimal
 * digits, base64), so line_check runs only when a field fails, and then its
 * message (naming the byte) wins as if it had run first: the entry lines
 * are long base64, validated once by the decoder, not twice. */
static enum l3af_status parse_line(struct tlog_bundle *b, size_t lineno, const char *line,
				   size_t len, struct l3af_err *err)
{
	struct l3af_err field;
	enum l3af_status rc;

	field.code = L3AF_OK;
	field.msg[0] = '\0';
	rc = parse_fields(b, lineno, line, len, &field);
	if (rc == L3AF_OK)
		return L3AF_OK;
	if (line_check(lineno, line, len, err) != L3AF_OK)
		return L3AF_E_INVALID;
	return l3af_fail(err, rc, "%s", field.msg);
}

static enum l3af_status parse_extra(struct tlog_bundle *b, struct l3af_err *err)
{
	const char *text = (const char *)b->proof.extra;
	size_t len = b->proof.extra_len, pos = 0, lineno = 0;

	if (len == 0)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: no extra line (a bundle needs one)");
	while (pos < len) {
		size_t line_len = 0;
		const char *line = l3af_next_line(text, len, &pos, &line_len);
		enum l3af_status rc;

		lineno++;
		if (!line)
			return l3af_fail(err, L3AF_E_INVALID,
					 "bundle: extra line %zu: not ended by a newline", lineno);
		rc = parse_line(b, lineno, line, line_len, err);
		if (rc != L3AF_OK)
			return rc;
	}
	if (lineno < 2)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: extra has no entry line");
	return L3AF_OK;
}

static void bundle_clear(struct tlog_bundle *b)
{
	b->entry_len = 0;
	b->has_keys = false;
	b->keys_index = 0;
	b->keys_entry_len = 0;
	b->nkproof = 0;
}

enum l3af_status tlog_bundle_parse(const char *text, size_t len, struct tlog_bundle *b,
				   struct l3af_err *err)
{
	enum l3af_status rc;

	if (!b)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: NULL argument");
	bundle_clear(b);
	rc = tlog_proof_text_parse(text, len, &b->proof, err);
	if (rc != L3AF_OK)
		return rc;
	rc = parse_extra(b, err);
	if (rc != L3AF_OK) {
		bundle_clear(b);
		b->proof.index = 0;
		b->proof.nproof = 0;
		b->proof.extra_len = 0;
		b->proof.checkpoint = NULL;
		b->proof.checkpoint_len = 0;
	}
	return rc;
}

/* ---- verify ---------------------------------------------------------------- */

static enum l3af_status verify_keys(const struct tlog_bundle *b,
				    const struct tlog_checkpoint *cp, struct l3af_err *err)
{
	uint8_t leaf[TLOG_HASH_BYTES];
	enum l3af_status rc;

	if (b->keys_entry_len == 0 || b->keys_entry_len > TLOG_ENTRY_MAX ||
	    b->nkproof > TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "keys: key-set entry or proof out of range");
	if (b->keys_index >= b->proof.index)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "keys: key-set index %llu is not below the entry's index %llu",
				 (unsigned long long)b->keys_index,
				 (unsigned long long)b->proof.index);
	tlog_hash_leaf(b->keys_entry, b->keys_entry_len, leaf);
	rc = tlog_inclusion_verify(b->keys_index, cp->size, leaf,
				   (const uint8_t(*)[TLOG_HASH_BYTES])b->kproof, b->nkproof,
				   cp->root, err);
	if (rc != L3AF_OK)
		l3af_err_prefix(err, "keys: index %llu in tree of size %llu",
				(unsigned long long)b->keys_index, (unsigned long long)cp->size);
	return rc;
}

enum l3af_status tlog_bundle_verify(const struct tlog_bundle *b,
				    const struct tlog_checkpoint *cp, struct l3af_err *err)
{
	uint8_t leaf[TLOG_HASH_BYTES];
	enum l3af_status rc;

	if (!b || !cp)
		return l3af_fail(err, L3AF_E_INVALID, "bundle: NULL argument");
	if (b->entry_len == 0 || b->entry_len > TLOG_ENTRY_MAX ||
	    b->proof.nproof > TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "entry: entry or proof out of range");
	tlog_hash_leaf(b->entry, b->entry_len, leaf);
	rc = tlog_proof_text_verify_inclusion(&b->proof, leaf, cp, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "entry");
		return rc;
	}
	return b->has_keys ? verify_keys(b, cp, err) : L3AF_OK;
}
