/*
 * test_submit_race.c - the write API under concurrency, in process (real
 * log, real server, real packages, libcurl):
 *   - 32 clients submitting distinct packages while reading the checkpoint,
 *     tiles, bundles and lookups for a few seconds: no error status, every
 *     admitted index distinct and present, lookups find them, tlog_fsck;
 *   - a key-set update racing submissions of the same publisher: every
 *     admitted package names (keys_index) the key set in force at its index
 *     and verifies under it; the old key is refused once the update is in.
 * Worker threads never assert (cmocka is not thread safe): they record
 * their first problem, which the main thread reports.
 */
#include "testutil.h"
#include "httputil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "submit_fixture.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The index of an accepted submission's answer (UINT64_MAX if none). */
static uint64_t answer_index(const struct reply *r, bool *existing)
{
	json_t *j = json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
	json_t *i = json_object_get(j, "index");
	uint64_t idx = json_is_integer(i) ? (uint64_t)json_integer_value(i) : UINT64_MAX;

	if (existing)
		*existing = json_is_true(json_object_get(j, "existing"));
	json_decref(j);
	return idx;
}

/* The parsed entry at index (from GET /v1/entry/<index>). */
static void entry_get(struct fx *f, uint64_t index, struct signer_entry *e)
{
	struct l3af_err err = {0};
	struct reply r;
	char path[64];

	snprintf(path, sizeof(path), "/v1/entry/%llu", (unsigned long long)index);
	fx_get_ok(f, path, &r);
	if (signer_entry_parse(r.body, r.len, e, &err) != L3AF_OK)
		fail_msg("entry %llu: %s", (unsigned long long)index, err.msg);
	reply_free(&r);
}

/* ---- 32 clients ---- */

enum { LOAD_THREADS = 32, LOAD_PKGS = 2 };
#define LOAD_SECONDS 3.0

struct loader {
	struct fx *f;
	double deadline;
	char name[LOAD_PKGS][32];
	char *pkg[LOAD_PKGS], *env[LOAD_PKGS];
	uint64_t index[LOAD_PKGS];
	size_t admitted, reads;
	char problem[256]; /* the first one; "" if none */
};

static void problem(struct loader *l, const char *what, const struct reply *r)
{
	if (l->problem[0])
		return;
	snprintf(l->problem, sizeof(l->problem), "%s: curl %d status %ld %.120s", what,
		 (int)r->curl, r->status, r->body ? (const char *)r->body : "");
}

static void get_checked(struct loader *l, CURL *h, const char *path, struct reply *r)
{
	http_get(h, l->f->base, path, r);
	if (r->curl != CURLE_OK || r->status != 200)
		problem(l, path, r);
	else
		l->reads++;
}

/* One round of reads: checkpoint, the tiles it implies, our bundles and lookups. */
static void read_round(struct loader *l, CURL *h)
{
	struct reply r;
	char path[128];
	unsigned long long size = 0;

	get_checked(l, h, "/checkpoint", &r);
	if (r.status == 200) {
		const char *nl = strchr((const char *)r.body, '\n');
		size = nl ? strtoull(nl + 1, NULL, 10) : 0;
	}
	reply_free(&r);
	if (size == 0 || size >= 256) {
		snprintf(path, sizeof(path), "checkpoint size %llu", size);
		problem(l, path, &r);
		return;
	}
	snprintf(path, sizeof(path), "/tile/0/000.p/%llu", size);
	get_checked(l, h, path, &r);
	if (r.status == 200 && r.len != size * 32)
		problem(l, "tile length", &r);
	reply_free(&r);
	snprintf(path, sizeof(path), "/tile/entries/000.p/%llu", size);
	get_checked(l, h, path, &r);
	reply_free(&r);
	for (size_t i = 0; i < l->admitted; i++) {
		char want[48];
		snprintf(path, sizeof(path), "/v1/bundle/%llu", (unsigned long long)l->index[i]);
		get_checked(l, h, path, &r);
		reply_free(&r);
		snprintf(path, sizeof(path), "/v1/lookup?name=%s", l->name[i]);
		get_checked(l, h, path, &r);
		snprintf(want, sizeof(want), "\"index\":%llu,", (unsigned long long)l->index[i]);
		if (r.status == 200 && !strstr((const char *)r.body, want))
			problem(l, "lookup without our index", &r);
		reply_free(&r);
	}
}

