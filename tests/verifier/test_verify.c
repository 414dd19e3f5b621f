/*
 * test_verify.c - libl3af-verify offline checks over a real log (vfixture):
 * for every check an allowed case and denied cases with the reason code
 * asserted, through the public header only.
 */
#include "vfixture.h"

#include "l3af_verify.h"

#include <sys/stat.h>

static struct vfx F;
static struct vfx_pkg ok, old, helper, tail, exe, unknown_key, beta_key, outside_ns,
	wrong_pub, missing, extra, symlink_pkg, setuid_pkg, dotdot_pkg;
static struct signer_privkey *stranger;
static char *b1;                 /* bundle of ok at the early size s1 */
static uint64_t s1;
static char forkdir[600];

#define GOOD_TAIL "group g 2 w0 w1 w2\nquorum g\n"
static const uint64_t two[VFX_NWITNESS] = { VFX_NOW - 60, VFX_NOW - 30, 0 };

struct call {
	const char *tail, *node, *bundle, *consistency, *state;
	const struct vfx_pkg *p;
	const char *name, *version, *platform, *file;
	const uint8_t *art;
	size_t art_len;
	bool dev;
};

static struct l3af_verify_result *check(const struct call *c)
{
	struct l3af_verify_config *cfg = NULL;
	struct l3af_verify_result *res = NULL;
	struct l3af_verify_request req;
	char err[L3AF_VERIFY_ERR_BYTES] = "", *policy = vfx_policy(&F, c->tail ? c->tail : GOOD_TAIL);
	char *state = c->state ? NULL : tu_tempdir("vstate"), *bundle = NULL;

	assert_int_equal(l3af_verify_config_new(&cfg, err), L3AF_VERIFY_OK);
	l3af_verify_config_allow_no_witnesses(cfg, c->dev);
	l3af_verify_config_set_time(cfg, (int64_t)VFX_NOW);
	if (l3af_verify_config_trust_policy(cfg, policy, strlen(policy), err) != L3AF_VERIFY_OK)
		fail_msg("policy: %s", err);
	if (c->node &&
	    l3af_verify_config_node_policy(cfg, c->node, strlen(c->node), err) != L3AF_VERIFY_OK)
		fail_msg("node policy: %s", err);
	assert_int_equal(l3af_verify_config_state_dir(cfg, c->state ? c->state : state, err),
			 L3AF_VERIFY_OK);
	if (!c->bundle)
		bundle = vfx_bundle(&F, c->p->index, two);
	memset(&req, 0, sizeof(req));
	req.name = c->name ? c->name : c->p->name;
	req.version = c->version ? c->version : c->p->version;
	req.platform = c->platform ? c->platform : c->p->platform;
	req.file_name = c->file ? c->file : c->p->file;
	req.artifact = c->art ? c->art : c->p->art;
	req.artifact_len = c->art ? c->art_len : c->p->art_len;
	req.bundle = c->bundle ? c->bundle : bundle;
	req.bundle_len = strlen(req.bundle);
	req.consistency = c->consistency;
	req.consistency_len = c->consistency ? strlen(c->consistency) : 0;
	if (l3af_verify_check(cfg, &req, &res, err) != L3AF_VERIFY_OK)
		fail_msg("check: %s", err);
	if (getenv("VFX_VERBOSE"))
		printf("%s\n", l3af_verify_result_json(res));
	l3af_verify_config_free(cfg);
	free(policy);
	free(bundle);
	tu_rmtree(state);
	return res;
}

static void expect(struct l3af_verify_result *res, enum l3af_verify_verdict v, const char *code)
{
	if (l3af_verify_result_verdict(res) != v || (code && !l3af_verify_result_has(res, code)))
		fail_msg("want verdict %d%s%s, got %s", v, code ? " with " : "", code ? code : "",
			 l3af_verify_result_json(res));
	if (v == L3AF_VERIFY_ALLOW)
		assert_int_equal(l3af_verify_result_nreasons(res), 0);
	l3af_verify_result_free(res);
}

