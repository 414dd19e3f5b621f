/*
 * test_submit.c - the v1 write and query API end to end, in process: a real
 * log with its admin.root genesis entry, a real server on 127.0.0.1, libcurl
 * as the client, real publisher and admin keys, real eBPF objects compiled
 * by clang (tests/bpf/progs), real package archives. The refusals are in
 * test_submit_refusals.c.
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

/* ---- checks of answers ---- */

/* Parse and verify a bundle with the log's key; returns the entry index. */
static uint64_t verify_bundle(const struct fx *f, const char *text, size_t len,
			      bool want_keys)
{
	struct l3af_err err = {0};
	struct signer_vkey vk;
	struct tlog_checkpoint cp;
	struct signer_note_result nr;
	struct tlog_bundle *b = calloc(1, sizeof(*b));
	char *vtext, *path = NULL;
	size_t vlen = 0;
	uint64_t idx;

	assert_true(asprintf(&path, "%s/log.vkey", f->dir) > 0);
	vtext = fx_read_all(path, &vlen);
	while (vlen && vtext[vlen - 1] == '\n')
		vlen--;
	assert_int_equal(signer_vkey_parse(vtext, vlen, &vk, &err), L3AF_OK);
	assert_int_equal(tlog_bundle_parse(text, len, b, &err), L3AF_OK);
	assert_int_equal(signer_note_open(b->proof.checkpoint, b->proof.checkpoint_len, &vk, 1,
					  &nr, &err),
			 L3AF_OK);
	assert_int_equal(tlog_checkpoint_parse(b->proof.checkpoint, nr.text_len, &cp, &err),
			 L3AF_OK);
	if (tlog_bundle_verify(b, &cp, &err) != L3AF_OK)
		fail_msg("bundle verify: %s", err.msg);
	assert_int_equal(b->has_keys, want_keys);
	idx = b->proof.index;
	free(b);
	free(path);
	l3af_free(vtext);
	return idx;
}

static uint64_t tree_size(struct fx *f)
{
	return tlog_size(f->log);
}

static size_t lookup_count(struct fx *f, const char *query, uint64_t want_index)
{
	struct reply r;
	char path[256];
	json_t *j, *e;
	size_t i, n, hit = 0;

	snprintf(path, sizeof(path), "/v1/lookup?%s", query);
	fx_get_ok(f, path, &r);
	j = fx_reply_json(&r);
	n = json_array_size(json_object_get(j, "entries"));
	json_array_foreach(json_object_get(j, "entries"), i, e)
		hit += (uint64_t)json_integer_value(json_object_get(e, "index")) == want_index;
	assert_int_equal(hit, 1);
	json_decref(j);
	reply_free(&r);
	return n;
}

/* ---- the tests ---- */