static void *loader_main(void *arg)
{
	struct loader *l = arg;
	CURL *h = curl_easy_init();
	struct reply r;

	for (size_t i = 0; i < LOAD_PKGS; i++) {
		bool existing = true;
		fx_post_submit(h, l->f->base, l->env[i], l->pkg[i], &r);
		if (r.curl != CURLE_OK || r.status != 200) {
			problem(l, l->name[i], &r);
		} else {
			l->index[l->admitted] = answer_index(&r, &existing);
			if (existing)
				problem(l, "a new package answered existing", &r);
			l->admitted++;
		}
		reply_free(&r);
		read_round(l, h);
	}
	while (now_s() < l->deadline && !l->problem[0])
		read_round(l, h);
	curl_easy_cleanup(h);
	return NULL;
}

static void test_many_clients(void **state)
{
	static struct loader l[LOAD_THREADS];
	pthread_t t[LOAD_THREADS];
	uint64_t *all = calloc(LOAD_THREADS * LOAD_PKGS, sizeof(*all)), size;
	size_t n = 0, reads = 0;
	struct fx f;
	double t0;

	(void)state;
	fx_setup(&f, NULL);
	fx_register(&f, "acme", "acme-*", f.acme);
	for (int i = 0; i < LOAD_THREADS; i++) {
		l[i] = (struct loader){.f = &f};
		for (int k = 0; k < LOAD_PKGS; k++) {
			snprintf(l[i].name[k], sizeof(l[i].name[k]), "acme-l%d-%d", i, k);
			l[i].pkg[k] = fx_make_package(&f, l[i].name[k],
						      (i + k) % 2 ? "tc_count.bpf.o"
								  : "xdp_tail.bpf.o",
						      l[i].name[k]);
			l[i].env[k] = fx_sign_package(l[i].pkg[k], "1.0.0", f.acme);
		}
	}
	t0 = now_s();
	for (int i = 0; i < LOAD_THREADS; i++) {
		l[i].deadline = t0 + LOAD_SECONDS;
		assert_int_equal(pthread_create(&t[i], NULL, loader_main, &l[i]), 0);
	}
	for (int i = 0; i < LOAD_THREADS; i++)
		pthread_join(t[i], NULL);
	size = tlog_size(f.log);
	for (int i = 0; i < LOAD_THREADS; i++) {
		if (l[i].problem[0])
			fail_msg("client %d: %s", i, l[i].problem);
		assert_int_equal(l[i].admitted, LOAD_PKGS);
		reads += l[i].reads;
		for (int k = 0; k < LOAD_PKGS; k++) {
			struct signer_entry e = {0};
			uint64_t idx = l[i].index[k];
			assert_true(idx >= 2 && idx < size);
			for (size_t m = 0; m < n; m++)
				assert_true(all[m] != idx);
			all[n++] = idx;
			assert_int_equal(fx_lookup_one(&f, l[i].name[k]), idx);
			entry_get(&f, idx, &e);
			assert_int_equal(e.kind, SIGNER_ENTRY_PACKAGE);
			assert_string_equal(e.pkg.name, l[i].name[k]);
			assert_int_equal(e.pkg.keys_index, 1);
			signer_entry_clear(&e);
			l3af_free(l[i].env[k]);
			free(l[i].pkg[k]);
		}
	}
	/* the genesis, the key set, and every package once */
	assert_int_equal(size, 2 + LOAD_THREADS * LOAD_PKGS);
	assert_true(reads >= LOAD_THREADS * LOAD_PKGS * 4);
	free(all);
	fx_teardown(&f); /* includes tlog_fsck */
}

