/*
 * test_common.c - the shared helpers: strict base64 (RFC 4648 section 4,
 * canonical only), hex, canonical decimals, error-buffer rules, file writes.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

struct b64_case {
	const char *in;
	int ok;
	const char *why;
};

static void test_base64_table(void **state)
{
	static const struct b64_case cases[] = {
		{"AAAA", 1, "three zero bytes"},
		{"AA==", 1, "one byte, padded"},
		{"AAA=", 1, "two bytes, padded"},
		{"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 1, "SHA-256 of empty"},
		{"", 0, "empty"},
		{"AA", 0, "no padding"},
		{"AB==", 0, "non-canonical trailing bits"},
		{"AAB=", 0, "non-canonical trailing bits, two bytes"},
		{"A===", 0, "three pad characters"},
		{"=AAA", 0, "padding first"},
		{"AA=A", 0, "padding inside"},
		{"AA A", 0, "space"},
		{"AA\nA", 0, "newline"},
		{"AA-_", 0, "URL alphabet"},
		{"AA\x95\x90", 0, "bytes >= 0x80 (libsodium 1.0.18 takes them)"},
		{"CsUYapGGPo4dkMgIAU\x95\x90\x92\xd0Xajj7h2fB2MPA3j2jxq2I=", 0, "fuzzer find"},
		{"AAAA====", 0, "padding group"},
	};
	uint8_t out[64];
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum l3af_status rc = l3af_base64_decode(out, sizeof(out), &n, cases[i].in,
							 strlen(cases[i].in));
		if ((rc == L3AF_OK) != cases[i].ok)
			fail_msg("base64 '%s' (%s): got %s", cases[i].in, cases[i].why,
				 l3af_status_name(rc));
	}
}

static void test_base64_round_trip(void **state)
{
	uint8_t in[40], out[40];
	char text[64];
	size_t n;

	for (size_t len = 1; len <= sizeof(in); len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)(i * 37 + len);
		assert_int_equal(l3af_base64_encode(text, sizeof(text), in, len), L3AF_OK);
		assert_int_equal(strlen(text), l3af_base64_len(len));
		assert_int_equal(l3af_base64_decode(out, sizeof(out), &n, text, strlen(text)),
				 L3AF_OK);
		assert_int_equal(n, len);
		assert_memory_equal(in, out, len);
	}
	assert_int_equal(l3af_base64_encode(text, 4, in, 3), L3AF_E_LIMIT);
}

static void test_hex_and_decimal(void **state)
{
	uint8_t b[2];
	char hex[5];
	uint64_t v;

	l3af_hex_encode(hex, (const uint8_t *)"\xab\x01", 2);
	assert_string_equal(hex, "ab01");
	assert_int_equal(l3af_hex_decode(b, 2, "ab01", 4), L3AF_OK);
	assert_int_equal(l3af_hex_decode(b, 2, "AB01", 4), L3AF_E_INVALID);
	assert_int_equal(l3af_hex_decode(b, 2, "ab0", 3), L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("0", 1, 10, &v), L3AF_OK);
	assert_int_equal(v, 0);
	assert_int_equal(l3af_parse_u64("9223372036854775807", 19, INT64_MAX, &v), L3AF_OK);
	assert_int_equal(l3af_parse_u64("9223372036854775808", 19, INT64_MAX, &v), L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("18446744073709551616", 20, UINT64_MAX, &v),
			 L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("01", 2, 10, &v), L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("+1", 2, 10, &v), L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("", 0, 10, &v), L3AF_E_INVALID);
	assert_int_equal(l3af_parse_u64("11", 2, 10, &v), L3AF_E_INVALID);
}

static void test_error_buffer(void **state)
{
	struct l3af_err err = {0};

	assert_int_equal(l3af_fail(&err, L3AF_E_IO, "first %d", 1), L3AF_E_IO);
	assert_int_equal(l3af_fail(&err, L3AF_E_VERIFY, "second"), L3AF_E_VERIFY);
	assert_int_equal(err.code, L3AF_E_IO);
	assert_string_equal(err.msg, "first 1");
	l3af_err_prefix(&err, "context %s", "here");
	assert_string_equal(err.msg, "context here: first 1");
	l3af_err_clear(&err);
	l3af_err_prefix(&err, "ignored");
	assert_string_equal(err.msg, "");
	assert_int_equal(l3af_fail(NULL, L3AF_E_LIMIT, "no buffer"), L3AF_E_LIMIT);
	assert_string_equal(l3af_status_name(L3AF_E_CORRUPT), "corrupt");
}

static void test_files(void **state)
{
	char *dir = tu_tempdir("common"), path[4096], *buf = NULL;
	size_t len = 0;
	struct stat st;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/secret", dir);
	assert_int_equal(l3af_file_create(path, "abc", 3, 0600, NULL), L3AF_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(l3af_file_create(path, "x", 1, 0600, NULL), L3AF_E_EXISTS);
	assert_int_equal(l3af_file_replace(path, "defg", 4, 0644, NULL), L3AF_OK);
	assert_int_equal(l3af_file_read(path, 100, &buf, &len, NULL), L3AF_OK);
	assert_int_equal(len, 4);
	assert_string_equal(buf, "defg");
	l3af_free(buf);
	assert_int_equal(l3af_file_read(path, 3, &buf, &len, NULL), L3AF_E_LIMIT);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(l3af_file_read(path, 3, &buf, &len, NULL), L3AF_E_NOTFOUND);
	umask(old);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_table),  cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_hex_and_decimal), cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
