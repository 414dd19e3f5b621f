/*
 * test_proof_text.c - offline proofs, c2sp.org/tlog-proof@v1 (log/proof_text.c).
 *  - round trip for every (index, size) with size 1..300: proofs from an
 *    in-memory tree, a real signed checkpoint recovered byte for byte, the
 *    whole verifier path (parse, signer_note_open, tlog_checkpoint_parse,
 *    tlog_proof_text_verify_inclusion), and one spelling per proof;
 *  - the example of the spec (C2SP tlog-proof.md "Format");
 *  - a table of rejections, each paired with an accepted neighbour;
 *  - caps (64 hashes, TLOG_PROOF_EXTRA_MAX extra, 1 MiB text) at and one past the limit;
 *  - every prefix of a valid proof: a clean failure, or (inside the
 *    checkpoint) the same proof with a note that then fails to verify;
 *  - well-formed proofs that do not verify (E_VERIFY);
 *  - format's argument checks and allocation failure.
 */
#include "testutil.h"

#include "signer.h"

typedef uint8_t hash_t[TLOG_HASH_BYTES];

#define ORIGIN "example.com/l3af-proof-test"
#define TREE_MAX 300

/* ---- an in-memory tree: every complete subtree hash, level by level ------ */


/* ---- fixtures ------------------------------------------------------------- */

static struct tu_memtree tree;
static struct signer_key *key;
static struct signer_vkey vkey;
/* 18 KiB each: kept off the stack. */
static struct tlog_proof_text parsed, reparsed;

static const struct tlog_hash_source source = {.node = tu_memtree_node, .ctx = &tree};

/* The signed checkpoint note of the tree's first `size` leaves. */
static char *signed_checkpoint(uint64_t size, size_t *len)
{
	struct tlog_checkpoint cp = {.size = size};
	char body[TLOG_CHECKPOINT_BODY_MAX];
	size_t body_len = 0;
	char *note = NULL;

	strcpy(cp.origin, ORIGIN);
	assert_int_equal(tlog_tree_hash(&source, size, cp.root, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_format(&cp, body, sizeof(body), &body_len, NULL),
			 L3AF_OK);
	assert_int_equal(signer_note_sign(key, body, body_len, 0, &note, len, NULL), L3AF_OK);
	return note;
}

/* What a verifier does with a parsed proof: open the note with the log's key,
 * parse its text as a checkpoint, check the inclusion proof against it. */
static enum l3af_status verify_parsed(const struct tlog_proof_text *p,
				      const uint8_t leaf[static TLOG_HASH_BYTES],
				      struct l3af_err *err)
{
	struct signer_note_result res;
	struct tlog_checkpoint cp;
	enum l3af_status rc;

	rc = signer_note_open(p->checkpoint, p->checkpoint_len, &vkey, 1, &res, err);
	if (rc != L3AF_OK)
		return rc;
	rc = tlog_checkpoint_parse(p->checkpoint, res.text_len, &cp, err);
	if (rc != L3AF_OK)
		return rc;
	return tlog_proof_text_verify_inclusion(p, leaf, &cp, err);
}

static void fill_extra(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 3));
}

/* Format a proof of (index, size) from the tree, with `extra_len` bytes of
 * extra, around `note`. The caller frees *text. */
static void make_proof(uint64_t index, uint64_t size, size_t extra_len, const char *note,
		       size_t note_len, char **text, size_t *len)
{
	static uint8_t extra[TLOG_PROOF_EXTRA_MAX];
	hash_t proof[TLOG_PROOF_MAX];
	size_t n = 0;

	assert_int_equal(tlog_inclusion_prove(&source, index, size, proof, &n, NULL), L3AF_OK);
	fill_extra(extra, extra_len, index);
	assert_int_equal(tlog_proof_text_format(index, (const hash_t *)proof, n, extra,
						extra_len, note, note_len, text, len, NULL),
			 L3AF_OK);
}

