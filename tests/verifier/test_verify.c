/*
 * test_verify.c - libl3af-verify offline checks over a real log (vsuite.h),
 * the log side: request, signatures, inclusion, checkpoint keys, quorum and
 * age, policy configuration, consistency, several reasons at once. For every
 * check an allowed case and denied cases with the reason code asserted,
 * through the public header only. The package side: test_verify_pkg.c.
 */
#include "vsuite.h"

#include <sys/stat.h>

static void test_allow(void **state)
{
	(void)state;
	expect(check(&(struct call){ .p = &ok }), L3AF_VERIFY_ALLOW, NULL);
	/* Any 2 of 3 witnesses meet the quorum; "any" of one. */
	expect(check(&(struct call){ .p = &ok, .tail = "group g any w2 w1\nquorum g\n" }),
	       L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &ok, .tail = "quorum w0\n" }), L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &ok, .tail = "quorum none\n", .dev = true }),
	       L3AF_VERIFY_ALLOW, NULL);
}

static void test_request_mismatch(void **state)
{
	uint8_t *bad = malloc(ok.art_len);

	(void)state;
	memcpy(bad, ok.art, ok.art_len);
	bad[ok.art_len / 2] ^= 1;
	expect(check(&(struct call){ .p = &ok, .art = bad, .art_len = ok.art_len }),
	       L3AF_VERIFY_DENY, "artifact_digest");
	free(bad);
	expect(check(&(struct call){ .p = &ok, .name = "ratelimiting2" }), L3AF_VERIFY_DENY, "name");
	expect(check(&(struct call){ .p = &ok, .version = "1.0.1" }), L3AF_VERIFY_DENY, "version");
	expect(check(&(struct call){ .p = &ok, .platform = "linux/arm64" }), L3AF_VERIFY_DENY,
	       "platform");
	expect(check(&(struct call){ .p = &ok, .file = "x.tar.gz" }), L3AF_VERIFY_DENY, "file_name");
}

static void test_publisher_signature(void **state)
{
	(void)state;
	expect(check(&(struct call){ .p = &unknown_key }), L3AF_VERIFY_DENY, "signature");
	expect(check(&(struct call){ .p = &beta_key }), L3AF_VERIFY_DENY, "signature");
	expect(check(&(struct call){ .p = &outside_ns }), L3AF_VERIFY_DENY, "namespace");
	expect(check(&(struct call){ .p = &wrong_pub }), L3AF_VERIFY_DENY, "publisher");
}

static void test_inclusion(void **state)
{
	char *b = vfx_bundle(&F, ok.index, two), *line, *end;

	(void)state;
	/* Flip a character of the first proof hash (line 4). */
	line = strchr(strchr(strchr(b, '\n') + 1, '\n') + 1, '\n') + 1;
	line[5] = line[5] == 'A' ? 'B' : 'A';
	expect(check(&(struct call){ .p = &ok, .bundle = b }), L3AF_VERIFY_DENY, "inclusion");
	free(b);
	/* Truncated: drop the first proof hash line. */
	b = vfx_bundle(&F, ok.index, two);
	line = strchr(strchr(strchr(b, '\n') + 1, '\n') + 1, '\n') + 1;
	end = strchr(line, '\n') + 1;
	memmove(line, end, strlen(end) + 1);
	expect(check(&(struct call){ .p = &ok, .bundle = b }), L3AF_VERIFY_DENY, "inclusion");
	free(b);
	expect(check(&(struct call){ .p = &ok, .bundle = "not a bundle\n" }), L3AF_VERIFY_DENY,
	       "bundle");
}

