/*
 * test_bundle.c - offline verification bundles (log/bundle.c, docs/formats.md
 * section 8), over real trees of real entry bytes and real signed
 * checkpoints (with a witness cosignature):
 *  - round trip byte for byte and the whole verifier path (parse,
 *    signer_note_open, tlog_checkpoint_parse, tlog_bundle_verify) for
 *    package entries with keys at several sizes and indices, and without;
 *  - verify refusals: flipped entry or key-set bytes, keys_index not below
 *    the entry's, key-set proof truncated, extended or wrong, a checkpoint
 *    that is not the proof's, proofs to another tree;
 *  - the largest bundle (two 65535-byte entries, 63 + 63 hashes) fits the
 *    limits; format's argument checks and allocation failures.
 * Parse refusals: test_bundle_parse.c.
 */
#include "testutil.h"

#include "signer.h"

typedef uint8_t hash_t[TLOG_HASH_BYTES];

#define ORIGIN "example.com/l3af-bundle-test"
#define WITNESS "witness.example/w1"
#define TREE_MAX 300
#define BIG_KEYS 3 /* indices where test_big puts 65535-byte entries */
#define BIG_PKG 7

static hash_t leaves[TREE_MAX];
static struct signer_key *key, *witness;
static struct signer_vkey vkeys[2];
/* about 330 KiB each: off the stack */
static struct tlog_bundle built, parsed, again;
static uint8_t big[2][TLOG_ENTRY_MAX];

/* Hash source over `leaves`: any complete subtree from its leaf hashes. */
static enum l3af_status leaf_node(void *ctx, unsigned height, uint64_t index,
				  uint8_t out[static TLOG_HASH_BYTES], struct l3af_err *err)
{
	(void)ctx, (void)err;
	assert_true(((index + 1) << height) <= TREE_MAX);
	tlog_hash_range((const hash_t *)leaves + (index << height), (size_t)1 << height, out);
	return L3AF_OK;
}

static const struct tlog_hash_source source = {.node = leaf_node, .ctx = NULL};

/* Entry i of the tree: tu_entry's bytes, or a 65535-byte entry at BIG_*. */
static void entry_of(uint64_t i, uint8_t *out, size_t *len)
{
	if (i == BIG_KEYS || i == BIG_PKG) {
		memcpy(out, big[i == BIG_PKG], TLOG_ENTRY_MAX);
		*len = TLOG_ENTRY_MAX;
		return;
	}
	*len = tu_entry(i, out);
}

/* The signed checkpoint note of the first `size` leaves, cosigned by the
 * witness; cp receives its body. */