static void test_submit_end_to_end(void **state)
{
	struct fx f;
	struct reply r;
	struct l3af_err err = {0};
	char *pkg, *env, path[256], hex[65], *bytes;
	size_t len = 0;
	uint64_t keys_idx, idx, size;
	json_t *j;
	uint8_t sha[32];

	(void)state;
	fx_setup(&f, NULL);
	keys_idx = fx_register(&f, "acme", "acme-*", f.acme);
	assert_int_equal(keys_idx, 1);
	pkg = fx_make_package(&f, "acme-xdp", "xdp_tail.bpf.o", "# acme xdp\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	fx_post_submit_as(f.h, f.base, env, pkg, NULL, &r);
	if (r.status != 200)
		fail_msg("submit: %ld %s", r.status, r.body);
	j = fx_reply_json(&r);
	idx = (uint64_t)json_integer_value(json_object_get(j, "index"));
	assert_int_equal(idx, 2);
	assert_false(json_boolean_value(json_object_get(j, "existing")));
	const char *bundle = json_string_value(json_object_get(j, "bundle"));
	assert_int_equal(verify_bundle(&f, bundle, strlen(bundle), true), idx);
	json_decref(j);
	reply_free(&r);

	/* bundle, entry, lookups */
	snprintf(path, sizeof(path), "/v1/bundle/%llu", (unsigned long long)idx);
	fx_get_ok(&f, path, &r);
	assert_int_equal(verify_bundle(&f, (char *)r.body, r.len, true), idx);
	reply_free(&r);
	bytes = fx_read_all(pkg, &len);
	assert_int_equal(l3af_sha256(bytes, len, sha), L3AF_OK);
	l3af_hex_encode(hex, sha, 32);
	l3af_free(bytes);
	snprintf(path, sizeof(path), "/v1/bundle/sha256/%s", hex);
	fx_get_ok(&f, path, &r);
	assert_int_equal(verify_bundle(&f, (char *)r.body, r.len, true), idx);
	reply_free(&r);
	assert_int_equal(lookup_count(&f, "name=acme-xdp", idx), 1);
	assert_int_equal(lookup_count(&f, "name=acme-xdp&version=1.0.0&platform=linux/amd64", idx),
			 1);
	snprintf(path, sizeof(path), "sha256=%s", hex);
	assert_int_equal(lookup_count(&f, path, idx), 1);
	{
		/* the program digest, as the test computes it from the object */
		struct ebpf_object *o = NULL;
		char *objp = NULL, *ob;
		size_t olen = 0;
		assert_true(asprintf(&objp, "%s/xdp_tail.bpf.o", L3AF_BPF_OBJ_DIR) > 0);
		ob = fx_read_all(objp, &olen);
		assert_int_equal(ebpf_inspect((uint8_t *)ob, olen, "x", &o, &err), L3AF_OK);
		l3af_hex_encode(hex, o->progs[0].insns_sha256, 32);
		snprintf(path, sizeof(path), "program=%s", hex);
		assert_int_equal(lookup_count(&f, path, idx), 1);
		ebpf_object_free(o);
		l3af_free(ob);
		free(objp);
	}
	snprintf(path, sizeof(path), "/v1/entry/%llu", (unsigned long long)idx);
	fx_get_ok(&f, path, &r);
	{
		uint8_t *stored = NULL;
		size_t slen = 0;
		assert_int_equal(tlog_entry_read(f.log, idx, &stored, &slen, &err), L3AF_OK);
		assert_int_equal(slen, r.len);
		assert_memory_equal(stored, r.body, slen);
		l3af_free(stored);
	}
	reply_free(&r);
	fx_get_ok(&f, "/v1/publishers/acme", &r);
	j = fx_reply_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), keys_idx);
	json_decref(j);
	reply_free(&r);
	fx_get_ok(&f, "/v1/proof/inclusion?index=1&size=3", &r);
	reply_free(&r);
	fx_get_ok(&f, "/v1/proof/consistency?old=1&new=3", &r);
	reply_free(&r);

	/* the same submission again: the same entry */
	size = tree_size(&f);
	fx_post_submit_as(f.h, f.base, env, pkg, NULL, &r);
	assert_int_equal(r.status, 200);
	j = fx_reply_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), idx);
	assert_true(json_boolean_value(json_object_get(j, "existing")));
	json_decref(j);
	reply_free(&r);
	assert_int_equal(tree_size(&f), size);

	/* across a restart, and with index.db deleted (rebuilt) */
	fx_server_stop(&f);
	snprintf(path, sizeof(path), "%s/index.db", f.dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/index.db-wal", f.dir);
	unlink(path);
	fx_server_start(&f);
	fx_post_submit_as(f.h, f.base, env, pkg, NULL, &r);
	assert_int_equal(r.status, 200);
	j = fx_reply_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), idx);
	assert_true(json_boolean_value(json_object_get(j, "existing")));
	json_decref(j);
	reply_free(&r);
	assert_int_equal(lookup_count(&f, "name=acme-xdp", idx), 1);
	assert_int_equal(tree_size(&f), size);

	/* metrics */
	fx_get_ok(&f, "/metrics", &r);
	assert_non_null(strstr((char *)r.body, "l3af_tree_size 3\n"));
	assert_non_null(strstr((char *)r.body, "l3af_requests_total{route=\"/v1/submit\",status=\"200\"}"));
	reply_free(&r);

	l3af_free(env);
	free(pkg);
	fx_teardown(&f);
}


