/*
 * proof_text.c - offline inclusion proofs, c2sp.org/tlog-proof@v1 ("Format"):
 *
 *   c2sp.org/tlog-proof@v1\n
 *   [extra <base64 opaque data>\n]     optional, not authenticated
 *   index <decimal, no leading zeros>\n
 *   <base64 SHA-256 hash>\n ...        0..64 lines, leaf's sibling first
 *   \n
 *   <checkpoint note, verbatim>        c2sp.org/tlog-checkpoint + signatures
 *
 * One spelling per proof: the parser accepts exactly what the formatter
 * writes ("\n" line ends only, canonical decimal and base64, no empty extra
 * line, exactly one blank line), so a proof cannot be re-spelled to dodge a
 * byte comparison. The checkpoint note is only delimited here; the caller
 * verifies it (signer_note_open, tlog_checkpoint_parse) and then the
 * inclusion proof (tlog_proof_text_verify_inclusion).
 */
#include "tlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "c2sp.org/tlog-proof@v1"
#define EXTRA_PREFIX "extra "
#define INDEX_PREFIX "index "
#define HASH_B64_LEN 44 /* base64 of 32 bytes, one '=' */
#define INDEX_MAX (TLOG_SIZE_MAX - 1) /* index < size <= 2^63 - 1 */

/* ---- checks shared by format and parse (so they agree byte for byte) ---- */

/* The checkpoint part: a note ending in "\n", and not starting with one
 * (a second blank line would make the separator ambiguous). */
static enum l3af_status note_check(const char *note, size_t len, struct l3af_err *err)
{
	if (len == 0)
		return l3af_fail(err, L3AF_E_INVALID, "tlog-proof: checkpoint is missing");
	if (note[0] == '\n')
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: more than one blank line before the checkpoint");
	if (note[len - 1] != '\n')
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: checkpoint does not end in a newline");
	return L3AF_OK;
}

static int has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/* ---- format ----------------------------------------------------------------- */

static enum l3af_status format_check(uint64_t index, size_t n, const uint8_t *extra,
				     size_t extra_len, const char *note, size_t note_len,
				     struct l3af_err *err)
{
	if (index > INDEX_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "tlog-proof: index out of range");
	if (n > TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "tlog-proof: %zu proof hashes (max %d)",
				 n, TLOG_PROOF_MAX);
	if (extra_len > TLOG_PROOF_EXTRA_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "tlog-proof: extra of %zu bytes (max %u)",
				 extra_len, TLOG_PROOF_EXTRA_MAX);
	if (extra_len > 0 && !extra)
		return l3af_fail(err, L3AF_E_INVALID, "tlog-proof: extra is NULL");
	if (!note)
		return l3af_fail(err, L3AF_E_INVALID, "tlog-proof: checkpoint is NULL");
	return note_check(note, note_len, err);
}

/* Exact length of the text; every term is bounded, so no overflow before the
 * note, and the note is compared against the cap instead of added blindly. */
static enum l3af_status format_size(uint64_t index, size_t n, size_t extra_len,
				    size_t note_len, size_t *total, struct l3af_err *err)
{
	char digits[24];
	size_t len = sizeof(HEADER);

	if (extra_len > 0)
		len += strlen(EXTRA_PREFIX) + l3af_base64_len(extra_len) + 1;
	len += strlen(INDEX_PREFIX) +
	       (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)index) + 1;
	len += n * (HASH_B64_LEN + 1) + 1;
	if (note_len > TLOG_PROOF_TEXT_MAX - len)
		return l3af_fail(err, L3AF_E_LIMIT, "tlog-proof: text would exceed %u bytes",
				 TLOG_PROOF_TEXT_MAX);
	*total = len + note_len;
	return L3AF_OK;
}

/* Base64 of bin at buf + *pos, then "\n". buf has room for the whole text
 * plus its NUL, so the encoder's NUL always fits and is overwritten. */
static void put_b64_line(char *buf, size_t cap, size_t *pos, const uint8_t *bin,
			 size_t len)
{
	size_t b64 = l3af_base64_len(len);

	if (l3af_base64_encode(buf + *pos, cap - *pos, bin, len) != L3AF_OK)
		abort(); /* format_size reserved the room: an invariant broke */
	*pos += b64;
	buf[(*pos)++] = '\n';
}

static void put(char *buf, size_t *pos, const void *data, size_t len)
{
	memcpy(buf + *pos, data, len);
	*pos += len;
}