static void test_checkpoint_keys(void **state)
{
	struct signer_key *k = NULL;
	struct signer_vkey vk;
	char text[SIGNER_VKEY_TEXT_MAX], *b, *sig;

	(void)state;
	/* A policy whose log key is another key of the same name. */
	assert_int_equal(signer_key_generate(VFX_ORIGIN, SIGNER_TYPE_ED25519, &k, NULL), L3AF_OK);
	signer_key_vkey(k, &vk);
	signer_vkey_format(&vk, text);
	signer_key_free(k);
	{
		struct l3af_verify_config *cfg = NULL;
		struct l3af_verify_result *res = NULL;
		struct l3af_verify_request req;
		char err[L3AF_VERIFY_ERR_BYTES], *policy = NULL, *st = tu_tempdir("vstate");

		assert_true(asprintf(&policy, "log %s\nwitness w0 %s\nquorum w0\n", text,
				     F.wvkey[0]) > 0);
		assert_int_equal(l3af_verify_config_new(&cfg, err), L3AF_VERIFY_OK);
		assert_int_equal(l3af_verify_config_trust_policy(cfg, policy, strlen(policy), err),
				 L3AF_VERIFY_OK);
		assert_int_equal(l3af_verify_config_state_dir(cfg, st, err), L3AF_VERIFY_OK);
		b = vfx_bundle(&F, ok.index, two);
		memset(&req, 0, sizeof(req));
		req = (struct l3af_verify_request){ .name = ok.name, .version = ok.version,
			.platform = ok.platform, .file_name = ok.file, .artifact = ok.art,
			.artifact_len = ok.art_len, .bundle = b, .bundle_len = strlen(b) };
		assert_int_equal(l3af_verify_check(cfg, &req, &res, err), L3AF_VERIFY_OK);
		expect(res, L3AF_VERIFY_DENY, "log_key_unknown");
		free(b);
		free(policy);
		l3af_verify_config_free(cfg);
		tu_rmtree(st);
	}
	/* The log's own signature line damaged: a known key fails. */
	b = vfx_bundle(&F, ok.index, two);
	sig = strstr(b, "\xe2\x80\x94 " VFX_ORIGIN " ");
	assert_non_null(sig);
	sig += strlen("\xe2\x80\x94 " VFX_ORIGIN " ") + 30;
	*sig = *sig == 'A' ? 'B' : 'A';
	expect(check(&(struct call){ .p = &ok, .bundle = b }), L3AF_VERIFY_DENY, "log_signature");
	free(b);
}

static void test_quorum_and_age(void **state)
{
	static const uint64_t one[VFX_NWITNESS] = { VFX_NOW - 60, 0, 0 };
	static const uint64_t stale[VFX_NWITNESS] = { VFX_NOW - 100000, VFX_NOW - 90000, 0 };
	char *b = vfx_bundle(&F, ok.index, one);

	(void)state;
	expect(check(&(struct call){ .p = &ok, .bundle = b }), L3AF_VERIFY_DENY, "quorum");
	free(b);
	b = vfx_bundle(&F, ok.index, stale);
	expect(check(&(struct call){ .p = &ok, .bundle = b,
				     .node = "{\"max_checkpoint_age\":3600}" }),
	       L3AF_VERIFY_UNDECIDED, "checkpoint_stale");
	expect(check(&(struct call){ .p = &ok, .bundle = b,
				     .node = "{\"max_checkpoint_age\":200000}" }),
	       L3AF_VERIFY_ALLOW, NULL);
	free(b);
	/* a cosignature dated an hour ahead of the node's clock: never fresh */
	static const uint64_t future[VFX_NWITNESS] = { VFX_NOW + 3600, VFX_NOW - 60, 0 };
	b = vfx_bundle(&F, ok.index, future);
	expect(check(&(struct call){ .p = &ok, .bundle = b }), L3AF_VERIFY_DENY,
	       "checkpoint_future");
	free(b);
	b = vfx_bundle(&F, ok.index, NULL);
	expect(check(&(struct call){ .p = &ok, .bundle = b, .tail = "quorum none\n", .dev = true,
				     .node = "{\"max_checkpoint_age\":3600}" }),
	       L3AF_VERIFY_DENY, "checkpoint_age_unknown");
	free(b);
}

static void test_policy_config(void **state)
{
	struct l3af_verify_config *cfg = NULL;
	char err[L3AF_VERIFY_ERR_BYTES], *p = vfx_policy(&F, "quorum none\n");
	static const char *const bad[] = {
		"quorum w0\nquorum w1\n", "group g 3 w0 w1\nquorum g\n", "group g any w0 w0\nquorum g\n",
		"group g any none\nquorum g\n", "quorum nobody\n", "witness w0 x+1+2\nquorum w0\n",
		"quorum w0",
	};

	(void)state;
	assert_int_equal(l3af_verify_config_new(&cfg, err), L3AF_VERIFY_OK);
	/* quorum none needs the development flag */
	assert_int_equal(l3af_verify_config_trust_policy(cfg, p, strlen(p), err),
			 L3AF_VERIFY_E_CONFIG);
	assert_non_null(strstr(err, "development"));
	free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		p = vfx_policy(&F, bad[i]);
		if (l3af_verify_config_trust_policy(cfg, p, strlen(p), err) != L3AF_VERIFY_E_CONFIG)
			fail_msg("policy tail '%s' accepted", bad[i]);
		free(p);
	}
	assert_int_equal(l3af_verify_config_node_policy(cfg, "{\"nope\":1}", 10, err),
			 L3AF_VERIFY_E_CONFIG);
	assert_int_equal(l3af_verify_config_node_policy(cfg, "{\"a\":1,\"a\":1}", 13, err),
			 L3AF_VERIFY_E_CONFIG);
	l3af_verify_config_free(cfg);
}

