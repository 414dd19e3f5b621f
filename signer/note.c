/*
 * note.c - signed notes (c2sp.org/signed-note v1.0.0) and Ed25519
 * cosignatures (c2sp.org/tlog-cosignature v1.0.1): sign a note, sign one
 * line for an existing note, and open (parse + verify) a note.
 *
 * A note, as parsed here ("Format"):
 *
 *   text line\n            text: valid UTF-8, no controls but \n, may hold
 *   ...\n                  blank lines; it ends at the LAST blank line
 *   \n                     the blank line
 *   — <name> <base64>\n    1..SIGNER_NOTE_SIGS_MAX signature lines, where
 *   ...                    base64 = key ID (4, big endian) || signature
 *
 * Opening reads untrusted bytes: every length is bounded (SIGNER_NOTE_MAX,
 * SIGNER_NOTE_SIGS_MAX) and nothing is allocated, except a copy of long
 * texts to check a cosignature (see cosig_message). No secret bytes pass
 * through this file: signing goes through signer_key_sign_raw (key.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "signer.h"
#include "signer_internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SIG_PREFIX "\xe2\x80\x94 "   /* U+2014 EM DASH, then a space */
#define SIG_PREFIX_LEN 4
#define ID_BYTES 4
#define TIME_BYTES 8
#define SIG_BIN_MAX (ID_BYTES + TIME_BYTES + SIGNER_SIG_BYTES) /* 76 */
#define SIG_B64_MAX 105                /* base64 of SIG_BIN_MAX, with NUL */
#define COSIG_HEAD_MAX 48              /* "cosignature/v1\ntime " 20 "\n" */
#define COSIG_STACK_TEXT 4096          /* texts up to this size stay on stack */
#define B64_CHUNK 96                   /* base64 chars decoded per step */
#define TIME_MAX ((uint64_t)INT64_MAX) /* tlog-cosignature: <= 2^63-1 */

/* --- text rules (signed-note "Format") ---------------------------------- */

/* Valid UTF-8 with no ASCII control characters (below U+0020) but newline.
 * DEL and C1 controls are allowed, as the spec and x/mod allow them. */
static enum l3af_status text_check(const char *s, size_t len, const char *what,
				   struct l3af_err *err)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t c = 0;
	size_t n;

	for (size_t i = 0; i < len; i += n) {
		n = 1;
		if (p[i] >= 0x20 && p[i] < 0x80)
			continue;
		n = signer_utf8_next(p + i, len - i, &c);
		if (n == 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: %s: byte %zu: invalid UTF-8", what, i);
		if (c < 0x20 && c != '\n')
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: %s: byte %zu: control character 0x%02x",
					 what, i, (unsigned)c);
	}
	return L3AF_OK;
}