static char *signed_checkpoint(uint64_t size, struct tlog_checkpoint *cp, size_t *len)
{
	char body[TLOG_CHECKPOINT_BODY_MAX], line[SIGNER_NOTE_LINE_MAX];
	size_t body_len = 0, note_len = 0;
	char *note = NULL, *both;

	memset(cp, 0, sizeof(*cp));
	strcpy(cp->origin, ORIGIN);
	cp->size = size;
	assert_int_equal(tlog_tree_hash(&source, size, cp->root, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_format(cp, body, sizeof(body), &body_len, NULL), L3AF_OK);
	assert_int_equal(signer_note_sign(key, body, body_len, 0, &note, &note_len, NULL), L3AF_OK);
	assert_int_equal(signer_note_sign_line(witness, body, body_len, 1700000000, line,
					       sizeof(line), NULL), L3AF_OK);
	both = l3af_malloc(note_len + strlen(line) + 1);
	assert_non_null(both);
	memcpy(both, note, note_len);
	strcpy(both + note_len, line);
	*len = note_len + strlen(line);
	l3af_free(note);
	return both;
}

/* Fill `built` for entry `index` (with the key set at keys_index unless
 * keys_index is UINT64_MAX), proofs to the tree of `size`. */
static void build(uint64_t index, uint64_t keys_index, uint64_t size)
{
	memset(&built, 0, sizeof(built));
	built.proof.index = index;
	entry_of(index, built.entry, &built.entry_len);
	assert_int_equal(tlog_inclusion_prove(&source, index, size, built.proof.proof,
					      &built.proof.nproof, NULL), L3AF_OK);
	if (keys_index == UINT64_MAX)
		return;
	built.has_keys = true;
	built.keys_index = keys_index;
	entry_of(keys_index, built.keys_entry, &built.keys_entry_len);
	assert_int_equal(tlog_inclusion_prove(&source, keys_index, size, built.kproof,
					      &built.nkproof, NULL), L3AF_OK);
}

/* What an agent does: parse, open the note with the log's and the witness's
 * keys, parse the checkpoint body, verify the bundle. */
static enum l3af_status agent_verify(const char *text, size_t len, struct l3af_err *err)
{
	struct signer_note_result res;
	struct tlog_checkpoint cp;
	enum l3af_status rc = tlog_bundle_parse(text, len, &parsed, err);

	if (rc == L3AF_OK)
		rc = signer_note_open(parsed.proof.checkpoint, parsed.proof.checkpoint_len, vkeys,
				      2, &res, err);
	if (rc == L3AF_OK) {
		assert_int_equal(res.verified, 2);
		rc = tlog_checkpoint_parse(parsed.proof.checkpoint, res.text_len, &cp, err);
	}
	return rc == L3AF_OK ? tlog_bundle_verify(&parsed, &cp, err) : rc;
}

static void assert_same(const struct tlog_bundle *a, const struct tlog_bundle *b)
{
	assert_int_equal(a->proof.index, b->proof.index);
	assert_int_equal(a->proof.nproof, b->proof.nproof);
	assert_memory_equal(a->proof.proof, b->proof.proof, a->proof.nproof * TLOG_HASH_BYTES);
	assert_int_equal(a->entry_len, b->entry_len);
	assert_memory_equal(a->entry, b->entry, a->entry_len);
	assert_int_equal(a->has_keys, b->has_keys);
	if (!a->has_keys)
		return;
	assert_int_equal(a->keys_index, b->keys_index);
	assert_int_equal(a->keys_entry_len, b->keys_entry_len);
	assert_memory_equal(a->keys_entry, b->keys_entry, a->keys_entry_len);
	assert_int_equal(a->nkproof, b->nkproof);
	assert_memory_equal(a->kproof, b->kproof, a->nkproof * TLOG_HASH_BYTES);
}

/* Format `built` around note, parse it back: same fields, the note borrowed
 * byte for byte, and formatting the parse gives the same text. */
static char *round_trip(const char *note, size_t note_len, size_t *len)
{
	char *text = NULL, *text2 = NULL;
	size_t len2 = 0;
	struct l3af_err err = {0};

	assert_int_equal(tlog_bundle_format(&built, note, note_len, &text, len, &err), L3AF_OK);
	if (tlog_bundle_parse(text, *len, &parsed, &err) != L3AF_OK)
		fail_msg("parse: %s", err.msg);
	assert_same(&built, &parsed);
	assert_int_equal(parsed.proof.checkpoint_len, note_len);
	assert_memory_equal(parsed.proof.checkpoint, note, note_len);
	assert_ptr_equal(parsed.proof.checkpoint, text + *len - note_len);
	assert_int_equal(tlog_bundle_format(&parsed, note, note_len, &text2, &len2, NULL), L3AF_OK);
	assert_int_equal(len2, *len);
	assert_memory_equal(text2, text, *len);
	l3af_free(text2);
	return text;
}

static void expect_ok(uint64_t index, uint64_t keys_index, uint64_t size)
{
	struct tlog_checkpoint cp;
	size_t note_len = 0, len = 0;
	char *note = signed_checkpoint(size, &cp, &note_len);
	char *text;
	struct l3af_err err = {0};

	build(index, keys_index, size);
	text = round_trip(note, note_len, &len);
	if (agent_verify(text, len, &err) != L3AF_OK)
		fail_msg("index %llu keys %llu size %llu: %s", (unsigned long long)index,
			 (unsigned long long)keys_index, (unsigned long long)size, err.msg);
	l3af_free(text);
	l3af_free(note);
}

static void test_round_trip_and_verify(void **state)
{
	static const uint64_t sizes[] = {2, 3, 4, 5, 8, 9, 17, 64, 100, 255, 256, 257, 300};

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];
		expect_ok(n - 1, 0, n);              /* genesis-era key set, newest entry */
		expect_ok(n - 1, n - 2, n);          /* key set just before */
		expect_ok(n / 2, n / 2 - 1, n);      /* middle */
		expect_ok(1, 0, n);                  /* oldest pair */
		expect_ok(n - 1, UINT64_MAX, n);     /* no keys: admin or key-set entry */
		expect_ok(0, UINT64_MAX, n);
	}
	expect_ok(0, UINT64_MAX, 1);
}

/* ---- verify refusals ----------------------------------------------------- */

static struct tlog_checkpoint good_cp; /* what `again` verifies against */

/* Verify `parsed` (a good bundle, `again` its copy, then changed by the
 * caller) against cp: E_VERIFY with a message starting with `who`; then
 * restore it from the copy, which still verifies. */