static int setup(void **state)
{
	uint8_t *a;
	size_t n;
	char cmd[1400];

	(void)state;
	vfx_init(&F);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &stranger, NULL), L3AF_OK);
	vfx_package(&F, &(struct vfx_spec){ .name = NULL }, &ok);
	s1 = ok.index + 1;
	b1 = vfx_bundle(&F, ok.index, two);
	/* A fork: the same log key and origin, another history after s1. */
	vfx_close(&F);
	snprintf(forkdir, sizeof(forkdir), "%s/fork", F.dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", F.logdir, forkdir);
	assert_int_equal(system(cmd), 0);
	vfx_open(&F);
	vfx_package(&F, &(struct vfx_spec){ .version = "0.9.0" }, &old);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-probe", .object = "write_user.bpf.o" },
		    &helper);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-tail", .object = "xdp_tail.bpf.o" },
		    &tail);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-exe", .exe = true }, &exe);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-unk", .signer = stranger },
		    &unknown_key);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-b", .signer = F.beta }, &beta_key);
	vfx_package(&F, &(struct vfx_spec){ .name = "other" }, &outside_ns);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-wp", .keys_index = F.beta_keys },
		    &wrong_pub);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-miss", .drop_readme_from_archive = true },
		    &missing);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-extra", .extra_in_archive = true },
		    &extra);
	a = vfx_crafted_archive("acme-link", 's', &n);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-link", .art = a, .art_len = n },
		    &symlink_pkg);
	free(a);
	a = vfx_crafted_archive("acme-suid", 'u', &n);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-suid", .art = a, .art_len = n },
		    &setuid_pkg);
	free(a);
	a = vfx_crafted_archive("acme-dot", 'd', &n);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-dot", .art = a, .art_len = n },
		    &dotdot_pkg);
	free(a);
	return 0;
}

static int teardown(void **state)
{
	struct vfx_pkg *all[] = { &ok, &old, &helper, &tail, &exe, &unknown_key, &beta_key,
				  &outside_ns, &wrong_pub, &missing, &extra, &symlink_pkg,
				  &setuid_pkg, &dotdot_pkg };

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		vfx_pkg_free(all[i]);
	free(b1);
	signer_privkey_free(stranger);
	vfx_free(&F);
	return 0;
}

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
	/* A wrong proof is evidence of a fork. */
	{
		char *h = strstr(proof, "\"proof\":[\"") + strlen("\"proof\":[\"");

		*h = *h == 'A' ? 'B' : 'A';
	}
	expect(check(&(struct call){ .p = &ok, .bundle = b1, .state = st, .consistency = proof }),
	       L3AF_VERIFY_DENY, "fork");
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

static void test_versions_revocation(void **state)
{
	char *st = tu_tempdir("vstate"), node[512], hex[65];
	uint8_t h[32];

	(void)state;
	expect(check(&(struct call){ .p = &ok, .state = st }), L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &old, .state = st }), L3AF_VERIFY_DENY, "version_rollback");
	expect(check(&(struct call){ .p = &old, .state = st,
				     .node = "{\"pinned\":[{\"name\":\"ratelimiting\","
					     "\"version\":\"0.9.0\"}]}" }),
	       L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &ok, .state = st,
				     .node = "{\"pinned\":[{\"name\":\"ratelimiting\","
					     "\"version\":\"0.9.0\"}]}" }),
	       L3AF_VERIFY_DENY, "not_pinned");
	/* still 1.0.0 is the highest: the pinned 0.9.0 did not lower it */
	expect(check(&(struct call){ .p = &ok, .state = st }), L3AF_VERIFY_ALLOW, NULL);
	snprintf(node, sizeof(node), "{\"revoked\":[{\"index\":%llu,\"reason\":\"key leak\"}]}",
		 (unsigned long long)ok.index);
	expect(check(&(struct call){ .p = &ok, .node = node }), L3AF_VERIFY_DENY, "revoked");
	assert_int_equal(l3af_sha256(ok.art, ok.art_len, h), L3AF_OK);
	l3af_hex_encode(hex, h, 32);
	snprintf(node, sizeof(node), "{\"yanked\":[{\"sha256\":\"%s\"}]}", hex);
	expect(check(&(struct call){ .p = &ok, .node = node }), L3AF_VERIFY_DENY, "yanked");
	expect(check(&(struct call){ .p = &ok, .node = "{\"yanked\":[{\"name\":\"ratelimiting\","
						     "\"version\":\"2.0\"}]}" }),
	       L3AF_VERIFY_ALLOW, NULL);
	tu_rmtree(st);
}