/* Text we are asked to sign must make a note that parses back to it. */
static enum l3af_status sign_text_check(const char *text, size_t len,
					struct l3af_err *err)
{
	if (!text || len == 0)
		return l3af_fail(err, L3AF_E_INVALID, "signer: note text: empty");
	if (len > SIGNER_NOTE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: note text: %zu bytes, limit %u", len, SIGNER_NOTE_MAX);
	if (text[len - 1] != '\n')
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note text: does not end in a newline");
	if (len >= 2 && text[len - 2] == '\n')
		return l3af_fail(err, L3AF_E_INVALID, "signer: note text: ends in a blank line");
	return text_check(text, len, "note text", err);
}

/* --- the signed messages ------------------------------------------------ */

/*
 * tlog-cosignature v1.0.1 "Ed25519 signed message":
 *   cosignature/v1\n
 *   time <T, ASCII decimal, no leading zeros>\n
 *   <checkpoint body, with its final \n>
 * Built in stack[cap] when it fits, else on the heap; release with
 * cosig_message_free.
 */
static enum l3af_status cosig_message(uint64_t t, const char *text, size_t len,
				      uint8_t *stack, size_t cap, uint8_t **msg,
				      size_t *msg_len, struct l3af_err *err)
{
	char head[COSIG_HEAD_MAX];
	int hn = snprintf(head, sizeof(head), "cosignature/v1\ntime %" PRIu64
			  "\n", t);
	uint8_t *m = stack;

	if (hn < 0 || (size_t)hn >= sizeof(head))
		return l3af_fail(err, L3AF_E_INTERNAL, "signer: cosignature: header does not fit");
	if ((size_t)hn + len > cap)
		m = l3af_malloc((size_t)hn + len);
	if (!m)
		return l3af_fail(err, L3AF_E_NOMEM,
				 "signer: cosignature: message of %zu bytes: out of memory",
				 (size_t)hn + len);
	memcpy(m, head, (size_t)hn);
	memcpy(m + hn, text, len);
	*msg = m;
	*msg_len = (size_t)hn + len;
	return L3AF_OK;
}

static void cosig_message_free(uint8_t *msg, const uint8_t *stack)
{
	if (msg != stack)
		l3af_free(msg);
}

/* --- signing ------------------------------------------------------------ */

/* tlog-cosignature "Format": the signature field is the big-endian
 * timestamp || Ed25519 signature over the cosignature message. */
static enum l3af_status cosig_sign(const struct signer_key *key,
				   const char *text, size_t len, uint64_t t,
				   uint8_t out[SIG_BIN_MAX],
				   struct l3af_err *err)
{
	uint8_t stack[COSIG_HEAD_MAX + COSIG_STACK_TEXT];
	uint8_t *msg = NULL;
	size_t msg_len = 0;
	enum l3af_status rc;

	if (t > TIME_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: cosignature by %s: time %" PRIu64 " exceeds 2^63-1",
				 signer_key_name(key), t);
	rc = cosig_message(t, text, len, stack, sizeof(stack), &msg, &msg_len,
			   err);
	if (rc != L3AF_OK)
		return rc;
	signer_put_be64(out + ID_BYTES, t);
	rc = signer_key_sign_raw(key, msg, msg_len, out + ID_BYTES + TIME_BYTES,
				 err);
	cosig_message_free(msg, stack);
	return rc;
}

/* The binary signature of a line: key ID || signature (signed-note
 * "Signatures"); for 0x04 the signature is timestamped. */
static enum l3af_status sig_make(const struct signer_key *key,
				 const struct signer_vkey *vk, const char *text,
				 size_t len, uint64_t t,
				 uint8_t out[SIG_BIN_MAX], size_t *n,
				 struct l3af_err *err)
{
	signer_put_be32(out, vk->id);
	if (vk->type == SIGNER_TYPE_COSIG_V1) {
		*n = SIG_BIN_MAX;
		return cosig_sign(key, text, len, t, out, err);
	}
	/* signed-note "Ed25519 signatures": over the note text itself. */
	*n = ID_BYTES + SIGNER_SIG_BYTES;
	return signer_key_sign_raw(key, (const uint8_t *)text, len,
				   out + ID_BYTES, err);
}

/* "— <name> <base64(sig)>\n" into line[cap], NUL-terminated. */
static enum l3af_status line_format(const char *name, const uint8_t *sig,
				    size_t n, char *line, size_t cap,
				    struct l3af_err *err)
{
	char b64[SIG_B64_MAX];
	size_t name_len = strlen(name), b64_len, need;

	if (l3af_base64_encode(b64, sizeof(b64), sig, n) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INTERNAL,
				 "signer: signature line for %s: base64 buffer too small", name);
	b64_len = strlen(b64);
	need = SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;
	if (!line || need + 1 > cap)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: signature line for %s: needs %zu bytes, buffer has %zu",
				 name, need + 1, cap);
	memcpy(line, SIG_PREFIX, SIG_PREFIX_LEN);
	memcpy(line + SIG_PREFIX_LEN, name, name_len);
	line[SIG_PREFIX_LEN + name_len] = ' ';
	memcpy(line + SIG_PREFIX_LEN + name_len + 1, b64, b64_len);
	line[need - 1] = '\n';
	line[need] = '\0';
	return L3AF_OK;
}