/* Format p again: one spelling per proof means the same bytes. */
static void assert_reformats(const struct tlog_proof_text *p, const char *text, size_t len)
{
	char *again = NULL;
	size_t again_len = 0;

	assert_int_equal(tlog_proof_text_format(p->index, (const hash_t *)p->proof, p->nproof,
						p->extra, p->extra_len, p->checkpoint,
						p->checkpoint_len, &again, &again_len, NULL),
			 L3AF_OK);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, text, len);
	assert_int_equal(again[again_len], '\0');
	l3af_free(again);
}

/* ---- round trip --------------------------------------------------------------- */

static void round_trip_one(uint64_t index, uint64_t size, const char *note, size_t note_len)
{
	size_t extra_len = index % 4 == 1 ? (size_t)(index % 97) + 1 : 0;
	uint8_t extra[128];
	hash_t proof[TLOG_PROOF_MAX];
	size_t n = 0, len = 0;
	char *text = NULL;
	struct l3af_err err = {0};

	make_proof(index, size, extra_len, note, note_len, &text, &len);
	assert_int_equal(tlog_inclusion_prove(&source, index, size, proof, &n, NULL), L3AF_OK);
	assert_int_equal(tlog_proof_text_parse(text, len, &parsed, &err), L3AF_OK);
	assert_int_equal(parsed.index, index);
	assert_int_equal(parsed.nproof, n);
	assert_memory_equal(parsed.proof, proof, n * TLOG_HASH_BYTES);
	fill_extra(extra, extra_len, index);
	assert_int_equal(parsed.extra_len, extra_len);
	assert_memory_equal(parsed.extra, extra, extra_len);
	/* the checkpoint note is recovered byte for byte, borrowed from text */
	assert_int_equal(parsed.checkpoint_len, note_len);
	assert_memory_equal(parsed.checkpoint, note, note_len);
	assert_ptr_equal(parsed.checkpoint, text + len - note_len);
	if (verify_parsed(&parsed, tree.level[0][index], &err) != L3AF_OK)
		fail_msg("index %llu size %llu: %s", (unsigned long long)index,
			 (unsigned long long)size, err.msg);
	assert_reformats(&parsed, text, len);
	l3af_free(text);
}

static void test_round_trip_every_pair_to_300(void **state)
{
	(void)state;
	for (uint64_t size = 1; size <= TREE_MAX; size++) {
		size_t note_len = 0;
		char *note = signed_checkpoint(size, &note_len);
		for (uint64_t index = 0; index < size; index++)
			round_trip_one(index, size, note, note_len);
		l3af_free(note);
	}
}

/* ---- the spec's example (C2SP tlog-proof.md, "Format") ------------------- */

#define EM "\xe2\x80\x94"
static const char spec_example[] =
	"c2sp.org/tlog-proof@v1\n"
	"extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
	"index 73894\n"
	"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
	"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
	"EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
	"RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
	"AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
	"\n"
	"example.com/fancylog\n"
	"109482\n"
	"sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
	"\n"
	EM " example.com/fancylog hI2DJw[...]1roloI=\n"
	EM " witness1.example mJirIklj[...]qY9v2B/5bg==\n"
	EM " witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
	EM " witness3.example S4X82uH5[...]3oEcROGLFQ==\n";

static void test_spec_example(void **state)
{
	static const char cp_start[] = "example.com/fancylog\n109482\n";
	struct tlog_checkpoint cp;
	struct l3af_err err = {0};
	size_t len = sizeof(spec_example) - 1;

	(void)state;
	assert_int_equal(tlog_proof_text_parse(spec_example, len, &parsed, &err), L3AF_OK);
	assert_int_equal(parsed.index, 73894);
	assert_int_equal(parsed.nproof, 5);
	assert_int_equal(parsed.extra_len, 39);
	assert_memory_equal(parsed.extra, "age-v1.2.1-darwin-arm64.tar.gz", 30);
	assert_memory_equal(parsed.checkpoint, cp_start, sizeof(cp_start) - 1);
	assert_int_equal(parsed.checkpoint[parsed.checkpoint_len - 1], '\n');
	assert_reformats(&parsed, spec_example, len);
	/* Its body parses as a checkpoint; the proof is only an illustration
	 * (signatures elided), so binding holds and the inclusion check fails. */
	assert_int_equal(tlog_checkpoint_parse(parsed.checkpoint,
					       (size_t)(strstr(parsed.checkpoint, "\n\n") -
							parsed.checkpoint) + 1,
					       &cp, &err),
			 L3AF_OK);
	assert_int_equal(tlog_proof_text_verify_inclusion(&parsed, tree.level[0][0], &cp, &err),
			 L3AF_E_VERIFY);
}

