/*
 * test_submit_refusals.c - the v1 write API's refusals, in process (moved
 * out of test_submit.c; same fixture, tests/api/submit_fixture.c): every
 * refusal leaves the tree, the index and the checkpoint unchanged, and
 * bodies without a usable Content-Length are refused from the headers.
 */
#include "testutil.h"
#include "httputil.h"

#include <jansson.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "ebpf.h"
#include "signer.h"
#include "submit_fixture.h"

#ifndef L3AF_BPF_OBJ_DIR
#error "L3AF_BPF_OBJ_DIR must name the compiled test objects"
#endif

static uint64_t tree_size(struct fx *f)
{
	return tlog_size(f->log);
}

/* ---- the tests ---- */

/* Each refusal leaves the tree, the index and the checkpoint unchanged. */
struct snap {
	uint64_t size;
	char *checkpoint;
	size_t rows;
};

static void snap_take(struct fx *f, struct snap *s)
{
	struct reply r;
	json_t *j;

	s->size = tree_size(f);
	fx_get_ok(f, "/checkpoint", &r);
	s->checkpoint = strdup((char *)r.body);
	reply_free(&r);
	fx_get_ok(f, "/v1/lookup?name=acme-xdp", &r);
	j = fx_reply_json(&r);
	s->rows = json_array_size(json_object_get(j, "entries"));
	json_decref(j);
	reply_free(&r);
}

static void snap_same(struct fx *f, struct snap *before)
{
	struct snap now;

	snap_take(f, &now);
	assert_int_equal(now.size, before->size);
	assert_string_equal(now.checkpoint, before->checkpoint);
	assert_int_equal(now.rows, before->rows);
	free(now.checkpoint);
}