enum l3af_status tlog_proof_text_format(uint64_t index,
					const uint8_t (*proof)[TLOG_HASH_BYTES], size_t n,
					const uint8_t *extra, size_t extra_len,
					const char *note, size_t note_len, char **out,
					size_t *len, struct l3af_err *err)
{
	char idx[32];
	size_t total = 0, pos = 0;
	char *buf;
	enum l3af_status rc;

	rc = format_check(index, n, extra, extra_len, note, note_len, err);
	if (rc == L3AF_OK)
		rc = format_size(index, n, extra_len, note_len, &total, err);
	if (rc != L3AF_OK)
		return rc;
	buf = l3af_malloc(total + 1);
	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM, "tlog-proof: %zu bytes", total + 1);
	put(buf, &pos, HEADER "\n", sizeof(HEADER));
	if (extra_len > 0) {
		put(buf, &pos, EXTRA_PREFIX, strlen(EXTRA_PREFIX));
		put_b64_line(buf, total + 1, &pos, extra, extra_len);
	}
	int w = snprintf(idx, sizeof(idx), INDEX_PREFIX "%llu\n", (unsigned long long)index);
	put(buf, &pos, idx, (size_t)w);
	for (size_t i = 0; i < n; i++)
		put_b64_line(buf, total + 1, &pos, proof[i], TLOG_HASH_BYTES);
	put(buf, &pos, "\n", 1);
	put(buf, &pos, note, note_len);
	buf[pos] = '\0';
	*out = buf;
	*len = pos;
	return L3AF_OK;
}

/* ---- parse ------------------------------------------------------------------ */

enum stage { WANT_HEADER, WANT_EXTRA_OR_INDEX, WANT_INDEX, WANT_HASH };

struct parser {
	enum stage stage;
	size_t lineno; /* 1-based, of the line being parsed */
	struct tlog_proof_text *out;
};

/* Every proof line is printable ASCII: this refuses CRLF, NUL, tabs and
 * high bytes with a message naming them, before any field is read. */
static enum l3af_status line_check(const struct parser *p, const char *line, size_t len,
				   struct l3af_err *err)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\r')
			return l3af_fail(err, L3AF_E_INVALID,
					 "tlog-proof: line %zu: carriage return (lines end in \\n only)",
					 p->lineno);
		if (c < 0x20 || c > 0x7e)
			return l3af_fail(err, L3AF_E_INVALID,
					 "tlog-proof: line %zu: byte 0x%02x at column %zu is not printable ASCII",
					 p->lineno, c, i + 1);
	}
	return L3AF_OK;
}

static enum l3af_status parse_header(struct parser *p, const char *line, size_t len,
				     struct l3af_err *err)
{
	if (len != strlen(HEADER) || memcmp(line, HEADER, len) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line 1: header is not \"" HEADER "\"");
	p->stage = WANT_EXTRA_OR_INDEX;
	return L3AF_OK;
}

static enum l3af_status parse_extra(struct parser *p, const char *line, size_t len,
				    struct l3af_err *err)
{
	const char *b64 = line + strlen(EXTRA_PREFIX);
	size_t b64_len = len - strlen(EXTRA_PREFIX);

	if (b64_len == 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: empty extra (omit the line instead)",
				 p->lineno);
	if (b64_len > l3af_base64_len(TLOG_PROOF_EXTRA_MAX) ||
	    l3af_base64_decoded_max(b64, b64_len) > TLOG_PROOF_EXTRA_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "tlog-proof: line %zu: extra over %u bytes", p->lineno,
				 TLOG_PROOF_EXTRA_MAX);
	if (l3af_base64_decode(p->out->extra, sizeof(p->out->extra), &p->out->extra_len,
			       b64, b64_len) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: extra is not canonical padded base64",
				 p->lineno);
	p->stage = WANT_INDEX;
	return L3AF_OK;
}

static enum l3af_status parse_index(struct parser *p, const char *line, size_t len,
				    struct l3af_err *err)
{
	if (!has_prefix(line, len, INDEX_PREFIX))
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: expected \"index <decimal>\"", p->lineno);
	if (l3af_parse_u64(line + strlen(INDEX_PREFIX), len - strlen(INDEX_PREFIX),
			   INDEX_MAX, &p->out->index) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: index is not a decimal in 0..2^63-2 "
				 "without leading zeros", p->lineno);
	p->stage = WANT_HASH;
	return L3AF_OK;
}

static enum l3af_status parse_hash(struct parser *p, const char *line, size_t len,
				   struct l3af_err *err)
{
	struct tlog_proof_text *out = p->out;
	size_t got = 0;

	if (out->nproof == TLOG_PROOF_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: more than %d proof hashes", p->lineno,
				 TLOG_PROOF_MAX);
	if (len != HASH_B64_LEN ||
	    l3af_base64_decode(out->proof[out->nproof], TLOG_HASH_BYTES, &got, line, len) !=
		    L3AF_OK ||
	    got != TLOG_HASH_BYTES)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: not canonical base64 of a 32-byte hash "
				 "(or missing blank line before the checkpoint)", p->lineno);
	out->nproof++;
	return L3AF_OK;
}

static enum l3af_status parse_fields(struct parser *p, const char *line, size_t len,
				     struct l3af_err *err)
{
	switch (p->stage) {
	case WANT_HEADER:
		return parse_header(p, line, len, err);
	case WANT_EXTRA_OR_INDEX:
		if (has_prefix(line, len, EXTRA_PREFIX))
			return parse_extra(p, line, len, err);
		return parse_index(p, line, len, err);
	case WANT_INDEX:
		return parse_index(p, line, len, err);
	case WANT_HASH:
		return parse_hash(p, line, len, err);
	}
	return l3af_fail(err, L3AF_E_INTERNAL, "tlog-proof: parser stage %d", (int)p->stage);
}