/* ---- rejections ----------------------------------------------------------------- */

#define HDR "c2sp.org/tlog-proof@v1\n"
#define H "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" /* SHA-256("") */
/* Not verified by the parser: any note-shaped text will do here. */
#define CP "example.com/t\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n" \
	EM " example.com/t AAAA\n"

struct parse_case {
	const char *text;
	size_t len;
	enum l3af_status want;
	const char *msg; /* substring of the error message, or NULL */
	const char *desc;
};

#define ROW(t, w, m, d) {t, sizeof(t) - 1, w, m, d}
#define OK L3AF_OK
#define BAD L3AF_E_INVALID

static const struct parse_case parse_cases[] = {
	/* accepted neighbours */
	ROW(HDR "index 0\n\n" CP, OK, NULL, "minimal: index 0, no hashes"),
	ROW(HDR "index 5\n" H H H "\n" CP, OK, NULL, "three hashes"),
	ROW(HDR "extra QQ==\nindex 0\n\n" CP, OK, NULL, "extra of one byte"),
	ROW(HDR "index 9223372036854775806\n" H "\n" CP, OK, NULL, "largest index, 2^63-2"),
	ROW(HDR "index 0\n\nx\n", OK, NULL, "checkpoint part is not parsed here"),
	/* input and header */
	ROW("", BAD, "line 1", "empty input"),
	ROW("\n", BAD, "line 1", "a blank line only"),
	ROW("c2sp.org/tlog-proof@v1", BAD, "line 1", "header without newline"),
	ROW("c2sp.org/tlog-proof@v2\nindex 0\n\n" CP, BAD, "line 1", "version 2"),
	ROW("c2sp.org/tlog-proof@v1 \nindex 0\n\n" CP, BAD, "line 1", "header with a trailing space"),
	ROW("C2SP.org/tlog-proof@v1\nindex 0\n\n" CP, BAD, "line 1", "header in another case"),
	ROW("c2sp.org/spicy-signature@v1\nindex 0\n\n" CP, BAD, "line 1", "spicy-signature predecessor"),
	ROW("index 0\n\n" CP, BAD, "line 1", "no header"),
	ROW("\n" HDR "index 0\n\n" CP, BAD, "line 1", "blank line before the header"),
	ROW("c2sp.org/tlog-proof@v1\r\nindex 0\n\n" CP, BAD, "carriage return", "CRLF after the header"),
	ROW("c2sp.org/tlog-proof@v1\0\nindex 0\n\n" CP, BAD, "0x00", "NUL in the header"),
	/* index */
	ROW(HDR "index 01\n\n" CP, BAD, "line 2", "leading zero"),
	ROW(HDR "index 00\n\n" CP, BAD, "line 2", "double zero"),
	ROW(HDR "index 9223372036854775807\n\n" CP, BAD, "line 2", "index 2^63-1: no tree holds it"),
	ROW(HDR "index 9223372036854775808\n\n" CP, BAD, "line 2", "index 2^63"),
	ROW(HDR "index 18446744073709551616\n\n" CP, BAD, "line 2", "index 2^64"),
	ROW(HDR "index -1\n\n" CP, BAD, "line 2", "negative index"),
	ROW(HDR "index +1\n\n" CP, BAD, "line 2", "plus sign"),
	ROW(HDR "index 0x1\n\n" CP, BAD, "line 2", "hex index"),
	ROW(HDR "index  1\n\n" CP, BAD, "line 2", "two spaces"),
	ROW(HDR "index 1 \n\n" CP, BAD, "line 2", "trailing space"),
	ROW(HDR "index 1x\n\n" CP, BAD, "line 2", "trailing garbage on the index line"),
	ROW(HDR "index 1 garbage\n\n" CP, BAD, "line 2", "trailing word on the index line"),
	ROW(HDR "index\n\n" CP, BAD, "line 2", "no index value"),
	ROW(HDR "index \n\n" CP, BAD, "line 2", "empty index value"),
	ROW(HDR "Index 1\n\n" CP, BAD, "line 2", "capitalised keyword"),
	ROW(HDR "index\t1\n\n" CP, BAD, "0x09", "tab"),
	ROW(HDR "index 1\r\n\n" CP, BAD, "line 2: carriage return", "CRLF after the index"),
	ROW(HDR "index 1\0\n\n" CP, BAD, "0x00", "NUL after the index"),
	ROW(HDR "index 1\x7f\n\n" CP, BAD, "0x7f", "DEL after the index"),
	ROW(HDR "index \xc3\xa9\n\n" CP, BAD, "0xc3", "non-ASCII in the index"),
	ROW(HDR "index 0\ngarbage\n\n" CP, BAD, "line 3", "garbage line after the index"),
	ROW(HDR H "\n" CP, BAD, "line 2", "no index line"),
	ROW(HDR "\n" CP, BAD, "line 2", "blank line before the index"),
	ROW(HDR "index 0", BAD, "line 2", "index line without newline"),
	/* extra */
	ROW(HDR "extra QQ==\n\n" CP, BAD, "line 3", "extra, then no index"),
	ROW(HDR "index 0\nextra QQ==\n\n" CP, BAD, "line 3", "extra after the index"),
	ROW(HDR "extra QQ==\nextra QQ==\nindex 0\n\n" CP, BAD, "line 3", "two extra lines"),
	ROW(HDR "extra \nindex 0\n\n" CP, BAD, "line 2: empty extra", "empty extra"),
	ROW(HDR "extra\nindex 0\n\n" CP, BAD, "line 2", "extra keyword alone"),
	ROW(HDR "extra  QQ==\nindex 0\n\n" CP, BAD, "line 2", "extra with two spaces"),
	ROW(HDR "extra QQ\nindex 0\n\n" CP, BAD, "line 2", "extra without padding"),
	ROW(HDR "extra QR==\nindex 0\n\n" CP, BAD, "line 2", "extra with non-canonical bits"),
	ROW(HDR "extra !!!!\nindex 0\n\n" CP, BAD, "line 2", "extra not base64"),
	ROW(HDR "extra QQ==\r\nindex 0\n\n" CP, BAD, "carriage return", "CRLF after extra"),
	/* hashes */
	ROW(HDR "index 0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n\n" CP, BAD, "line 3",
	    "hash of 31 bytes"),
	ROW(HDR "index 0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA\n\n" CP, BAD, "line 3",
	    "hash of 33 bytes"),
	ROW(HDR "index 0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n\n" CP, BAD, "line 3",
	    "hash with non-canonical bits"),
	ROW(HDR "index 0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n\n" CP, BAD, "line 3",
	    "hash without padding"),
	ROW(HDR "index 0\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n\n" CP, BAD, "line 3",
	    "hash in base64url"),
	ROW(HDR "index 0\n 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n" CP, BAD, "line 3",
	    "hash with a leading space"),
	ROW(HDR "index 0\n" H "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r\n\n" CP, BAD,
	    "line 4: carriage return", "CRLF after a hash"),
	ROW(HDR "index 0\n" H "\r\n" CP, BAD, "line 4: carriage return", "CRLF blank line"),
	ROW(HDR "index 0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", BAD, "line 3",
	    "hash without newline"),
	/* the blank line and the checkpoint */
	ROW(HDR "index 0\n" H, BAD, "line 4", "no blank line, nothing after"),
	ROW(HDR "index 0\n" H "example.com/t\n1\n" H "\n" EM " example.com/t AAAA\n", BAD,
	    "line 4", "no blank line before the checkpoint"),
	ROW(HDR "index 0\n\n\n" CP, BAD, "more than one blank line", "two blank lines"),
	ROW(HDR "index 0\n\n", BAD, "checkpoint is missing", "empty checkpoint"),
	ROW(HDR "index 0\n\nexample.com/t\n1", BAD, "newline", "checkpoint without final newline"),
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct l3af_err err = {0};
		/* an exact-size copy, so ASan sees any read past the end */
		char *buf = malloc(c->len ? c->len : 1);
		enum l3af_status rc;

		assert_non_null(buf);
		memcpy(buf, c->text, c->len);
		rc = tlog_proof_text_parse(buf, c->len, &parsed, &err);
		if (rc != c->want)
			fail_msg("case %zu (%s): got %s, want %s (%s)", i, c->desc,
				 l3af_status_name(rc), l3af_status_name(c->want), err.msg);
		if (rc == L3AF_OK) {
			assert_reformats(&parsed, buf, c->len);
		} else {
			assert_null(parsed.checkpoint);
			assert_int_equal(parsed.nproof, 0);
			if (c->msg && !strstr(err.msg, c->msg))
				fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"", i, c->desc,
					 err.msg, c->msg);
		}
		free(buf);
	}
}