enum l3af_status signer_note_sign_line(const struct signer_key *key,
				       const char *text, size_t text_len,
				       uint64_t time, char *line, size_t cap,
				       struct l3af_err *err)
{
	struct signer_vkey vk;
	uint8_t sig[SIG_BIN_MAX];
	size_t n = 0;
	enum l3af_status rc;

	if (!key)
		return l3af_fail(err, L3AF_E_INVALID, "signer: note signing: no key");
	rc = sign_text_check(text, text_len, err);
	if (rc != L3AF_OK)
		return rc;
	signer_key_vkey(key, &vk);
	rc = sig_make(key, &vk, text, text_len, time, sig, &n, err);
	if (rc == L3AF_OK)
		rc = line_format(vk.name, sig, n, line, cap, err);
	return rc;
}

enum l3af_status signer_note_sign(const struct signer_key *key,
				  const char *text, size_t text_len,
				  uint64_t time, char **note, size_t *note_len,
				  struct l3af_err *err)
{
	char line[SIGNER_NOTE_LINE_MAX];
	size_t line_len, total;
	char *buf;
	enum l3af_status rc;

	rc = signer_note_sign_line(key, text, text_len, time, line,
				   sizeof(line), err);
	if (rc != L3AF_OK)
		return rc;
	line_len = strlen(line);
	total = text_len + 1 + line_len;
	if (total > SIGNER_NOTE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: note by %s: %zu bytes with its signature, limit %u",
				 signer_key_name(key), total, SIGNER_NOTE_MAX);
	buf = l3af_malloc(total + 1);
	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM,
				 "signer: note by %s: out of memory", signer_key_name(key));
	memcpy(buf, text, text_len);
	buf[text_len] = '\n';
	memcpy(buf + text_len + 1, line, line_len + 1);
	*note = buf;
	*note_len = total;
	return L3AF_OK;
}

/* --- opening: one signature line ----------------------------------------- */

struct sig_line {
	const char *name;
	size_t name_len;
	uint8_t bin[SIG_BIN_MAX]; /* first bytes of key ID || signature */
	size_t bin_len;           /* whole decoded length (may exceed bin) */
};

/* Decode b64[0 .. len) strictly, keeping the first cap bytes in out and the
 * whole length in *n. Signatures of unknown types can be long (ML-DSA is
 * kilobytes); they are checked chunk by chunk so nothing is allocated. */
static enum l3af_status sig_decode(const char *b64, size_t len, uint8_t *out,
				   size_t cap, size_t *n)
{
	uint8_t chunk[B64_CHUNK / 4 * 3];
	size_t total = 0, got, part;

	if (len == 0 || len % 4 != 0)
		return L3AF_E_INVALID;
	for (size_t off = 0; off < len; off += part) {
		part = len - off < B64_CHUNK ? len - off : B64_CHUNK;
		/* Padding may only end the whole string, not a chunk. */
		if (off + part < len && memchr(b64 + off, '=', part))
			return L3AF_E_INVALID;
		if (l3af_base64_decode(chunk, sizeof(chunk), &got, b64 + off,
				       part) != L3AF_OK)
			return L3AF_E_INVALID;
		if (total < cap)
			memcpy(out + total, chunk,
			       got < cap - total ? got : cap - total);
		total += got;
	}
	*n = total;
	return L3AF_OK;
}

/* signed-note "Format": em dash, space, key name, space, base64 of the key
 * ID and at least one signature byte. */
static enum l3af_status sig_line_parse(const char *line, size_t len,
				       unsigned no, struct sig_line *sl,
				       struct l3af_err *err)
{
	const char *sp, *why;