/* A log without entries: the server starts, writes answer 503. A log whose
 * entry 0 is not admin.root: the server refuses to start. */
static void test_genesis(void **state)
{
	char *dir = tu_tempdir("genesis");
	struct l3af_err err = {0};
	struct tlog *log = NULL;
	struct api_server *srv = NULL;
	struct api_config cfg = {.listen = "127.0.0.1:0", .data_dir = dir};
	struct fx f = {0};
	struct reply r;
	uint64_t idx;

	(void)state;
	assert_int_equal(tlog_create(dir, FX_ORIGIN, &err), L3AF_OK);
	assert_int_equal(tlog_open(dir, TLOG_OPEN_WRITER, &log, &err), L3AF_OK);
	assert_int_equal(api_server_start(log, &cfg, &srv, &err), L3AF_OK);
	f.h = curl_easy_init();
	snprintf(f.base, sizeof(f.base), "http://127.0.0.1:%u", api_server_port(srv));
	fx_post_json(f.h, f.base, "/v1/admin", "{}", "application/json", &r);
	fx_expect_refusal(&r, 503, "no_admin_root");
	reply_free(&r);
	api_server_stop(srv);
	assert_int_equal(tlog_append(log, &(struct tlog_entry){(const uint8_t *)"{}", 2}, 1, &idx,
				     &err),
			 L3AF_OK);
	srv = NULL;
	assert_int_equal(api_server_start(log, &cfg, &srv, &err), L3AF_E_CORRUPT);
	assert_null(srv);
	/* a read-only server: the write routes are 404 */
	cfg.data_dir = NULL;
	assert_int_equal(api_server_start(log, &cfg, &srv, &err), L3AF_OK);
	snprintf(f.base, sizeof(f.base), "http://127.0.0.1:%u", api_server_port(srv));
	fx_post_json(f.h, f.base, "/v1/admin", "{}", "application/json", &r);
	fx_expect_refusal(&r, 404, "not_found");
	reply_free(&r);
	api_server_stop(srv);
	tlog_close(log);
	curl_easy_cleanup(f.h);
	tu_rmtree(dir);
}

/* ---- concurrency ---- */

struct worker {
	struct fx *f;
	char *pkg, *env;
	long status;
	uint64_t index;
	int reads_ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	CURL *h = curl_easy_init();
	struct reply r;

	fx_post_submit_as(h, w->f->base, w->env, w->pkg, NULL, &r);
	w->status = r.status;
	if (r.status == 200) {
		json_t *j = json_loadb((char *)r.body, r.len, 0, NULL);
		w->index = (uint64_t)json_integer_value(json_object_get(j, "index"));
		json_decref(j);
	}
	reply_free(&r);
	for (int i = 0; i < 5; i++) {
		http_get(h, w->f->base, "/checkpoint", &r);
		w->reads_ok += r.status == 200;
		reply_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_concurrent_submissions(void **state)
{
	enum { N = 8 };
	struct fx f;
	struct worker w[N];
	pthread_t t[N];
	char name[32];

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "acme-p%d", i);
		w[i] = (struct worker){.f = &f};
		w[i].pkg = fx_make_package(&f, name, i % 2 ? "tc_count.bpf.o" : "xdp_tail.bpf.o", name);
		w[i].env = fx_sign_package(w[i].pkg, "2.0.0", f.acme);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].status, 200);
		assert_int_equal(w[i].reads_ok, 5);
		for (int k = 0; k < i; k++)
			assert_true(w[k].index != w[i].index);
		snprintf(name, sizeof(name), "name=acme-p%d", i);
		assert_int_equal(lookup_count(&f, name, w[i].index), 1);
		l3af_free(w[i].env);
		free(w[i].pkg);
	}
	assert_int_equal(tree_size(&f), 2 + N);
	fx_teardown(&f); /* includes tlog_fsck */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_end_to_end),
		cmocka_unit_test(test_concurrent_submissions),
		cmocka_unit_test(test_genesis),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