static void expect_refused(const struct tlog_checkpoint *cp, const char *who,
			   const char *what)
{
	struct l3af_err err = {0};

	assert_int_equal(tlog_bundle_verify(&parsed, cp, &err), L3AF_E_VERIFY);
	if (strncmp(err.msg, who, strlen(who)) != 0)
		fail_msg("%s: message \"%s\" does not start with \"%s\"", what, err.msg, who);
	assert_int_equal(tlog_bundle_verify(&again, &good_cp, NULL), L3AF_OK);
	parsed = again;
}

static void test_verify_refusals(void **state)
{
	struct tlog_checkpoint cp, other;
	size_t note_len = 0, other_len = 0, len = 0;
	char *note = signed_checkpoint(100, &cp, &note_len);
	char *note2 = signed_checkpoint(99, &other, &other_len);
	char *text;

	(void)state;
	build(57, 42, 100);
	text = round_trip(note, note_len, &len);
	assert_true(parsed.nkproof >= 2);
	again = parsed;
	good_cp = cp;
	assert_int_equal(tlog_bundle_verify(&parsed, &cp, NULL), L3AF_OK);

	parsed.entry[parsed.entry_len / 2] ^= 1;
	expect_refused(&cp, "entry:", "flipped entry byte");
	parsed.entry_len--;
	expect_refused(&cp, "entry:", "shortened entry");
	parsed.proof.proof[0][0] ^= 0x80;
	expect_refused(&cp, "entry:", "wrong entry proof");
	parsed.proof.index++;
	expect_refused(&cp, "entry:", "another index");
	expect_refused(&other, "entry:", "another checkpoint than the proof's");
	parsed.keys_entry[0] ^= 1;
	expect_refused(&cp, "keys:", "flipped key-set byte");
	parsed.keys_entry[parsed.keys_entry_len - 1] ^= 0x40;
	expect_refused(&cp, "keys:", "flipped last key-set byte");
	parsed.keys_index = parsed.proof.index;
	expect_refused(&cp, "keys:", "keys_index == index");
	parsed.keys_index = parsed.proof.index + 1;
	expect_refused(&cp, "keys:", "keys_index > index");
	parsed.keys_index = 41;
	expect_refused(&cp, "keys:", "another key-set index");
	parsed.nkproof--;
	expect_refused(&cp, "keys:", "key-set proof truncated");
	memcpy(parsed.kproof[parsed.nkproof], parsed.kproof[0], TLOG_HASH_BYTES);
	parsed.nkproof++;
	expect_refused(&cp, "keys:", "key-set proof extended");
	parsed.kproof[parsed.nkproof - 1][31] ^= 1;
	expect_refused(&cp, "keys:", "key-set proof wrong");
	parsed.nkproof = 0;
	expect_refused(&cp, "keys:", "key-set proof dropped");
	l3af_free(text);

	/* a key set logged at or after the entry, with a valid proof: refused */
	for (int same = 0; same <= 1; same++) {
		struct l3af_err err = {0};
		build(42, same ? 42 : 57, 100);
		text = round_trip(note, note_len, &len);
		assert_int_equal(tlog_bundle_verify(&parsed, &cp, &err), L3AF_E_VERIFY);
		assert_memory_equal(err.msg, "keys:", 5);
		assert_non_null(strstr(err.msg, "not below"));
		l3af_free(text);
	}

	/* proofs to another tree than the note's: the entry's, then the keys' */
	build(57, 42, 99);
	text = round_trip(note, note_len, &len);
	assert_int_equal(tlog_bundle_verify(&parsed, &cp, NULL), L3AF_E_VERIFY);
	l3af_free(text);
	build(57, 42, 100);
	assert_int_equal(tlog_inclusion_prove(&source, 42, 99, built.kproof, &built.nkproof, NULL),
			 L3AF_OK);
	text = round_trip(note, note_len, &len);
	{
		struct l3af_err err = {0};
		assert_int_equal(tlog_bundle_verify(&parsed, &cp, &err), L3AF_E_VERIFY);
		assert_memory_equal(err.msg, "keys:", 5);
	}
	l3af_free(text);
	l3af_free(note);
	l3af_free(note2);
}

/* The largest bundle: two 65535-byte entries, 63 + 63 hashes, a huge index
 * formats and parses within TLOG_PROOF_EXTRA_MAX and TLOG_PROOF_TEXT_MAX; and
 * two 65535-byte entries of a real tree verify. */