/* ---- a key-set update racing submissions ---- */

enum { RACE_THREADS = 4, RACE_PKGS = 5 };

struct racer {
	struct fx *f;
	atomic_int *admitted;
	atomic_bool *updated; /* the update's answer came back */
	char name[RACE_PKGS][32];
	char *pkg[RACE_PKGS], *env_old[RACE_PKGS], *env_new[RACE_PKGS];
	uint64_t index[RACE_PKGS];
	int key[RACE_PKGS];        /* 1: admitted with the old key, 2: the new */
	bool old_refused[RACE_PKGS];
	char problem[256];
};

static void race_problem(struct racer *x, const char *what, const struct reply *r)
{
	if (!x->problem[0])
		snprintf(x->problem, sizeof(x->problem), "%s: curl %d status %ld %.120s", what,
			 (int)r->curl, r->status, r->body ? (const char *)r->body : "");
}

/* Each package with the old key; if that is refused (signature), the new. */
static void *racer_main(void *arg)
{
	struct racer *x = arg;
	CURL *h = curl_easy_init();
	struct reply r;
	char code[64];

	for (int i = 0; i < RACE_PKGS && !x->problem[0]; i++) {
		bool after = atomic_load(x->updated);
		fx_post_submit(h, x->f->base, x->env_old[i], x->pkg[i], &r);
		if (r.status == 200) {
			if (after)
				race_problem(x, "the old key admitted after the update", &r);
			x->index[i] = answer_index(&r, NULL);
			x->key[i] = 1;
			atomic_fetch_add(x->admitted, 1);
			reply_free(&r);
			continue;
		}
		if (r.status != 403 || strcmp(fx_error_code(&r, code), "signature") != 0) {
			race_problem(x, x->name[i], &r);
			reply_free(&r);
			break;
		}
		reply_free(&r);
		x->old_refused[i] = true;
		fx_post_submit(h, x->f->base, x->env_new[i], x->pkg[i], &r);
		if (r.status != 200) {
			race_problem(x, "the new key", &r);
		} else {
			x->index[i] = answer_index(&r, NULL);
			x->key[i] = 2;
			atomic_fetch_add(x->admitted, 1);
		}
		reply_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_keyset_update_race(void **state)
{
	static struct racer x[RACE_THREADS];
	pthread_t t[RACE_THREADS];
	atomic_int admitted = 0;
	atomic_bool updated = false;
	struct signer_privkey *k2 = NULL;
	struct signer_entry ks1 = {0}, ks2 = {0};
	struct reply r;
	struct fx f;
	uint64_t v1, v2;
	int with[3] = {0};
	char *env, *pkg;
	json_t *j;

	(void)state;
	fx_setup(&f, NULL);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &k2, NULL), L3AF_OK);
	v1 = fx_register(&f, "acme", "acme-*", f.acme);
	for (int i = 0; i < RACE_THREADS; i++) {
		x[i] = (struct racer){.f = &f, .admitted = &admitted, .updated = &updated};
		for (int k = 0; k < RACE_PKGS; k++) {
			snprintf(x[i].name[k], sizeof(x[i].name[k]), "acme-r%d-%d", i, k);
			x[i].pkg[k] = fx_make_package(&f, x[i].name[k], "xdp_tail.bpf.o",
						      x[i].name[k]);
			x[i].env_old[k] = fx_sign_package(x[i].pkg[k], "1.0.0", f.acme);
			x[i].env_new[k] = fx_sign_package(x[i].pkg[k], "1.0.0", k2);
		}
	}
	env = fx_admin_request(f.admin, "publisher.update", "acme", 2, "acme-*", k2);
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer_main, &x[i]), 0);
	/* update once some packages are in, while the others keep coming */
	while (atomic_load(&admitted) < RACE_THREADS)
		sched_yield();
	fx_post_json(f.h, f.base, "/v1/admin", env, "application/json", &r);
	if (r.status != 200)
		fail_msg("update: %ld %s", r.status, r.body);
	atomic_store(&updated, true);
	j = fx_reply_json(&r);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
	v2 = (uint64_t)json_integer_value(json_object_get(j, "index"));
	json_decref(j);
	reply_free(&r);
	l3af_free(env);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);

	entry_get(&f, v1, &ks1);
	entry_get(&f, v2, &ks2);
	assert_int_equal(ks1.kind, SIGNER_ENTRY_PUBLISHER_KEYS);
	assert_int_equal(ks2.kind, SIGNER_ENTRY_PUBLISHER_KEYS);
	assert_int_equal(ks2.keyset.version, 2);
	for (int i = 0; i < RACE_THREADS; i++) {
		if (x[i].problem[0])
			fail_msg("racer %d: %s", i, x[i].problem);
		for (int k = 0; k < RACE_PKGS; k++) {
			struct signer_entry e = {0};
			struct l3af_err err = {0};
			uint64_t idx = x[i].index[k];
			/* the key set in force at idx: the last version before it */
			uint64_t want = idx > v2 ? v2 : v1;
			assert_true(x[i].key[k] == 1 || x[i].key[k] == 2);
			assert_true(idx != v1 && idx != v2);
			with[x[i].key[k]]++;
			entry_get(&f, idx, &e);
			assert_int_equal(e.kind, SIGNER_ENTRY_PACKAGE);
			assert_string_equal(e.pkg.name, x[i].name[k]);
			if (e.pkg.keys_index != want)
				fail_msg("%s at %llu: keys_index %llu, want %llu", x[i].name[k],
					 (unsigned long long)idx,
					 (unsigned long long)e.pkg.keys_index,
					 (unsigned long long)want);
			/* signed with the key of that set, and verifies under it */
			assert_int_equal(x[i].key[k], want == v2 ? 2 : 1);
			if (signer_package_verify(&e.pkg, want == v2 ? &ks2.keyset : &ks1.keyset,
						  NULL, &err) != L3AF_OK)
				fail_msg("%s: %s", x[i].name[k], err.msg);
			assert_int_equal(fx_lookup_one(&f, x[i].name[k]), idx);
			signer_entry_clear(&e);
			l3af_free(x[i].env_old[k]), l3af_free(x[i].env_new[k]);
			free(x[i].pkg[k]);
		}
	}
	assert_true(with[1] >= RACE_THREADS);
	print_message("key-set race: %d packages with the old key set, %d with the new\n",
		      with[1], with[2]);

	/* after the update: the old key is refused, the new one admitted */
	pkg = fx_make_package(&f, "acme-after", "tc_count.bpf.o", "# after\n");
	env = fx_sign_package(pkg, "1.0.0", f.acme);
	fx_post_submit(f.h, f.base, env, pkg, &r);
	fx_expect_refusal(&r, 403, "signature");
	reply_free(&r);
	l3af_free(env);
	env = fx_sign_package(pkg, "1.0.0", k2);
	fx_post_submit(f.h, f.base, env, pkg, &r);
	assert_int_equal(r.status, 200);
	{
		struct signer_entry e = {0};
		entry_get(&f, answer_index(&r, NULL), &e);
		assert_int_equal(e.pkg.keys_index, v2);
		signer_entry_clear(&e);
	}
	reply_free(&r);
	l3af_free(env);
	free(pkg);
	assert_int_equal(tlog_size(f.log), 3 + RACE_THREADS * RACE_PKGS + 1);
	signer_entry_clear(&ks1);
	signer_entry_clear(&ks2);
	signer_privkey_free(k2);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_keyset_update_race),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