	if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: signature line %u: no em dash and space", no);
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	sp = memchr(line, ' ', len);
	if (!sp)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: signature line %u: no space after the key name",
				 no);
	sl->name = line;
	sl->name_len = (size_t)(sp - line);
	why = signer_name_problem(sl->name, sl->name_len);
	if (why)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: signature line %u: key name %s", no, why);
	len -= sl->name_len + 1;
	if (sig_decode(sp + 1, len, sl->bin, sizeof(sl->bin),
		       &sl->bin_len) != L3AF_OK || sl->bin_len <= ID_BYTES)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: signature line %u: not base64 of ID || sig", no);
	return L3AF_OK;
}

/* signed-note "Signatures": a line belongs to a known key when both its
 * name and its key ID match. */
static int sig_line_matches(const struct sig_line *sl,
			    const struct signer_vkey *k)
{
	size_t klen = strnlen(k->name, sizeof(k->name));

	return k->id == signer_be32(sl->bin) && klen == sl->name_len &&
	       memcmp(k->name, sl->name, klen) == 0;
}

/* signed-note "Ed25519 signatures": over the note text. */
static enum l3af_status ed25519_check(const struct signer_vkey *k,
				      const char *text, size_t len,
				      const struct sig_line *sl,
				      struct l3af_err *err)
{
	if (sl->bin_len != ID_BYTES + SIGNER_SIG_BYTES ||
	    crypto_sign_verify_detached(sl->bin + ID_BYTES,
					(const uint8_t *)text, len,
					k->pub) != 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: note: signature by %s+%08" PRIx32 " does not verify",
				 k->name, k->id);
	return L3AF_OK;
}

/* tlog-cosignature v1.0.1 "Format" and "Ed25519 signed message". */
static enum l3af_status cosig_check(const struct signer_vkey *k,
				    const char *text, size_t len,
				    const struct sig_line *sl, uint64_t *t,
				    struct l3af_err *err)
{
	uint8_t stack[COSIG_HEAD_MAX + COSIG_STACK_TEXT];
	uint8_t *msg = NULL;
	size_t msg_len = 0;
	enum l3af_status rc;

	if (sl->bin_len != SIG_BIN_MAX)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: note: cosignature by %s+%08" PRIx32 ": %zu bytes not %d",
				 k->name, k->id, sl->bin_len, SIG_BIN_MAX);
	*t = signer_be64(sl->bin + ID_BYTES);
	if (*t > TIME_MAX)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: note: cosignature by %s+%08" PRIx32 ": time over 2^63-1",
				 k->name, k->id);
	rc = cosig_message(*t, text, len, stack, sizeof(stack), &msg, &msg_len,
			   err);
	if (rc != L3AF_OK)
		return rc;
	if (crypto_sign_verify_detached(sl->bin + ID_BYTES + TIME_BYTES, msg,
					msg_len, k->pub) != 0)
		rc = l3af_fail(err, L3AF_E_VERIFY,
			       "signer: note: cosignature by %s+%08" PRIx32 " does not verify",
			       k->name, k->id);
	cosig_message_free(msg, stack);
	return rc;
}

/* --- opening: init / line / finish -------------------------------------- */

struct note_reader {
	const char *note;
	const struct signer_vkey *keys;
	size_t nkeys;
	const char *sigs;     /* the signature block, after the blank line */
	size_t sigs_len;
	struct signer_note_result res;
};

/* Offset of the last "\n\n" in s[0 .. len), or len if there is none. */
static size_t last_blank_line(const char *s, size_t len)
{
	for (size_t i = len - 1; i-- > 0;)
		if (s[i] == '\n' && s[i + 1] == '\n')
			return i;
	return len;
}