static void test_big(void **state)
{
	struct tlog_checkpoint cp;
	size_t note_len = 0, len = 0;
	char *note = signed_checkpoint(TREE_MAX, &cp, &note_len);
	char *text;
	struct l3af_err err = {0};

	(void)state;
	memset(&built, 0, sizeof(built));
	built.proof.index = TLOG_SIZE_MAX - 1;
	built.proof.nproof = 63;
	built.entry_len = built.keys_entry_len = TLOG_ENTRY_MAX;
	memcpy(built.entry, big[1], TLOG_ENTRY_MAX);
	memcpy(built.keys_entry, big[0], TLOG_ENTRY_MAX);
	built.has_keys = true;
	built.keys_index = TLOG_SIZE_MAX - 2;
	built.nkproof = 63;
	for (int i = 0; i < 63; i++)
		built.proof.proof[i][0] = built.kproof[i][1] = (uint8_t)i;
	text = round_trip(note, note_len, &len);
	assert_true(parsed.proof.extra_len <= TLOG_PROOF_EXTRA_MAX);
	l3af_free(text);

	build(BIG_PKG, BIG_KEYS, TREE_MAX);
	text = round_trip(note, note_len, &len);
	if (agent_verify(text, len, &err) != L3AF_OK)
		fail_msg("%s", err.msg);
	l3af_free(text);
	l3af_free(note);
}

static void test_format_checks(void **state)
{
	static const char note[] = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nsig\n";
	char *text = NULL;
	size_t len = 0;
	struct l3af_err err = {0};

	(void)state;
	build(5, 2, 10);
#define REFUSE(code, fix, undo)                                                           \
	do {                                                                              \
		fix;                                                                      \
		assert_int_equal(tlog_bundle_format(&built, note, sizeof(note) - 1, &text, \
						    &len, NULL), code);               \
		assert_null(text);                                                        \
		undo;                                                                     \
	} while (0)
	REFUSE(L3AF_E_INVALID, built.entry_len = 0, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.entry_len = TLOG_ENTRY_MAX + 1, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.keys_entry_len = 0, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.keys_entry_len = TLOG_ENTRY_MAX + 1, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.nkproof = 64, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.keys_index = TLOG_SIZE_MAX, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.proof.nproof = 65, build(5, 2, 10));
	REFUSE(L3AF_E_INVALID, built.proof.index = TLOG_SIZE_MAX, build(5, 2, 10));
	assert_int_equal(tlog_bundle_format(&built, note, 0, &text, &len, NULL), L3AF_E_INVALID);
	/* without keys, the keys fields are ignored */
	built.has_keys = false;
	built.keys_entry_len = 0;
	built.nkproof = 99;
	assert_int_equal(tlog_bundle_format(&built, note, sizeof(note) - 1, &text, &len, NULL),
			 L3AF_OK);
	assert_null(strstr(text, "keys "));
	l3af_free(text);
	text = NULL;
	/* allocation failures: the extra buffer, then the proof text */
	build(5, 2, 10);
	for (unsigned long nth = 1; nth <= 2; nth++) {
		l3af_alloc_fail_at(nth);
		assert_int_equal(tlog_bundle_format(&built, note, sizeof(note) - 1, &text, &len,
						    &err), L3AF_E_NOMEM);
		l3af_alloc_fail_at(0);
		assert_null(text);
		l3af_err_clear(&err);
	}
}

static int setup(void **state)
{
	uint8_t buf[256];

	(void)state;
	for (size_t k = 0; k < TLOG_ENTRY_MAX; k++) {
		big[0][k] = (uint8_t)('a' + k % 26);
		big[1][k] = (uint8_t)(k * 7 + (k >> 8));
	}
	for (uint64_t i = 0; i < TREE_MAX; i++) {
		size_t len = 0;
		if (i == BIG_KEYS || i == BIG_PKG)
			tlog_hash_leaf(big[i == BIG_PKG], TLOG_ENTRY_MAX, leaves[i]);
		else {
			len = tu_entry(i, buf);
			tlog_hash_leaf(buf, len, leaves[i]);
		}
	}
	if (signer_key_generate(ORIGIN, SIGNER_TYPE_ED25519, &key, NULL) != L3AF_OK ||
	    signer_key_generate(WITNESS, SIGNER_TYPE_COSIG_V1, &witness, NULL) != L3AF_OK)
		return -1;
	signer_key_vkey(key, &vkeys[0]);
	signer_key_vkey(witness, &vkeys[1]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	signer_key_free(key);
	signer_key_free(witness);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_verify),
		cmocka_unit_test(test_verify_refusals),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_format_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
