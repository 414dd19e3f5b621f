/*
 * test_bundle_parse.c - tlog_bundle_parse's refusals (log/bundle.c,
 * docs/formats.md section 8), over proof texts built by
 * tlog_proof_text_format around hand-written extras:
 *  - a table of refusals, each next to an accepted neighbour: no extra,
 *    header, extra lines, order, non-canonical base64 and decimals, CR,
 *    control bytes, missing newline, empty entries;
 *  - caps: 63 kproof lines parse, 64 do not; entries of 65535 bytes parse,
 *    65536 are L3AF_E_LIMIT;
 *  - every prefix of a real bundle's extra.
 * Parse does not verify, so the checkpoint note here is a fixed text.
 */
#include "testutil.h"

typedef uint8_t hash_t[TLOG_HASH_BYTES];

#define NOTE "example.com/l3af-bundle-test\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nsig\n"

/* about 330 KiB each: off the stack */
static struct tlog_bundle built, parsed;

/* ---- parse refusals ------------------------------------------------------ */

/* Parse a proof text around extra[0..len) (0: no extra line). */
static enum l3af_status parse_extra(const char *extra, size_t len, struct l3af_err *err)
{
	static const hash_t proof[2] = {{1}, {2}};
	char *text = NULL;
	size_t text_len = 0;
	enum l3af_status rc;

	assert_int_equal(tlog_proof_text_format(5, proof, 2, (const uint8_t *)extra, len,
						NOTE, sizeof(NOTE) - 1, &text,
						&text_len, NULL), L3AF_OK);
	rc = tlog_bundle_parse(text, text_len, &parsed, err);
	l3af_free(text);
	return rc;
}

#define E64 "e2VudHJ5fQ==" /* "{entry}" */
#define H44 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define KP "kproof " H44 "\n"

struct parse_case {
	const char *extra;
	enum l3af_status rc;
	const char *msg; /* substring of the message */
};

static const struct parse_case parse_cases[] = {
	{"l3af-bundle/v1\nentry " E64 "\n", L3AF_OK, NULL},
	{"l3af-bundle/v1\nentry " E64 "\nkeys 0 " E64 "\n", L3AF_OK, NULL},
	{"l3af-bundle/v1\nentry " E64 "\nkeys 4 " E64 "\n" KP KP, L3AF_OK, NULL},
	{"l3af-bundle/v1\nentry QQ==\nkeys 9223372036854775806 QUI=\n", L3AF_OK, NULL},
	{"l3af-bundle/v2\nentry " E64 "\n", L3AF_E_INVALID, "line 1: header"},
	{"l3af-bundle/v1 \nentry " E64 "\n", L3AF_E_INVALID, "line 1: header"},
	{"l3af-bundle/v1\n", L3AF_E_INVALID, "no entry line"},
	{"l3af-bundle/v1\nentry " E64, L3AF_E_INVALID, "line 2: not ended by a newline"},
	{"l3af-bundle/v1\nentry " E64 "\n\n", L3AF_E_INVALID, "line 3: expected \"keys"},
	{"l3af-bundle/v1\nentry " E64 "\nfoo\n", L3AF_E_INVALID, "line 3: expected \"keys"},
	{"l3af-bundle/v1\nentry " E64 "\n" KP, L3AF_E_INVALID, "line 3: expected \"keys"},
	{"l3af-bundle/v1\nentry " E64 "\nentry " E64 "\n", L3AF_E_INVALID, "line 3"},
	{"l3af-bundle/v1\nentry " E64 "\nkeys 0 " E64 "\nkeys 0 " E64 "\n", L3AF_E_INVALID,
	 "line 4: expected \"kproof"},
	{"l3af-bundle/v1\nentry " E64 "\nkeys 0 " E64 "\n" KP "x\n", L3AF_E_INVALID, "line 5"},
	{"l3af-bundle/v1\nkeys 0 " E64 "\nentry " E64 "\n", L3AF_E_INVALID, "line 2: expected"},
	{"l3af-bundle/v1\nentry \n", L3AF_E_INVALID, "line 2: empty entry"},
	{"l3af-bundle/v1\nentry QR==\n", L3AF_E_INVALID, "line 2: entry is not canonical"},
	{"l3af-bundle/v1\nentry QQ\n", L3AF_E_INVALID, "line 2: entry is not canonical"},
	{"l3af-bundle/v1\nentry  QQ==\n", L3AF_E_INVALID, "line 2: entry is not canonical"},
	{"l3af-bundle/v1\nentry QQ==\r\n", L3AF_E_INVALID, "line 2: carriage return"},
	{"l3af-bundle/v1\r\nentry QQ==\n", L3AF_E_INVALID, "line 1: carriage return"},
	{"l3af-bundle/v1\nentry\tQQ==\n", L3AF_E_INVALID, "byte 0x09"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 01 QQ==\n", L3AF_E_INVALID, "line 3: key-set index"},
	{"l3af-bundle/v1\nentry QQ==\nkeys -1 QQ==\n", L3AF_E_INVALID, "line 3: key-set index"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 9223372036854775807 QQ==\n", L3AF_E_INVALID,
	 "line 3: key-set index"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3\n", L3AF_E_INVALID, "line 3: expected \"keys"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3 \n", L3AF_E_INVALID, "line 3: empty key-set"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3 QR==\n", L3AF_E_INVALID, "not canonical"},
	{"l3af-bundle/v1\nentry QQ==\nkeys  3 QQ==\n", L3AF_E_INVALID, "key-set index"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3 QQ==\nkproof AQID\n", L3AF_E_INVALID,
	 "line 4: not canonical base64 of a 32-byte hash"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3 QQ==\nkproof " H44 " \n", L3AF_E_INVALID,
	 "line 4: not canonical"},
	{"l3af-bundle/v1\nentry QQ==\nkeys 3 QQ==\nkproof  " H44 "\n", L3AF_E_INVALID,
	 "line 4: not canonical"},
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct l3af_err err = {0};
		enum l3af_status rc = parse_extra(c->extra, strlen(c->extra), &err);

		if (rc != c->rc || (c->msg && !strstr(err.msg, c->msg)))
			fail_msg("case %zu: rc %d (want %d), \"%s\" (want \"%s\")", i, rc, c->rc,
				 err.msg, c->msg ? c->msg : "");
		if (rc != L3AF_OK) {
			assert_null(parsed.proof.checkpoint);
			assert_int_equal(parsed.entry_len, 0);
		}
	}
	/* a NUL byte inside the extra */
	{
		static const char nul[] = "l3af-bundle/v1\nentry Q\0==\n";
		struct l3af_err err = {0};
		assert_int_equal(parse_extra(nul, sizeof(nul) - 1, &err), L3AF_E_INVALID);
		assert_non_null(strstr(err.msg, "byte 0x00"));
	}
	/* no extra line at all: a plain tlog-proof is not a bundle */
	{
		struct l3af_err err = {0};
		assert_int_equal(parse_extra(NULL, 0, &err), L3AF_E_INVALID);
		assert_non_null(strstr(err.msg, "no extra"));
	}
}