/* ---- caps ------------------------------------------------------------------------ */

/* HDR, [extra], "index 0", nhash copies of H, blank line, CP; malloc'd. */
static char *build(size_t extra_len, size_t nhash, size_t *len)
{
	static uint8_t extra[TLOG_PROOF_EXTRA_MAX + 8];
	size_t b64 = l3af_base64_len(extra_len);
	size_t cap = 64 + b64 + nhash * 45 + sizeof(CP);
	char *buf = malloc(cap), *p = buf;

	assert_non_null(buf);
	assert_true(extra_len <= sizeof(extra));
	p += sprintf(p, HDR);
	if (extra_len) {
		fill_extra(extra, extra_len, 3);
		p += sprintf(p, "extra ");
		assert_int_equal(l3af_base64_encode(p, cap - (size_t)(p - buf), extra, extra_len),
				 L3AF_OK);
		p += b64;
		*p++ = '\n';
	}
	p += sprintf(p, "index 0\n");
	for (size_t i = 0; i < nhash; i++)
		p += sprintf(p, H);
	p += sprintf(p, "\n" CP);
	*len = (size_t)(p - buf);
	return buf;
}

/* Build a proof with extra_len bytes of extra and nhash hashes; parse it. */
static void expect_parse(size_t extra_len, size_t nhash, enum l3af_status want,
			 const char *msg)
{
	struct l3af_err err = {0};
	size_t len = 0;
	char *text = build(extra_len, nhash, &len);

	assert_int_equal(tlog_proof_text_parse(text, len, &parsed, &err), want);
	if (want == L3AF_OK)
		assert_reformats(&parsed, text, len);
	if (msg && !strstr(err.msg, msg))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
	free(text);
}