static void test_archive(void **state)
{
	(void)state;
	expect(check(&(struct call){ .p = &missing }), L3AF_VERIFY_DENY, "manifest_missing");
	expect(check(&(struct call){ .p = &extra }), L3AF_VERIFY_DENY, "manifest_extra");
	expect(check(&(struct call){ .p = &symlink_pkg }), L3AF_VERIFY_DENY, "archive");
	expect(check(&(struct call){ .p = &setuid_pkg }), L3AF_VERIFY_DENY, "archive");
	expect(check(&(struct call){ .p = &dotdot_pkg }), L3AF_VERIFY_DENY, "archive");
}

static void test_node_policy(void **state)
{
	(void)state;
	/* write_user calls bpf_probe_write_user: denied by default... */
	expect(check(&(struct call){ .p = &helper }), L3AF_VERIFY_DENY, "helper");
	/* ...allowed with an empty deny-list; by ID too */
	expect(check(&(struct call){ .p = &helper, .node = "{\"denied_helpers\":[]}" }),
	       L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &helper, .node = "{\"denied_helpers\":[36]}" }),
	       L3AF_VERIFY_DENY, "helper");
	expect(check(&(struct call){ .p = &ok, .node = "{\"allowed_program_types\":[\"xdp\"]}" }),
	       L3AF_VERIFY_DENY, "program_type");
	expect(check(&(struct call){ .p = &ok,
				     .node = "{\"allowed_program_types\":[\"sched_cls\"]}" }),
	       L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &tail }), L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &tail, .node = "{\"allow_tail_calls\":false}" }),
	       L3AF_VERIFY_DENY, "tail_calls");
	expect(check(&(struct call){ .p = &exe }), L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &exe, .node = "{\"allow_user_binaries\":false}" }),
	       L3AF_VERIFY_DENY, "user_binary");
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

static void test_extract_file(void **state)
{
	char *st = tu_tempdir("vstate"), *out = tu_tempdir("vext"), dir[700], path[800];
	char err[L3AF_VERIFY_ERR_BYTES];
	struct l3af_verify_result *res, *fres = NULL;
	struct stat sb;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pkg", out);
	/* A denied result extracts nothing. */
	res = check(&(struct call){ .p = &helper, .state = st });
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_E_REFUSED);
	assert_int_equal(lstat(dir, &sb), -1);
	l3af_verify_result_free(res);
	res = check(&(struct call){ .p = &exe, .state = st });
	assert_int_equal(l3af_verify_result_verdict(res), L3AF_VERIFY_ALLOW);
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_OK);
	assert_int_equal(lstat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/run.sh", dir);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	snprintf(path, sizeof(path), "%s/tc_count.bpf.o", dir);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	/* An existing directory is refused. */
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_E_CONFIG);
	l3af_verify_result_free(res);
	/* file: every manifest file passes; tampering is caught. */
	assert_int_equal(l3af_verify_file(dir, "tc_count.bpf.o", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_ALLOW, NULL);
	assert_int_equal(l3af_verify_file(dir, "run.sh", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_ALLOW, NULL);
	assert_int_equal(l3af_verify_file(dir, "nope.o", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "not_in_manifest");
	assert_int_equal(l3af_verify_file(dir, "../x", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "path");
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(l3af_verify_file(dir, "tc_count.bpf.o", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "mode");
	assert_int_equal(chmod(path, 0644), 0);
	{
		FILE *fp = fopen(path, "r+b");

		assert_non_null(fp);
		assert_int_equal(fputc('X', fp), 'X');
		fclose(fp);
	}
	assert_int_equal(l3af_verify_file(dir, "tc_count.bpf.o", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "digest");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(l3af_verify_file(dir, "tc_count.bpf.o", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "symlink");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(l3af_verify_file(dir, "run.sh", &fres, err), L3AF_VERIFY_OK);
	expect(fres, L3AF_VERIFY_DENY, "dir_mode");
	tu_rmtree(st);
	tu_rmtree(out);
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
		cmocka_unit_test(test_versions_revocation),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_node_policy),
		cmocka_unit_test(test_every_reason),
		cmocka_unit_test(test_extract_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
