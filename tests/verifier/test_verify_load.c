/*
 * test_verify_load.c - what l3afd does, for real: verify a package against
 * the log, extract it, re-check the object with l3af_verify_file_open and
 * load the bytes of that very descriptor into the kernel with libbpf. A
 * tampered extracted object is refused and never reaches the kernel.
 * Skipped, with the reason, where this process may not load BPF programs.
 */
#include "testutil.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

#include "vsuite.h"

/* The bytes behind fd (the descriptor l3af_verify_file_open checked). */
static uint8_t *read_fd(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	ssize_t r;

	assert_non_null(buf);
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			buf = realloc(buf, cap *= 2);
			assert_non_null(buf);
		}
	}
	assert_true(r == 0);
	*len = n;
	return buf;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static void test_verify_then_load(void **state)
{
	char *st = tu_tempdir("vload-state"), *out = tu_tempdir("vload"), dir[700], path[800];
	char err[L3AF_VERIFY_ERR_BYTES];
	struct l3af_verify_result *res, *fres = NULL;
	struct bpf_object *obj;
	struct bpf_program *prog;
	uint8_t *bytes;
	size_t len = 0;
	unsigned loaded = 0;
	int fd = -2, rc;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pkg", out);
	res = check(&(struct call){ .p = &ok, .state = st });
	assert_int_equal(l3af_verify_result_verdict(res), L3AF_VERIFY_ALLOW);
	assert_int_equal(l3af_verify_extract(res, dir, err), L3AF_VERIFY_OK);
	l3af_verify_result_free(res);
	assert_int_equal(l3af_verify_file_open(dir, "tc_count.bpf.o", &fres, &fd, err),
			 L3AF_VERIFY_OK);
	assert_int_equal(l3af_verify_result_verdict(fres), L3AF_VERIFY_ALLOW);
	assert_true(fd >= 0);
	l3af_verify_result_free(fres);
	bytes = read_fd(fd, &len);
	close(fd);

	libbpf_set_print(quiet);
	obj = bpf_object__open_mem(bytes, len, NULL);
	assert_non_null(obj);
	assert_int_equal(libbpf_get_error(obj), 0);
	rc = bpf_object__load(obj);
	if (rc == -EPERM || rc == -EACCES) {
		bpf_object__close(obj);
		free(bytes);
		tu_rmtree(st);
		tu_rmtree(out);
		print_message("SKIP: this process may not load BPF programs (%s); "
			      "run as root with CAP_BPF/CAP_SYS_ADMIN\n", strerror(-rc));
		skip();
	}
	assert_int_equal(rc, 0);
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {0};
		__u32 ilen = sizeof(info);
		assert_true(bpf_program__fd(prog) >= 0);
		assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &ilen), 0);
		assert_true(info.id > 0); /* the kernel holds it */
		loaded++;
	}
	assert_true(loaded > 0);
	bpf_object__close(obj);
	free(bytes);

	/* Tamper with the extracted object: file_open refuses it, no fd. */
	snprintf(path, sizeof(path), "%s/tc_count.bpf.o", dir);
	assert_int_equal(chmod(path, 0600), 0);
	f = fopen(path, "ab");
	assert_non_null(f);
	fputc(0, f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(l3af_verify_file_open(dir, "tc_count.bpf.o", &fres, &fd, err),
			 L3AF_VERIFY_OK);
	assert_int_equal(fd, -1);
	expect(fres, L3AF_VERIFY_DENY, NULL);
	tu_rmtree(st);
	tu_rmtree(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_then_load),
	};

	return cmocka_run_group_tests(tests, vsuite_setup, vsuite_teardown);
}
