/*
 * test_verify_pkg.c - libl3af-verify offline checks over a real log
 * (vsuite.h), the package side: versions and revocation, the archive, the
 * node policy, extract and file. Through the public header only.
 */
#include "vsuite.h"

#include <sys/stat.h>
#include <unistd.h>

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

/* Review fixes: recorded facts must name the manifest's BPF objects; the
 * verified-answer file name is refused at check time. */
static void test_objects_reserved(void **state)
{
	(void)state;
	expect(check(&(struct call){ .p = &objects_pkg }), L3AF_VERIFY_DENY, "objects_mismatch");
	expect(check(&(struct call){ .p = &reserved_pkg }), L3AF_VERIFY_DENY, "reserved_name");
}

/* The partial directory's name cannot be guessed: a symlink planted at the
 * old DIR.partial-<pid> name neither blocks nor redirects extract. */
static void test_extract_partial_name(void **state)
{
	char *st = tu_tempdir("vstate"), *out = tu_tempdir("vext"), *elsewhere = tu_tempdir("vel");
	char dir[700], trap[800], err[L3AF_VERIFY_ERR_BYTES], path[900];
	struct l3af_verify_result *res;
	struct stat sb;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pkg", out);
	snprintf(trap, sizeof(trap), "%s.partial-%ld", dir, (long)getpid());
	assert_int_equal(symlink(elsewhere, trap), 0);
	res = check(&(struct call){ .p = &ok, .state = st });
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_OK);
	l3af_verify_result_free(res);
	snprintf(path, sizeof(path), "%s/tc_count.bpf.o", dir);
	assert_int_equal(lstat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/tc_count.bpf.o", elsewhere);
	assert_int_equal(lstat(path, &sb), -1);
	tu_rmtree(st);
	tu_rmtree(out);
	tu_rmtree(elsewhere);
}

/* l3af_verify_file_open hands out the checked descriptor: replacing the
 * path afterwards does not change what the loader reads. */
static void test_file_open(void **state)
{
	char *st = tu_tempdir("vstate"), *out = tu_tempdir("vext"), dir[700], path[800], tmp[820];
	char err[L3AF_VERIFY_ERR_BYTES];
	struct l3af_verify_result *res, *fres = NULL;
	uint8_t *want = NULL, buf[1 << 16], h1[32], h2[32];
	size_t wlen = 0, got = 0;
	ssize_t n;
	int fd = -2;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pkg", out);
	res = check(&(struct call){ .p = &ok, .state = st });
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_OK);
	l3af_verify_result_free(res);
	snprintf(path, sizeof(path), "%s/tc_count.bpf.o", dir);
	assert_int_equal(l3af_file_read(path, 1 << 20, (char **)&want, &wlen, NULL), L3AF_OK);
	assert_int_equal(l3af_verify_file_open(dir, "tc_count.bpf.o", &fres, &fd, err),
			 L3AF_VERIFY_OK);
	assert_int_equal(l3af_verify_result_verdict(fres), L3AF_VERIFY_ALLOW);
	assert_true(fd >= 0);
	/* swap the file behind the name */
	snprintf(tmp, sizeof(tmp), "%s/swap", dir);
	vfx_write(dir, "swap", "not the object\n", 15);
	assert_int_equal(rename(tmp, path), 0);
	while ((n = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, wlen);
	assert_int_equal(l3af_sha256(buf, got, h1), L3AF_OK);
	assert_int_equal(l3af_sha256(want, wlen, h2), L3AF_OK);
	assert_memory_equal(h1, h2, 32);
	close(fd);
	l3af_verify_result_free(fres);
	/* a denied file gives no descriptor */
	assert_int_equal(l3af_verify_file_open(dir, "tc_count.bpf.o", &fres, &fd, err),
			 L3AF_VERIFY_OK);
	assert_int_equal(fd, -1);
	expect(fres, L3AF_VERIFY_DENY, "size");
	l3af_free(want);
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
		cmocka_unit_test(test_objects_reserved),
		cmocka_unit_test(test_extract_partial_name),
		cmocka_unit_test(test_file_open),
	};

	return cmocka_run_group_tests(tests, vsuite_setup, vsuite_teardown);
}
