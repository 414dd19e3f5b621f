/*
 * test_verify_admin.c - libl3af-verify with admin keys pinned in the trust
 * policy (our extension, docs/verifier.md "Admin keys"): the key-set entry
 * a package names must carry an admin request that verifies under them,
 * for this log, saying what the entry says; else keyset_authorisation.
 * Without admin lines the log alone decides (as before). Over the shared
 * real log (vsuite.h), through the public header only.
 */
#include "vsuite.h"

/* "admin <name> <base64 DER SPKI of key>\n" into out. */
static void admin_line(const char *name, const struct signer_privkey *key, char *out,
		       size_t cap)
{
	const struct signer_pubkey *pub = signer_privkey_pubkey(key);
	char b64[256];

	assert_int_equal(l3af_base64_encode(b64, sizeof(b64), pub->spki, pub->spki_len), L3AF_OK);
	snprintf(out, cap, "admin %s %s\n", name, b64);
}

static char *tail_with(const char *admins)
{
	char *t = NULL;

	assert_true(asprintf(&t, "%s" GOOD_TAIL, admins) > 0);
	return t;
}

static void test_admin_allows(void **state)
{
	char line[400], line2[400], both[1000], *t;

	(void)state;
	admin_line("root", F.admin, line, sizeof(line));
	t = tail_with(line);
	expect(check(&(struct call){ .p = &ok, .tail = t }), L3AF_VERIFY_ALLOW, NULL);
	/* another package under the same admin-authorised key set */
	expect(check(&(struct call){ .p = &exe, .tail = t }), L3AF_VERIFY_ALLOW, NULL);
	free(t);
	/* one of two admins, threshold 1 */
	admin_line("other", stranger, line2, sizeof(line2));
	snprintf(both, sizeof(both), "%s%sadmin-threshold 1\n", line2, line);
	t = tail_with(both);
	expect(check(&(struct call){ .p = &ok, .tail = t }), L3AF_VERIFY_ALLOW, NULL);
	free(t);
}

static void test_admin_denies(void **state)
{
	char line[400], line2[400], both[1000], *t;

	(void)state;
	/* pinned admin key is not the one that signed the request */
	admin_line("root", stranger, line, sizeof(line));
	t = tail_with(line);
	expect(check(&(struct call){ .p = &ok, .tail = t }), L3AF_VERIFY_DENY,
	       "keyset_authorisation");
	free(t);
	/* threshold 2 of the real admin and a stranger: one signature only */
	admin_line("root", F.admin, line, sizeof(line));
	admin_line("other", stranger, line2, sizeof(line2));
	snprintf(both, sizeof(both), "%s%sadmin-threshold 2\n", line, line2);
	t = tail_with(both);
	expect(check(&(struct call){ .p = &ok, .tail = t }), L3AF_VERIFY_DENY,
	       "keyset_authorisation");
	free(t);
	/* the right admin, but the request's params or origin are not the entry's */
	t = tail_with(line);
	expect(check(&(struct call){ .p = &forged_ns_pkg, .tail = t }), L3AF_VERIFY_DENY,
	       "keyset_authorisation");
	expect(check(&(struct call){ .p = &other_origin_pkg, .tail = t }), L3AF_VERIFY_DENY,
	       "keyset_authorisation");
	free(t);
	/* without admin keys the log alone decides: both pass */
	expect(check(&(struct call){ .p = &forged_ns_pkg }), L3AF_VERIFY_ALLOW, NULL);
	expect(check(&(struct call){ .p = &other_origin_pkg }), L3AF_VERIFY_ALLOW, NULL);
}

static void test_admin_policy_syntax(void **state)
{
	struct l3af_verify_config *cfg = NULL;
	char err[L3AF_VERIFY_ERR_BYTES], line[400], bad[1400], *p;
	const char *tails[6];

	(void)state;
	admin_line("root", F.admin, line, sizeof(line));
	assert_int_equal(l3af_verify_config_new(&cfg, err), L3AF_VERIFY_OK);
	snprintf(bad, sizeof(bad), "%s%s", line, line);
	tails[0] = bad;                              /* the same name twice */
	tails[1] = "admin root AAAA\n";              /* not a key */
	tails[2] = "admin-threshold 1\n";            /* no admin before it */
	tails[3] = "admin root\n";                   /* no key */
	tails[4] = NULL;
	for (size_t i = 0; tails[i]; i++) {
		p = vfx_policy(&F, tails[i]);
		char *full = NULL;

		assert_true(asprintf(&full, "%s" GOOD_TAIL, p) > 0);
		if (l3af_verify_config_trust_policy(cfg, full, strlen(full), err) !=
		    L3AF_VERIFY_E_CONFIG)
			fail_msg("admin tail %zu accepted", i);
		free(full);
		free(p);
	}
	/* two admin lines and no admin-threshold: the threshold must be chosen */
	{
		char line2[400];
		admin_line("second", stranger, line2, sizeof(line2));
		snprintf(bad, sizeof(bad), "%s%s" GOOD_TAIL, line, line2);
		p = vfx_policy(&F, bad);
		assert_int_equal(l3af_verify_config_trust_policy(cfg, p, strlen(p), err),
				 L3AF_VERIFY_E_CONFIG);
		assert_non_null(strstr(err, "admin-threshold"));
		free(p);
	}
	/* threshold above the admins */
	snprintf(bad, sizeof(bad), "%sadmin-threshold 2\n" GOOD_TAIL, line);
	p = vfx_policy(&F, bad);
	assert_int_equal(l3af_verify_config_trust_policy(cfg, p, strlen(p), err),
			 L3AF_VERIFY_E_CONFIG);
	free(p);
	/* after the quorum line: nothing may follow it */
	snprintf(bad, sizeof(bad), GOOD_TAIL "%s", line);
	p = vfx_policy(&F, bad);
	assert_int_equal(l3af_verify_config_trust_policy(cfg, p, strlen(p), err),
			 L3AF_VERIFY_E_CONFIG);
	free(p);
	l3af_verify_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_allows),
		cmocka_unit_test(test_admin_denies),
		cmocka_unit_test(test_admin_policy_syntax),
	};

	return cmocka_run_group_tests(tests, vsuite_setup, vsuite_teardown);
}