static void test_caps(void **state)
{
	size_t len = 0;
	char *big;

	(void)state;
	expect_parse(0, TLOG_PROOF_MAX, L3AF_OK, NULL);
	expect_parse(0, TLOG_PROOF_MAX + 1, L3AF_E_INVALID, "line 67: more than 64");
	expect_parse(TLOG_PROOF_EXTRA_MAX, 1, L3AF_OK, NULL);
	expect_parse(TLOG_PROOF_EXTRA_MAX - 1, 1, L3AF_OK, NULL);
	expect_parse(TLOG_PROOF_EXTRA_MAX - 2, 1, L3AF_OK, NULL);
	expect_parse(TLOG_PROOF_EXTRA_MAX + 1, 1, L3AF_E_LIMIT, "line 2");
	expect_parse(TLOG_PROOF_EXTRA_MAX + 2, 1, L3AF_E_LIMIT, "line 2");
	expect_parse(TLOG_PROOF_EXTRA_MAX + 3, 1, L3AF_E_LIMIT, "line 2");

	/* whole text: exactly the cap parses, one byte more does not */
	big = malloc(TLOG_PROOF_TEXT_MAX + 1);
	assert_non_null(big);
	len = (size_t)sprintf(big, HDR "index 0\n\n");
	memset(big + len, 'a', TLOG_PROOF_TEXT_MAX - len);
	big[TLOG_PROOF_TEXT_MAX - 1] = '\n';
	assert_int_equal(tlog_proof_text_parse(big, TLOG_PROOF_TEXT_MAX, &parsed, NULL), L3AF_OK);
	assert_int_equal(parsed.checkpoint_len, TLOG_PROOF_TEXT_MAX - len);
	big[TLOG_PROOF_TEXT_MAX] = '\n';
	assert_int_equal(tlog_proof_text_parse(big, TLOG_PROOF_TEXT_MAX + 1, &parsed, NULL),
			 L3AF_E_LIMIT);
	free(big);
}