static enum l3af_status note_reader_init(struct note_reader *r,
					 const char *note, size_t len,
					 const struct signer_vkey *keys,
					 size_t nkeys, struct l3af_err *err)
{
	size_t split;
	enum l3af_status rc;

	memset(r, 0, sizeof(*r));
	if (nkeys > 64 || (nkeys > 0 && !keys))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: %zu known keys, limit 64", nkeys);
	for (size_t i = 0; i < nkeys; i++)
		if (!signer_type_supported(keys[i].type))
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: note: known key %zu has unsupported type 0x%02x",
					 i, keys[i].type);
	if (len > SIGNER_NOTE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: note: %zu bytes, limit %u", len, SIGNER_NOTE_MAX);
	if (!note || len == 0 || note[len - 1] != '\n')
		return l3af_fail(err, L3AF_E_INVALID, "signer: note: does not end in a newline");
	rc = text_check(note, len, "note", err);
	if (rc != L3AF_OK)
		return rc;
	split = last_blank_line(note, len);
	if (split == len || split + 2 == len)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: no signature lines after a blank line");
	*r = (struct note_reader){ .note = note, .keys = keys, .nkeys = nkeys,
				   .sigs = note + split + 2,
				   .sigs_len = len - split - 2 };
	r->res.text_len = split + 1;
	return L3AF_OK;
}

/* Verify one line against the known key keys[i]. */
static enum l3af_status note_reader_verify(struct note_reader *r, size_t i,
					   const struct sig_line *sl,
					   struct l3af_err *err)
{
	const struct signer_vkey *k = &r->keys[i];
	uint64_t t = 0;
	enum l3af_status rc;

	if (k->type == SIGNER_TYPE_COSIG_V1)
		rc = cosig_check(k, r->note, r->res.text_len, sl, &t, err);
	else /* SIGNER_TYPE_ED25519: note_reader_init refused other types */
		rc = ed25519_check(k, r->note, r->res.text_len, sl, err);
	if (rc != L3AF_OK)
		return rc;
	r->res.verified_mask |= UINT64_C(1) << i;
	if (t > r->res.time[i])
		r->res.time[i] = t;
	return L3AF_OK;
}

/* signed-note "Signatures": unknown (name, ID) pairs are ignored; every
 * line of a known key must verify (we check repeats too). */
static enum l3af_status note_reader_line(struct note_reader *r,
					 const char *line, size_t len,
					 struct l3af_err *err)
{
	struct sig_line sl = { .bin_len = 0 };
	enum l3af_status rc;

	if (++r->res.sig_lines > SIGNER_NOTE_SIGS_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: note: more than %d signature lines",
				 SIGNER_NOTE_SIGS_MAX);
	rc = sig_line_parse(line, len, r->res.sig_lines, &sl, err);
	for (size_t i = 0; rc == L3AF_OK && i < r->nkeys; i++)
		if (sig_line_matches(&sl, &r->keys[i]))
			rc = note_reader_verify(r, i, &sl, err);
	return rc;
}

static enum l3af_status note_reader_finish(struct note_reader *r,
					   struct signer_note_result *out,
					   struct l3af_err *err)
{
	for (uint64_t m = r->res.verified_mask; m; m &= m - 1)
		r->res.verified++;
	if (r->res.verified == 0)
		return l3af_fail(err, L3AF_E_VERIFY,
				 "signer: note: no signature from a known key (%u lines, %zu keys)",
				 r->res.sig_lines, r->nkeys);
	if (out)
		*out = r->res;
	return L3AF_OK;
}

enum l3af_status signer_note_open(const char *note, size_t len,
				  const struct signer_vkey *keys, size_t nkeys,
				  struct signer_note_result *out,
				  struct l3af_err *err)
{
	struct note_reader r;
	const char *p, *end, *nl;
	enum l3af_status rc = signer_sodium_ready(err);

	if (rc == L3AF_OK)
		rc = note_reader_init(&r, note, len, keys, nkeys, err);
	if (rc != L3AF_OK)
		return rc;
	/* Each line ends in '\n': the note does, and the block has no "\n\n". */
	for (p = r.sigs, end = r.sigs + r.sigs_len; rc == L3AF_OK && p < end;
	     p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		rc = note_reader_line(&r, p, (size_t)(nl - p), err);
	}
	if (rc == L3AF_OK)
		rc = note_reader_finish(&r, out, err);
	return rc;
}
