/*
 * test_bundle_query.c - GET /v1/bundle/sha256/<hex> with the optional
 * name, version and platform query parameters (docs/api.md): one artifact
 * logged as two versions of a package; without parameters the lowest index
 * answers, with them the matching entry, 404 when none matches, 400 for an
 * unknown or malformed parameter. Real log, real server, libcurl.
 */
#include "testutil.h"
#include "httputil.h"

#include "submit_fixture.h"

static uint64_t submit(struct fx *f, const char *env, const char *pkg)
{
	struct reply r;
	json_t *j;
	uint64_t idx;

	fx_post_submit(f->h, f->base, env, pkg, &r);
	if (r.status != 200)
		fail_msg("submit %s: %ld %s", pkg, r.status, r.body);
	j = fx_reply_json(&r);
	idx = (uint64_t)json_integer_value(json_object_get(j, "index"));
	json_decref(j);
	reply_free(&r);
	return idx;
}

/* The entry index and version of the bundle at path (200 asserted). */
static uint64_t bundle_index(struct fx *f, const char *path, char version[static 129])
{
	struct tlog_bundle *b = calloc(1, sizeof(*b));
	struct signer_entry e;
	struct l3af_err err = {0};
	struct reply r;
	uint64_t idx;

	assert_non_null(b);
	fx_get_ok(f, path, &r);
	if (tlog_bundle_parse((const char *)r.body, r.len, b, &err) != L3AF_OK)
		fail_msg("bundle of %s: %s", path, err.msg);
	memset(&e, 0, sizeof(e));
	assert_int_equal(signer_entry_parse(b->entry, b->entry_len, &e, NULL), L3AF_OK);
	assert_int_equal(e.kind, SIGNER_ENTRY_PACKAGE);
	snprintf(version, 129, "%s", e.pkg.version);
	idx = b->proof.index;
	signer_entry_clear(&e);
	reply_free(&r);
	free(b);
	return idx;
}

static void expect_status(struct fx *f, const char *path, long status)
{
	struct reply r;

	http_get(f->h, f->base, path, &r);
	if (r.status != status)
		fail_msg("GET %s: want %ld, got %ld %s", path, status, r.status, r.body);
	reply_free(&r);
}

static void test_bundle_by_version(void **state)
{
	struct fx f;
	char *pkg, *env1, *env2, *bytes, hex[65], path[512], v[129];
	size_t len = 0;
	uint8_t sha[32];
	uint64_t i1, i2;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-q", "tc_count.bpf.o", "# q\n");
	bytes = fx_read_all(pkg, &len);
	assert_int_equal(l3af_sha256(bytes, len, sha), L3AF_OK);
	l3af_free(bytes);
	l3af_hex_encode(hex, sha, 32);
	env1 = fx_sign_package(pkg, "1.0.0", f.acme);
	env2 = fx_sign_package(pkg, "1.0.1", f.acme);
	i1 = submit(&f, env1, pkg);
	i2 = submit(&f, env2, pkg);
	assert_true(i2 > i1);

	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s", hex);
	assert_int_equal(bundle_index(&f, path, v), i1);
	assert_string_equal(v, "1.0.0");
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?version=1.0.1", hex);
	assert_int_equal(bundle_index(&f, path, v), i2);
	assert_string_equal(v, "1.0.1");
	snprintf(path, sizeof(path),
		 "/v1/bundle/sha256/%s?name=acme-q&version=1.0.1&platform=linux%%2Famd64", hex);
	assert_int_equal(bundle_index(&f, path, v), i2);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?name=acme-q&version=1.0.0", hex);
	assert_int_equal(bundle_index(&f, path, v), i1);
	/* nothing matches: 404 */
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?version=9.9.9", hex);
	expect_status(&f, path, 404);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?platform=linux%%2Farm64", hex);
	expect_status(&f, path, 404);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?name=acme-other", hex);
	expect_status(&f, path, 404);
	/* unknown, repeated or malformed parameters: 400 */
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?bogus=1", hex);
	expect_status(&f, path, 400);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?version=1.0.0&version=1.0.1", hex);
	expect_status(&f, path, 400);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s?name=bad%%20name", hex);
	expect_status(&f, path, 400);

	l3af_free(env1), l3af_free(env2);
	free(pkg);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_by_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
