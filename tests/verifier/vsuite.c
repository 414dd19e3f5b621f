/*
 * vsuite.c - the shared fixture of the libl3af-verify tests (vsuite.h).
 */
#include "vsuite.h"

struct vfx F;
struct vfx_pkg ok, old, helper, tail, exe, unknown_key, beta_key, outside_ns,
	wrong_pub, missing, extra, symlink_pkg, setuid_pkg, dotdot_pkg, objects_pkg, reserved_pkg,
	forged_ns_pkg, other_origin_pkg;
struct signer_privkey *stranger;
char *b1;                 /* bundle of ok at the early size s1 */
uint64_t s1;
char forkdir[600];

const uint64_t two[VFX_NWITNESS] = { VFX_NOW - 60, VFX_NOW - 30, 0 };

struct l3af_verify_result *check(const struct call *c)
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

void expect(struct l3af_verify_result *res, enum l3af_verify_verdict v, const char *code)
{
	if (l3af_verify_result_verdict(res) != v || (code && !l3af_verify_result_has(res, code)))
		fail_msg("want verdict %d%s%s, got %s", v, code ? " with " : "", code ? code : "",
			 l3af_verify_result_json(res));
	if (v == L3AF_VERIFY_ALLOW)
		assert_int_equal(l3af_verify_result_nreasons(res), 0);
	l3af_verify_result_free(res);
}

int vsuite_setup(void **state)
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
	/* Facts recorded under another file's name; a package file named as
	 * extract's verified answer. */
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-obj", .objects_file = "other.bpf.o" },
		    &objects_pkg);
	vfx_package(&F, &(struct vfx_spec){ .name = "acme-res", .reserved = true }, &reserved_pkg);
	/* Key sets whose admin request says something else than the entry:
	 * another namespace, another log's origin. */
	{
		uint64_t g = vfx_keyset(&F, "gamma", "gamma-*", F.acme, 3, NULL, "gamma-x"),
			 d = vfx_keyset(&F, "delta", "delta-*", F.acme, 4, "other.example/log",
					NULL);

		vfx_package(&F, &(struct vfx_spec){ .name = "gamma-a", .publisher = "gamma",
						    .keys_index = g }, &forged_ns_pkg);
		vfx_package(&F, &(struct vfx_spec){ .name = "delta-a", .publisher = "delta",
						    .keys_index = d }, &other_origin_pkg);
	}
	return 0;
}

int vsuite_teardown(void **state)
{
	struct vfx_pkg *all[] = { &ok, &old, &helper, &tail, &exe, &unknown_key, &beta_key,
				  &outside_ns, &wrong_pub, &missing, &extra, &symlink_pkg,
				  &setuid_pkg, &dotdot_pkg, &objects_pkg, &reserved_pkg,
				  &forged_ns_pkg, &other_origin_pkg };

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		vfx_pkg_free(all[i]);
	free(b1);
	signer_privkey_free(stranger);
	vfx_free(&F);
	return 0;
}