static void test_refusals(void **state)
{
	struct fx f;
	struct reply r;
	struct snap s;
	char *pkg, *pkg2, *pkgw, *env, *env_other, *env2, *envw, *adm;
	int64_t now = time(NULL);

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	fx_register(&f, "other", "other-*", f.other);
	pkg = fx_make_package(&f, "acme-xdp", "xdp_tail.bpf.o", "# v1\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	fx_post_submit_as(f.h, f.base, env, pkg, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	snap_take(&f, &s);

	/* another publisher's key */
	env_other = fx_sign_package(pkg, "1.0.1", f.other);
	fx_post_submit_as(f.h, f.base, env_other, pkg, NULL, &r);
	fx_expect_refusal(&r, 403, "signature");
	reply_free(&r);
	/* an unknown key */
	{
		struct signer_privkey *k = NULL;
		assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &k, NULL), L3AF_OK);
		char *e = fx_sign_package(pkg, "1.0.2", k);
		fx_post_submit_as(f.h, f.base, e, pkg, NULL, &r);
		fx_expect_refusal(&r, 403, "signature");
		reply_free(&r);
		l3af_free(e);
		signer_privkey_free(k);
	}
	/* outside the namespace: acme signs a package named other-x */
	pkg2 = fx_make_package(&f, "zeta-x", "tc_count.bpf.o", "# zeta\n");
	env2 = fx_sign_package(pkg2, "1.0.0", f.acme);
	fx_post_submit_as(f.h, f.base, env2, pkg2, NULL, &r);
	fx_expect_refusal(&r, 403, "namespace");
	reply_free(&r);
	/* a second digest for a used version */
	{
		char *p3 = fx_make_package(&f, "acme-xdp2", "tc_count.bpf.o", "# other\n");
		/* same name acme-xdp needs another archive: rename the folder */
		char *src = NULL, *out = NULL;
		struct l3af_err err = {0};
		assert_true(asprintf(&src, "%s/src-acme-xdp2", f.work) > 0);
		assert_true(asprintf(&out, "%s/v2/l3af_acme-xdp.tar.gz", f.work) > 0);
		char *d = NULL;
		assert_true(asprintf(&d, "%s/v2", f.work) > 0);
		assert_int_equal(mkdir(d, 0755), 0);
		assert_int_equal(ebpf_pkg_create(src, "acme-xdp", out, NULL, &err), L3AF_OK);
		char *e = fx_sign_package(out, "1.0.0", f.acme);
		fx_post_submit_as(f.h, f.base, e, out, NULL, &r);
		fx_expect_refusal(&r, 409, "conflict");
		reply_free(&r);
		/* artifact not the subject: the envelope of pkg with this archive */
		fx_post_submit_as(f.h, f.base, env, out, NULL, &r);
		fx_expect_refusal(&r, 422, "digest_mismatch");
		reply_free(&r);
		l3af_free(e);
		free(src), free(out), free(d), free(p3);
	}
	/* policy: bpf_probe_write_user is denied by default */
	pkgw = fx_make_package(&f, "acme-wu", "write_user.bpf.o", "# wu\n");
	envw = fx_sign_package(pkgw, "1.0.0", f.acme);
	fx_post_submit_as(f.h, f.base, envw, pkgw, NULL, &r);
	fx_expect_refusal(&r, 422, "policy");
	{
		json_t *j = fx_reply_json(&r);
		json_t *v = json_array_get(json_object_get(j, "violations"), 0);
		assert_string_equal(json_string_value(json_object_get(v, "rule")), "denied_helpers");
		json_decref(j);
	}
	reply_free(&r);
	/* malformed and duplicate-key JSON */
	fx_post_submit_as(f.h, f.base, "{\"payload\":", pkg, NULL, &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	fx_post_submit_as(f.h, f.base, "{\"payload\":\"\",\"payload\":\"\"}", pkg, NULL, &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	fx_post_json(f.h, f.base, "/v1/admin", "{\"a\":1,\"a\":2}", "application/json", &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	fx_post_json(f.h, f.base, "/v1/admin", "{}", "text/plain", &r);
	fx_expect_refusal(&r, 415, "unsupported_media_type");
	reply_free(&r);
	/* oversized envelope part */
	{
		size_t big = (1u << 20) + 10;
		char *e = malloc(big + 1);
		memset(e, ' ', big);
		e[big] = '\0';
		fx_post_submit_as(f.h, f.base, e, pkg, NULL, &r);
		fx_expect_refusal(&r, 413, "too_large");
		reply_free(&r);
		free(e);
	}
	/* routes and methods */
	http_get(f.h, f.base, "/v1/nothing", &r);
	fx_expect_refusal(&r, 404, "not_found");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/submit", &r);
	fx_expect_refusal(&r, 405, "method_not_allowed");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/entry/999", &r);
	fx_expect_refusal(&r, 404, "not_found");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/bundle/999", &r);
	fx_expect_refusal(&r, 404, "not_found");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/entry/01", &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/proof/inclusion?index=5&size=4", &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/proof/consistency?old=0&new=1", &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	http_get(f.h, f.base, "/v1/lookup?name=acme-xdp&evil=1", &r);
	fx_expect_refusal(&r, 400, "bad_request");
	reply_free(&r);
	http_get(f.h, f.base, "/tile/entries/../000", &r);
	assert_int_equal(r.status, 400);
	reply_free(&r);
	http_get(f.h, f.base, "/v1/publishers/nobody", &r);
	fx_expect_refusal(&r, 404, "not_found");
	reply_free(&r);
	/* admin: replay, expired, wrong key */
	adm = fx_admin_request_at(f.admin, "publisher.register", "third", 1, "third-*", f.acme,
			    now - 5, now + 300);
	fx_post_json(f.h, f.base, "/v1/admin", adm, "application/json", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	free(s.checkpoint);
	snap_take(&f, &s);
	fx_post_json(f.h, f.base, "/v1/admin", adm, "application/json", &r);
	fx_expect_refusal(&r, 409, "replay");
	reply_free(&r);
	l3af_free(adm);
	adm = fx_admin_request_at(f.admin, "publisher.register", "fourth", 1, "f-*", f.acme,
			    now - 900, now - 400);
	fx_post_json(f.h, f.base, "/v1/admin", adm, "application/json", &r);
	fx_expect_refusal(&r, 403, "expired");
	reply_free(&r);
	l3af_free(adm);
	adm = fx_admin_request_at(f.acme, "publisher.register", "fifth", 1, "f-*", f.acme, now - 5,
			    now + 300);
	fx_post_json(f.h, f.base, "/v1/admin", adm, "application/json", &r);
	fx_expect_refusal(&r, 403, "admin_signature");
	reply_free(&r);
	l3af_free(adm);
	adm = fx_admin_request_at(f.admin, "publisher.register", "acme", 1, "x-*", f.acme, now - 5,
			    now + 300);
	fx_post_json(f.h, f.base, "/v1/admin", adm, "application/json", &r);
	fx_expect_refusal(&r, 409, "conflict");
	reply_free(&r);
	l3af_free(adm);
	snap_same(&f, &s);
	free(s.checkpoint);

	l3af_free(env), l3af_free(env_other), l3af_free(env2), l3af_free(envw);
	free(pkg), free(pkg2), free(pkgw);
	fx_teardown(&f);
}

/* Send raw request bytes, return the status of the answer (0: none). */
static long raw_status(const struct fx *f, const char *req, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char buf[512] = "";
	ssize_t n;
	long status = 0;

	a.sin_port = htons(api_server_port(f->srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, len), (ssize_t)len);
	shutdown(fd, SHUT_WR);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 12)
		status = strtol(buf + 9, NULL, 10);
	close(fd);
	return status;
}

static void test_content_length(void **state)
{
	struct fx f;
	struct snap s;
	const char *no_len = "POST /v1/submit HTTP/1.1\r\nHost: x\r\n"
			     "Content-Type: multipart/form-data; boundary=b\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	const char *huge = "POST /v1/submit HTTP/1.1\r\nHost: x\r\n"
			   "Content-Type: multipart/form-data; boundary=b\r\n"
			   "Content-Length: 99999999999\r\n\r\n";
	const char *admin_huge = "POST /v1/admin HTTP/1.1\r\nHost: x\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: 2000000\r\n\r\n{}";
	/* declares 500 bytes, sends 20 and closes: nothing is appended */
	const char *lying = "POST /v1/submit HTTP/1.1\r\nHost: x\r\n"
			    "Content-Type: multipart/form-data; boundary=b\r\n"
			    "Content-Length: 500\r\n\r\n--b\r\nContent-Disp";

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	snap_take(&f, &s);
	assert_int_equal(raw_status(&f, no_len, strlen(no_len)), 411);
	assert_int_equal(raw_status(&f, huge, strlen(huge)), 413);
	assert_int_equal(raw_status(&f, admin_huge, strlen(admin_huge)), 413);
	(void)raw_status(&f, lying, strlen(lying));
	snap_same(&f, &s);
	free(s.checkpoint);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_content_length),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
