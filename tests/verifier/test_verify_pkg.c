/*
 * test_verify_pkg.c - libl3af-verify offline checks over a real log
 * (vsuite.h), the package side: versions and revocation, the archive, the
 * node policy, extract and file. Through the public header only.
 */
#include "vsuite.h"

#include <sys/stat.h>

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
		cmocka_unit_test(test_versions_revocation),
		cmocka_unit_test(test_archive),
		cmocka_unit_test(test_node_policy),
		cmocka_unit_test(test_extract_file),
	};

	return cmocka_run_group_tests(tests, vsuite_setup, vsuite_teardown);
}
