/*
 * test_submit_harden.c - POST /v1/submit and /v1/admin under hostile
 * conditions (docs/api.md "Which refusal"): the signature is checked before
 * the archive is read, an unnamed signature is tried only against the owner
 * of the package name, and DSSE's URL-safe unpadded base64 is accepted.
 * Limits and a failing log: test_submit_harden2.c.
 */
#include "testutil.h"
#include "httputil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "submit_fixture.h"

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* The envelope with every signature's keyid set to "". */
static char *strip_keyid(const char *env)
{
	json_t *j = json_loads(env, JSON_REJECT_DUPLICATES, NULL), *sig;
	size_t i;
	char *out, *copy;

	assert_non_null(j);
	json_array_foreach(json_object_get(j, "signatures"), i, sig)
		json_object_set_new(sig, "keyid", json_string(""));
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	copy = strdup(out);
	free(out);
	return copy;
}

/* 1. A forged envelope with a broken archive: the signature is checked
 * first (403), not the archive (422 invalid_package); a signed envelope
 * with another artifact is digest_mismatch before the archive is read. */
static void test_signature_before_archive(void **state)
{
	struct fx f;
	struct reply r;
	char *pkg, *env_forged, *env_ok, bad[512];
	uint64_t size;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	pkg = fx_make_package(&f, "acme-one", "xdp_tail.bpf.o", "one\n");
	env_forged = fx_sign_package(pkg, "1.0.0", f.other);
	env_ok = fx_sign_package(pkg, "1.0.0", f.acme);
	snprintf(bad, sizeof(bad), "%s/bad", f.work);
	assert_int_equal(mkdir(bad, 0755), 0);
	snprintf(bad, sizeof(bad), "%s/bad/l3af_acme-one.tar.gz", f.work);
	write_text(bad, "this is not a gzip archive\n");
	size = fx_log_size(&f);
	fx_post_submit(f.h, f.base, env_forged, bad, &r);
	fx_expect_refusal(&r, 403, "signature");
	reply_free(&r);
	fx_post_submit(f.h, f.base, env_ok, bad, &r);
	fx_expect_refusal(&r, 422, "digest_mismatch");
	reply_free(&r);
	assert_int_equal(fx_log_size(&f), size);
	fx_post_submit(f.h, f.base, env_ok, pkg, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	l3af_free(env_forged);
	l3af_free(env_ok);
	free(pkg);
	fx_teardown(&f);
}

/* 2. A signature without keyid is tried only against the owner of the
 * package name. */
static void test_empty_keyid(void **state)
{
	struct fx f;
	struct reply r;
	char *p_own, *p_none, *p_beta, *e, *e2;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	fx_register(&f, "beta", "beta-*", f.other);
	p_own = fx_make_package(&f, "acme-nokey", "xdp_tail.bpf.o", "a\n");
	p_none = fx_make_package(&f, "zzz-nokey", "xdp_tail.bpf.o", "z\n");
	p_beta = fx_make_package(&f, "beta-nokey", "xdp_tail.bpf.o", "b\n");

	e = fx_sign_package(p_own, "1.0.0", f.acme);
	e2 = strip_keyid(e);
	fx_post_submit(f.h, f.base, e2, p_own, &r);
	if (r.status != 200)
		fail_msg("own: %ld %s", r.status, r.body);
	reply_free(&r);
	l3af_free(e);
	free(e2);

	/* nobody's namespace: no publisher is tried at all */
	e = fx_sign_package(p_none, "1.0.0", f.acme);
	e2 = strip_keyid(e);
	fx_post_submit(f.h, f.base, e2, p_none, &r);
	fx_expect_refusal(&r, 403, "unknown_publisher");
	reply_free(&r);
	l3af_free(e);
	free(e2);

	/* beta's namespace, acme's key: only beta is tried */
	e = fx_sign_package(p_beta, "1.0.0", f.acme);
	e2 = strip_keyid(e);
	fx_post_submit(f.h, f.base, e2, p_beta, &r);
	fx_expect_refusal(&r, 403, "signature");
	reply_free(&r);
	l3af_free(e);
	free(e2);
	free(p_own);
	free(p_none);
	free(p_beta);
	fx_teardown(&f);
}

/* 3. DSSE: verifiers MUST accept URL-safe and unpadded base64. */
static void test_urlsafe_payload(void **state)
{
	struct fx f;
	struct reply r;
	char *pkg, *env, *out, *copy;
	json_t *j;
	char *b64;
	size_t n, k = 0;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	for (int t = 0;; t++) {
		char name[32];
		/* a payload whose base64 changes: no padding, '-' or '_' */
		assert_true(t < 200);
		snprintf(name, sizeof(name), "acme-url%d", t);
		pkg = fx_make_package(&f, name, "xdp_tail.bpf.o", "url\n");
		env = fx_sign_package(pkg, "1.0.0", f.acme);
		j = json_loads(env, JSON_REJECT_DUPLICATES, NULL);
		b64 = strdup(json_string_value(json_object_get(j, "payload")));
		n = strlen(b64);
		k = 0;
		for (size_t i = 0; i < n; i++) {
			if (b64[i] == '=')
				continue;
			b64[k++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
		}
		b64[k] = '\0';
		if (k != n || strchr(b64, '-') || strchr(b64, '_'))
			break;
		free(b64);
		json_decref(j);
		l3af_free(env);
		free(pkg);
	}
	json_object_set_new(j, "payload", json_string(b64));
	out = json_dumps(j, JSON_COMPACT);
	copy = strdup(out);
	fx_post_submit(f.h, f.base, copy, pkg, &r);
	if (r.status != 200)
		fail_msg("url-safe payload: %ld %s", r.status, r.body);
	reply_free(&r);
	free(out);
	free(copy);
	free(b64);
	json_decref(j);
	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_before_archive),
		cmocka_unit_test(test_empty_keyid),
		cmocka_unit_test(test_urlsafe_payload),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