/* ---- every prefix of a valid proof ---------------------------------------------- */

static void test_every_prefix(void **state)
{
	const uint64_t index = 137, size = TREE_MAX;
	size_t note_len = 0, len = 0, cp_off, accepted = 0;
	char *note = signed_checkpoint(size, &note_len), *text = NULL;
	struct tlog_proof_text *full = &reparsed;

	(void)state;
	make_proof(index, size, 10, note, note_len, &text, &len);
	assert_int_equal(tlog_proof_text_parse(text, len, full, NULL), L3AF_OK);
	assert_int_equal(verify_parsed(full, tree.level[0][index], NULL), L3AF_OK);
	cp_off = len - note_len;
	for (size_t k = 0; k < len; k++) {
		char *buf = malloc(k ? k : 1);
		struct l3af_err err = {0};
		enum l3af_status rc;

		assert_non_null(buf);
		memcpy(buf, text, k);
		rc = tlog_proof_text_parse(buf, k, &parsed, &err);
		if (rc != L3AF_OK) {
			assert_int_equal(rc, L3AF_E_INVALID);
			assert_true(err.msg[0] != '\0');
		} else {
			/* only a cut inside the checkpoint parses: same proof,
			 * shorter note, which must then fail to verify */
			assert_true(k > cp_off);
			assert_int_equal(parsed.index, full->index);
			assert_int_equal(parsed.nproof, full->nproof);
			assert_memory_equal(parsed.proof, full->proof,
					    full->nproof * TLOG_HASH_BYTES);
			assert_int_equal(parsed.extra_len, full->extra_len);
			assert_memory_equal(parsed.extra, full->extra, full->extra_len);
			assert_int_equal(parsed.checkpoint_len, k - cp_off);
			assert_true(parsed.checkpoint_len < note_len);
			assert_int_not_equal(verify_parsed(&parsed, tree.level[0][index], NULL),
					     L3AF_OK);
			accepted++;
		}
		free(buf);
	}
	/* the note's lines: origin, size, root, blank line */
	assert_int_equal(accepted, 4);
	l3af_free(text);
	l3af_free(note);
}

/* ---- well formed, but does not verify --------------------------------------------- */

struct verify_case {
	const char *desc;
	int flip_hash;      /* flip a bit of this proof hash (-1: none) */
	int drop_last;      /* remove the last hash */
	int add_hash;       /* append one more hash */
	int64_t index_add;  /* claim another index */
	int wrong_leaf;     /* verify another leaf's hash */
	int other_cp;       /* pass a checkpoint that is not the proof's */
};

static const struct verify_case verify_cases[] = {
	{"unchanged: verifies", -1, 0, 0, 0, 0, 0},
	{"first hash flipped", 0, 0, 0, 0, 0, 0},
	{"middle hash flipped", 3, 0, 0, 0, 0, 0},
	{"last hash flipped", 7, 0, 0, 0, 0, 0},
	{"last hash dropped", -1, 1, 0, 0, 0, 0},
	{"one hash too many", -1, 0, 1, 0, 0, 0},
	{"next index claimed", -1, 0, 0, 1, 0, 0},
	{"index beyond the tree", -1, 0, 0, 300, 0, 0},
	{"another leaf", -1, 0, 0, 0, 1, 0},
	{"another checkpoint given", -1, 0, 0, 0, 0, 1},
};

