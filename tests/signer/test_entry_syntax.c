/*
 * test_entry_syntax.c - the syntax rules of section 7 (publisher IDs,
 * package names, versions), the version order, namespace patterns and
 * platform strings, as tables. Run from test_entry.c's main.
 */
#include "entry_fixture.h"

#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* --- syntax ------------------------------------------------------------------- */

void test_syntax(void **state)
{
	static const struct { const char *s; int pub, name, version; } cases[] = {
		{ "acme", 1, 1, 1 },        { "a", 1, 1, 1 },          { "0day", 1, 1, 1 },
		{ "acme-fw.x_y", 1, 1, 1 }, { "Acme", 0, 1, 1 },       { "-acme", 0, 1, 0 },
		{ ".acme", 0, 1, 0 },       { "", 0, 0, 0 },           { "a b", 0, 0, 0 },
		{ "a/b", 0, 0, 0 },         { "1.0.0+git~rc1", 0, 0, 1 }, { "é", 0, 0, 0 },
		{ "a*", 0, 0, 0 },          { "v1.2", 1, 1, 1 },
	};
	char long65[66], long129[130];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct l3af_err err = { 0 };

		if ((signer_publisher_check(cases[i].s, &err) == L3AF_OK) != cases[i].pub)
			fail_msg("publisher '%s': %s", cases[i].s, err.msg);
		if ((signer_pkg_name_check(cases[i].s, NULL) == L3AF_OK) != cases[i].name)
			fail_msg("name '%s'", cases[i].s);
		if ((signer_version_check(cases[i].s, NULL) == L3AF_OK) != cases[i].version)
			fail_msg("version '%s'", cases[i].s);
	}
	memset(long65, 'a', 65);
	long65[65] = '\0';
	assert_int_equal(signer_publisher_check(long65, NULL), L3AF_E_INVALID);
	assert_int_equal(signer_pkg_name_check(long65, NULL), L3AF_E_INVALID);
	long65[64] = '\0';
	assert_int_equal(signer_publisher_check(long65, NULL), L3AF_OK);
	assert_int_equal(signer_pkg_name_check(long65, NULL), L3AF_OK);
	memset(long129, '1', 129);
	long129[129] = '\0';
	assert_int_equal(signer_version_check(long129, NULL), L3AF_E_INVALID);
	long129[128] = '\0';
	assert_int_equal(signer_version_check(long129, NULL), L3AF_OK);
	assert_int_equal(signer_publisher_check(NULL, NULL), L3AF_E_INVALID);
}

void test_version_cmp(void **state)
{
	static const struct { const char *a, *b; int want; } cases[] = {
		{ "1.0.0", "1.0.0", 0 },   { "1.10.0", "1.9.2", 1 },  { "1.9.2", "1.10.0", -1 },
		{ "2", "10", -1 },         { "1.0", "1.0.0", -1 },    { "1.0.0", "1.0", 1 },
		{ "1.0.0-rc1", "1.0.0", 1 }, /* "0-rc1" vs "0": bytewise, longer */
		{ "1.a", "1.b", -1 },      { "1.a", "1.10", 1 },      /* 'a' > '1' bytewise */
		{ "1.01", "1.1", -1 },     /* numerically equal: then bytewise */
		{ "1.1", "1.01", 1 },      { "007", "7", -1 },
		{ "99999999999999999999999", "99999999999999999999998", 1 },
		{ "1.2.3", "1.2.3.0", -1 }, { "1.0~1", "1.0", 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int got = signer_version_cmp(cases[i].a, cases[i].b);
		int back = signer_version_cmp(cases[i].b, cases[i].a);

		if (got != cases[i].want || back != -cases[i].want)
			fail_msg("cmp(%s, %s) = %d / %d, want %d", cases[i].a, cases[i].b, got,
				 back, cases[i].want);
	}
}

void test_namespace(void **state)
{
	static const struct { const char *pattern, *name; bool want; } cases[] = {
		{ "acme-*", "acme-fw", true },   { "acme-*", "acme-", true },
		{ "acme-*", "acme", false },     { "acme-*", "xacme-fw", false },
		{ "*", "anything", true },       { "ratelimiting", "ratelimiting", true },
		{ "ratelimiting", "ratelimiting2", false }, { "ratelimiting", "rate", false },
		{ "Acme*", "acme", false },
	};
	struct signer_keyset ks;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		memset(&ks, 0, sizeof(ks));
		ks.nnamespaces = 1;
		strcpy(ks.namespaces[0], cases[i].pattern);
		if (signer_namespace_match(&ks, cases[i].name) != cases[i].want)
			fail_msg("'%s' ~ '%s'", cases[i].pattern, cases[i].name);
	}
	/* several patterns: any one */
	ks.nnamespaces = 2;
	strcpy(ks.namespaces[0], "x-*");
	strcpy(ks.namespaces[1], "y");
	assert_true(signer_namespace_match(&ks, "y"));
	assert_true(signer_namespace_match(&ks, "x-1"));
	assert_false(signer_namespace_match(&ks, "z"));
	assert_false(signer_namespace_match(NULL, "y"));
}

void test_platform(void **state)
{
	static const struct { const char *json, *want; } cases[] = {
		{ "{\"os\":\"linux\",\"arch\":\"amd64\"}", "linux/amd64" },
		{ "{\"os\":\"linux\",\"arch\":\"arm64\",\"distro\":\"bookworm\"}",
		  "linux/arm64/bookworm" },
		{ "{\"os\":\"linux\",\"arch\":\"amd64\",\"other\":1}", "linux/amd64" },
		{ "{\"os\":\"linux\"}", NULL },
		{ "{\"os\":\"linux\",\"arch\":\"\"}", NULL },
		{ "{\"os\":\"linux\",\"arch\":\"a/b\"}", NULL },
		{ "{\"os\":\"linux\",\"arch\":\"a\\u0001\"}", NULL },
		{ "{\"os\":\"linux\",\"arch\":\"amd 64\"}", NULL },
		{ "{\"os\":\"linux\",\"arch\":\"amd64\",\"distro\":3}", NULL },
		{ "{\"os\":1,\"arch\":\"amd64\"}", NULL },
		{ "[]", NULL },
	};
	char out[SIGNER_PLATFORM_MAX + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		enum l3af_status rc = signer_platform_string(j, out, NULL);

		assert_non_null(j);
		if (cases[i].want) {
			assert_int_equal(rc, L3AF_OK);
			assert_string_equal(out, cases[i].want);
		} else if (rc != L3AF_E_INVALID) {
			fail_msg("platform %s accepted", cases[i].json);
		}
		json_decref(j);
	}
	{
		char arch[200];
		json_t *j;

		memset(arch, 'a', 199);
		arch[199] = '\0';
		j = json_pack("{s:s, s:s}", "os", "linux", "arch", arch);
		assert_int_equal(signer_platform_string(j, out, NULL), L3AF_E_INVALID);
		json_decref(j);
	}
}