/* A line whose fields parse is printable ASCII (every field is a fixed
 * word, decimal digits or base64), so the per-byte line_check runs only when
 * a field fails, and then its message (naming the byte) wins, as if it had
 * run first: the extra line is one long base64 line, checked once, not
 * twice. */
static enum l3af_status parse_line(struct parser *p, const char *line, size_t len,
				   struct l3af_err *err)
{
	struct l3af_err field;
	enum l3af_status rc;

	field.code = L3AF_OK;
	field.msg[0] = '\0';
	rc = parse_fields(p, line, len, &field);
	if (rc == L3AF_OK)
		return L3AF_OK;
	if (line_check(p, line, len, err) != L3AF_OK)
		return L3AF_E_INVALID;
	return l3af_fail(err, rc, "%s", field.msg);
}

/* Lines up to and including the blank line; *pos ends at the checkpoint. */
static enum l3af_status parse_lines(struct parser *p, const char *text, size_t len,
				    size_t *pos, struct l3af_err *err)
{
	for (;;) {
		size_t line_len = 0;
		const char *line;
		enum l3af_status rc;

		p->lineno++;
		line = l3af_next_line(text, len, pos, &line_len);
		if (!line)
			return l3af_fail(err, L3AF_E_INVALID,
					 "tlog-proof: line %zu: missing or not ended by a newline",
					 p->lineno);
		if (line_len == 0)
			break;
		rc = parse_line(p, line, line_len, err);
		if (rc != L3AF_OK)
			return rc;
	}
	if (p->stage != WANT_HASH)
		return l3af_fail(err, L3AF_E_INVALID,
				 "tlog-proof: line %zu: blank line before the %s line", p->lineno,
				 p->stage == WANT_HEADER ? "header" : "index");
	return L3AF_OK;
}

enum l3af_status tlog_proof_text_parse(const char *text, size_t len,
				       struct tlog_proof_text *out, struct l3af_err *err)
{
	struct parser p = {.stage = WANT_HEADER, .lineno = 0, .out = out};
	size_t pos = 0;
	enum l3af_status rc;

	out->index = 0;
	out->nproof = 0;
	out->extra_len = 0;
	out->checkpoint = NULL;
	out->checkpoint_len = 0;
	if (len > TLOG_PROOF_TEXT_MAX) {
		rc = l3af_fail(err, L3AF_E_LIMIT, "tlog-proof: %zu bytes (max %u)", len,
			       TLOG_PROOF_TEXT_MAX);
		goto out;
	}
	if (len > 0 && !text) {
		rc = l3af_fail(err, L3AF_E_INVALID, "tlog-proof: text is NULL");
		goto out;
	}
	rc = parse_lines(&p, text, len, &pos, err);
	if (rc != L3AF_OK)
		goto out;
	rc = note_check(text + pos, len - pos, err);
	if (rc != L3AF_OK)
		goto out;
	out->checkpoint = text + pos;
	out->checkpoint_len = len - pos;
out:
	if (rc != L3AF_OK) {
		out->index = 0;
		out->nproof = 0;
		out->extra_len = 0;
	}
	return rc;
}

/* ---- verify ----------------------------------------------------------------- */

/* cp must be the body of the proof's note: its formatted text, then the
 * blank line that starts the signatures. */
static enum l3af_status checkpoint_bind(const struct tlog_proof_text *proof,
					const struct tlog_checkpoint *cp,
					struct l3af_err *err)
{
	char body[TLOG_CHECKPOINT_BODY_MAX];
	size_t body_len = 0;
	enum l3af_status rc = tlog_checkpoint_format(cp, body, sizeof(body), &body_len, err);

	if (rc != L3AF_OK)
		return rc;
	if (!proof->checkpoint || proof->checkpoint_len <= body_len ||
	    memcmp(proof->checkpoint, body, body_len) != 0 ||
	    proof->checkpoint[body_len] != '\n')
		return l3af_fail(err, L3AF_E_VERIFY,
				 "tlog-proof: the checkpoint given is not the proof's checkpoint");
	return L3AF_OK;
}

enum l3af_status tlog_proof_text_verify_inclusion(const struct tlog_proof_text *proof,
						  const uint8_t leaf_hash[static TLOG_HASH_BYTES],
						  const struct tlog_checkpoint *cp,
						  struct l3af_err *err)
{
	const uint8_t(*path)[TLOG_HASH_BYTES] = (const uint8_t(*)[TLOG_HASH_BYTES])proof->proof;
	enum l3af_status rc = checkpoint_bind(proof, cp, err);

	if (rc != L3AF_OK)
		return rc;
	if (proof->index >= cp->size)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "tlog-proof: index %llu is not in the checkpoint's tree of size %llu",
				 (unsigned long long)proof->index, (unsigned long long)cp->size);
	rc = tlog_inclusion_verify(proof->index, cp->size, leaf_hash, path, proof->nproof,
				   cp->root, err);
	if (rc != L3AF_OK)
		l3af_err_prefix(err, "tlog-proof: index %llu in tree of size %llu",
				(unsigned long long)proof->index, (unsigned long long)cp->size);
	return rc;
}