static enum l3af_status run_verify_case(const struct verify_case *c, const char *note,
					size_t note_len, struct l3af_err *err)
{
	const uint64_t index = 100, size = 257;
	uint64_t claimed = index + (uint64_t)c->index_add;
	hash_t proof[TLOG_PROOF_MAX];
	struct tlog_checkpoint other = {.size = 256};
	size_t n = 0, len = 0;
	char *text = NULL;
	enum l3af_status rc;

	assert_int_equal(tlog_inclusion_prove(&source, index, size, proof, &n, NULL), L3AF_OK);
	assert_int_equal(n, 9);
	if (c->flip_hash >= 0)
		proof[c->flip_hash][c->flip_hash % TLOG_HASH_BYTES] ^= 0x20;
	if (c->add_hash)
		memcpy(proof[n++], proof[0], TLOG_HASH_BYTES);
	n -= (size_t)c->drop_last;
	assert_int_equal(tlog_proof_text_format(claimed, (const hash_t *)proof, n, NULL, 0, note,
						note_len, &text, &len, NULL),
			 L3AF_OK);
	assert_int_equal(tlog_proof_text_parse(text, len, &parsed, NULL), L3AF_OK);
	if (c->other_cp) {
		strcpy(other.origin, ORIGIN);
		assert_int_equal(tlog_tree_hash(&source, other.size, other.root, NULL), L3AF_OK);
		rc = tlog_proof_text_verify_inclusion(&parsed, tree.level[0][index], &other, err);
	} else {
		rc = verify_parsed(&parsed, tree.level[0][index + (size_t)c->wrong_leaf], err);
	}
	l3af_free(text);
	return rc;
}

static void test_verify_mismatch(void **state)
{
	size_t note_len = 0;
	char *note = signed_checkpoint(257, &note_len);

	(void)state;
	for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		struct l3af_err err = {0};
		enum l3af_status want = i == 0 ? L3AF_OK : L3AF_E_VERIFY;
		enum l3af_status rc = run_verify_case(&verify_cases[i], note, note_len, &err);
		if (rc != want)
			fail_msg("%s: got %s, want %s (%s)", verify_cases[i].desc,
				 l3af_status_name(rc), l3af_status_name(want), err.msg);
		if (want != L3AF_OK)
			assert_non_null(strstr(err.msg, "tlog-proof"));
	}
	l3af_free(note);
}

/* ---- format's argument checks ------------------------------------------------------ */

struct format_case {
	uint64_t index;
	size_t n;
	size_t extra_len;
	int extra_null;
	const char *note;
	size_t note_len;
	enum l3af_status want;
	const char *desc;
};

#define NOTE "o\n1\nx\n\n" EM " o AAAA\n"

static const struct format_case format_cases[] = {
	{0, 0, 0, 0, NOTE, sizeof(NOTE) - 1, L3AF_OK, "minimal"},
	{TLOG_SIZE_MAX - 1, TLOG_PROOF_MAX, TLOG_PROOF_EXTRA_MAX, 0, NOTE, sizeof(NOTE) - 1,
	 L3AF_OK, "every field at its cap"},
	{TLOG_SIZE_MAX, 0, 0, 0, NOTE, sizeof(NOTE) - 1, L3AF_E_INVALID, "index 2^63-1"},
	{UINT64_MAX, 0, 0, 0, NOTE, sizeof(NOTE) - 1, L3AF_E_INVALID, "index 2^64-1"},
	{0, TLOG_PROOF_MAX + 1, 0, 0, NOTE, sizeof(NOTE) - 1, L3AF_E_INVALID, "65 hashes"},
	{0, 0, TLOG_PROOF_EXTRA_MAX + 1, 0, NOTE, sizeof(NOTE) - 1, L3AF_E_LIMIT, "extra too big"},
	{0, 0, 3, 1, NOTE, sizeof(NOTE) - 1, L3AF_E_INVALID, "extra NULL with a length"},
	{0, 0, 0, 0, NULL, 0, L3AF_E_INVALID, "note NULL"},
	{0, 0, 0, 0, NOTE, 0, L3AF_E_INVALID, "empty note"},
	{0, 0, 0, 0, NOTE, sizeof(NOTE) - 2, L3AF_E_INVALID, "note without final newline"},
	{0, 0, 0, 0, "\n" NOTE, sizeof(NOTE), L3AF_E_INVALID, "note starting with a blank line"},
};