/* kproof lines: 63 parse, 64 do not; an entry of 65535 bytes parses, 65536
 * is L3AF_E_LIMIT. */
static void test_caps(void **state)
{
	static char extra[TLOG_PROOF_EXTRA_MAX];
	static uint8_t bytes[TLOG_ENTRY_MAX + 1];
	size_t pos;
	struct l3af_err err = {0};

	(void)state;
	pos = (size_t)sprintf(extra, "l3af-bundle/v1\nentry QQ==\nkeys 3 QQ==\n");
	for (int i = 0; i < 63; i++)
		pos += (size_t)sprintf(extra + pos, KP);
	assert_int_equal(parse_extra(extra, pos, &err), L3AF_OK);
	assert_int_equal(parsed.nkproof, 63);
	pos += (size_t)sprintf(extra + pos, KP);
	assert_int_equal(parse_extra(extra, pos, &err), L3AF_E_INVALID);
	assert_non_null(strstr(err.msg, "line 67: more than 63"));

	for (size_t n = TLOG_ENTRY_MAX - 2; n <= TLOG_ENTRY_MAX + 1; n++) {
		struct l3af_err e2 = {0};
		memset(bytes, 'x', n);
		pos = (size_t)sprintf(extra, "l3af-bundle/v1\nentry ");
		assert_int_equal(l3af_base64_encode(extra + pos, sizeof(extra) - pos, bytes, n),
				 L3AF_OK);
		pos += l3af_base64_len(n);
		extra[pos++] = '\n';
		assert_int_equal(parse_extra(extra, pos, &e2),
				 n <= TLOG_ENTRY_MAX ? L3AF_OK : L3AF_E_LIMIT);
		if (n > TLOG_ENTRY_MAX)
			assert_non_null(strstr(e2.msg, "line 2: entry over 65535"));
		else
			assert_int_equal(parsed.entry_len, n);
	}
}

/* Every prefix of a bundle's extra: refused, or a shorter bundle that ends on
 * a line boundary after the entry line (dropping keys or kproof lines). */
static void test_every_prefix(void **state)
{
	static char extra[TLOG_PROOF_EXTRA_MAX];
	size_t len = 0;
	char *text = NULL;

	(void)state;
	memset(&built, 0, sizeof(built));
	built.proof.index = 70;
	built.entry_len = 300;
	built.has_keys = true;
	built.keys_index = 12;
	built.keys_entry_len = 100;
	built.nkproof = 5;
	for (size_t i = 0; i < 300; i++)
		built.entry[i] = built.keys_entry[i % 100] = (uint8_t)(i * 37 + 1);
	for (size_t i = 0; i < 5; i++)
		built.kproof[i][i] = (uint8_t)(i + 1);
	assert_int_equal(tlog_bundle_format(&built, NOTE, sizeof(NOTE) - 1, &text, &len, NULL),
			 L3AF_OK);
	assert_int_equal(tlog_bundle_parse(text, len, &parsed, NULL), L3AF_OK);
	memcpy(extra, parsed.proof.extra, parsed.proof.extra_len);
	len = parsed.proof.extra_len;
	for (size_t n = 1; n <= len; n++) {
		enum l3af_status rc = parse_extra(extra, n, NULL);
		int boundary = extra[n - 1] == '\n' && memchr(extra, '\n', n) != extra + n - 1;
		if (rc == L3AF_OK)
			assert_true(boundary);
		else
			assert_true(rc == L3AF_E_INVALID);
		if (boundary)
			assert_int_equal(rc, L3AF_OK);
	}
	l3af_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_every_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