static void test_consistency(void **state)
{
	char *st = tu_tempdir("vstate"), *b = vfx_bundle(&F, ok.index, two), *proof, *fb, *path;
	struct vfx fork = F;
	struct l3af_err err = { 0 };
	char cmd[1024];
	uint64_t size = tlog_size(F.log);

	(void)state;
	/* First use: b1 (size s1) accepted and stored. */
	expect(check(&(struct call){ .p = &ok, .bundle = b1, .state = st }), L3AF_VERIFY_ALLOW, NULL);
	/* A newer tree without a consistency proof cannot be decided offline. */
	expect(check(&(struct call){ .p = &ok, .bundle = b, .state = st }), L3AF_VERIFY_UNDECIDED,
	       "consistency_unproven");
	proof = vfx_consistency(&F, s1, size);
	expect(check(&(struct call){ .p = &ok, .bundle = b, .state = st, .consistency = proof }),
	       L3AF_VERIFY_ALLOW, NULL);
	/* Now the state holds the larger tree: the older bundle is a rollback... */
	expect(check(&(struct call){ .p = &ok, .bundle = b1, .state = st }), L3AF_VERIFY_DENY,
	       "rollback");
	/* ...unless a proof shows it is a prefix. */
	expect(check(&(struct call){ .p = &ok, .bundle = b1, .state = st, .consistency = proof }),
	       L3AF_VERIFY_ALLOW, NULL);
	/* A proof that does not verify: inconsistent, with evidence kept. */
	{
		char *h = strstr(proof, "\"proof\":[\"") + strlen("\"proof\":[\"");

		*h = *h == 'A' ? 'B' : 'A';
	}
	{
		struct l3af_verify_result *res = check(&(struct call){ .p = &ok, .bundle = b1,
								       .state = st,
								       .consistency = proof });

		assert_false(l3af_verify_result_has(res, "fork"));
		assert_non_null(strstr(l3af_verify_result_json(res), "/evidence/inconsistent-"));
		expect(res, L3AF_VERIFY_DENY, "inconsistent");
	}
	free(proof);
	/* The fork: same key and origin, same size, another root. */
	snprintf(fork.logdir, sizeof(fork.logdir), "%s", forkdir);
	if (tlog_open(forkdir, TLOG_OPEN_WRITER, &fork.log, &err) != L3AF_OK)
		fail_msg("open fork: %s", err.msg);
	vfx_fill(&fork, (unsigned)(size - tlog_size(fork.log)));
	assert_int_equal(tlog_size(fork.log), size);
	fb = vfx_bundle(&fork, ok.index, two);
	tlog_close(fork.log);
	{
		struct l3af_verify_result *res =
			check(&(struct call){ .p = &ok, .bundle = fb, .state = st });
		const char *json = l3af_verify_result_json(res);

		assert_non_null(strstr(json, "\"evidence\":\""));
		path = strstr(json, "\"evidence\":\"") + strlen("\"evidence\":\"");
		snprintf(cmd, sizeof(cmd), "%.*s", (int)(strchr(path, '"') - path), path);
		expect(res, L3AF_VERIFY_DENY, "fork");
	}
	{
		char *text = NULL;
		size_t len = 0;

		assert_int_equal(l3af_file_read(cmd, 1 << 20, &text, &len, NULL), L3AF_OK);
		assert_non_null(strstr(text, "\"stored\""));
		assert_non_null(strstr(text, "\"received\""));
		l3af_free(text);
	}
	free(fb);
	free(b);
	tu_rmtree(st);
}


/* Several failures are all reported, not just the first. */
static void test_every_reason(void **state)
{
	struct l3af_verify_result *res;

	(void)state;
	res = check(&(struct call){ .p = &helper, .version = "9", .platform = "linux/arm64",
				    .node = "{\"allowed_program_types\":[\"xdp\"]}" });
	assert_true(l3af_verify_result_has(res, "version"));
	assert_true(l3af_verify_result_has(res, "platform"));
	assert_true(l3af_verify_result_has(res, "helper"));
	assert_true(l3af_verify_result_has(res, "program_type"));
	assert_non_null(strstr(l3af_verify_result_json(res), "\"insns_sha256\":\""));
	expect(res, L3AF_VERIFY_DENY, NULL);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_request_mismatch),
		cmocka_unit_test(test_publisher_signature),
		cmocka_unit_test(test_inclusion),
		cmocka_unit_test(test_checkpoint_keys),
		cmocka_unit_test(test_quorum_and_age),
		cmocka_unit_test(test_policy_config),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_every_reason),
	};

	return cmocka_run_group_tests(tests, vsuite_setup, vsuite_teardown);
}