static void test_format_table(void **state)
{
	static const uint8_t extra[TLOG_PROOF_EXTRA_MAX + 1];
	static const hash_t proof[TLOG_PROOF_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		const struct format_case *c = &format_cases[i];
		struct l3af_err err = {0};
		char *text = NULL;
		size_t len = 0;
		enum l3af_status rc;

		rc = tlog_proof_text_format(c->index, proof, c->n, c->extra_null ? NULL : extra,
					    c->extra_len, c->note, c->note_len, &text, &len, &err);
		if (rc != c->want)
			fail_msg("case %zu (%s): got %s, want %s (%s)", i, c->desc,
				 l3af_status_name(rc), l3af_status_name(c->want), err.msg);
		if (rc != L3AF_OK) {
			assert_null(text);
			continue;
		}
		/* whatever format writes, parse accepts as the same proof */
		assert_int_equal(tlog_proof_text_parse(text, len, &parsed, NULL), L3AF_OK);
		assert_int_equal(parsed.index, c->index);
		assert_int_equal(parsed.nproof, c->n);
		assert_int_equal(parsed.extra_len, c->extra_len);
		l3af_free(text);
	}
}

static void test_format_limits(void **state)
{
	const size_t fixed = sizeof(HDR "index 0\n\n") - 1;
	char *note = malloc(TLOG_PROOF_TEXT_MAX), *text = NULL;
	struct l3af_err err = {0};
	size_t len = 0;

	(void)state;
	assert_non_null(note);
	memset(note, 'a', TLOG_PROOF_TEXT_MAX);
	note[TLOG_PROOF_TEXT_MAX - fixed - 1] = '\n';
	/* exactly the cap */
	assert_int_equal(tlog_proof_text_format(0, NULL, 0, NULL, 0, note,
						TLOG_PROOF_TEXT_MAX - fixed, &text, &len, NULL),
			 L3AF_OK);
	assert_int_equal(len, TLOG_PROOF_TEXT_MAX);
	l3af_free(text);
	text = NULL;
	/* one byte over */
	note[TLOG_PROOF_TEXT_MAX - fixed] = '\n';
	assert_int_equal(tlog_proof_text_format(0, NULL, 0, NULL, 0, note,
						TLOG_PROOF_TEXT_MAX - fixed + 1, &text, &len, &err),
			 L3AF_E_LIMIT);
	assert_null(text);
	free(note);

	/* allocation failure: reported, nothing returned, nothing leaked */
	l3af_err_clear(&err);
	l3af_alloc_fail_at(1);
	assert_int_equal(tlog_proof_text_format(0, NULL, 0, NULL, 0, NOTE, sizeof(NOTE) - 1,
						&text, &len, &err),
			 L3AF_E_NOMEM);
	l3af_alloc_fail_at(0);
	assert_null(text);
	assert_int_equal(err.code, L3AF_E_NOMEM);
}

/* ---- main --------------------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	tu_memtree_build(&tree, TREE_MAX);
	if (signer_key_generate(ORIGIN, SIGNER_TYPE_ED25519, &key, NULL) != L3AF_OK)
		return -1;
	signer_key_vkey(key, &vkey);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	signer_key_free(key);
	tu_memtree_free(&tree);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_format_limits),
		cmocka_unit_test(test_verify_mismatch),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_round_trip_every_pair_to_300),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
