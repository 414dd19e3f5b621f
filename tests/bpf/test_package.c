/*
 * test_package.c - bpf/package.c: deterministic package archives (create),
 * safe reading of tar, tar.gz and zip (read), the manifest.
 *
 * Bad archives are real archives, built here with libarchive's writer (or
 * cut from one), so each refusal is the rule under test and not a parse
 * failure. Hashes are recomputed here with OpenSSL directly.
 */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "ebpf.h"

#define BUF_CAP (4u << 20)

/* --- fixtures ----------------------------------------------------------- */

/* A minimal little-endian ELF64 header: e_type REL, e_machine 247 (EM_BPF). */
static const uint8_t bpf_elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, [16] = 1, 0, 247, 0, 1};
/* The same with e_machine 62 (x86-64): a user-space object. */
static const uint8_t x86_elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, [16] = 2, 0, 62, 0, 1};
static const char sh_exe[] = "#!/bin/sh\necho ratelimiting\n";
static const char readme[] = "# ratelimiting\n";
static const char license[] = "Dual BSD/GPL\n";
static const char config[] = "{\"rate\":100}\n";
static const char guide[] = "how to\n";

static void put(const char *dir, const char *rel, const void *data, size_t len, mode_t mode)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void subdir(const char *dir, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0777), 0);
}

/* The package used throughout, written in order 0 or 1 (reversed). */
static void tree_make(const char *dir, int order)
{
	for (int k = 0; k < 6; k++) {
		switch (order ? 5 - k : k) {
		case 0: put(dir, "ratelimiting.bpf.o", bpf_elf, sizeof(bpf_elf), 0644); break;
		case 1: put(dir, "ratelimiting", sh_exe, strlen(sh_exe), 0755); break;
		case 2: put(dir, "README.md", readme, strlen(readme), 0644); break;
		case 3: put(dir, "LICENSE", license, strlen(license), 0644); break;
		case 4: put(dir, "config.json", config, strlen(config), 0644); break;
		case 5:
			subdir(dir, "docs");
			put(dir, "docs/guide.txt", guide, strlen(guide), 0644);
			break;
		}
	}
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];

	assert_int_equal(EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL), 1);
	l3af_hex_encode(hex, md, 32);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(l3af_file_read(path, 1u << 30, &buf, len, NULL), L3AF_OK);
	return (uint8_t *)buf;
}

/* Builds the package in a fresh temp dir with the given umask and order,
 * returns the archive bytes. */
static uint8_t *build(int order, mode_t mask, size_t *len)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	struct l3af_err err = {0};
	mode_t old = umask(mask);
	uint8_t *bytes;

	tree_make(dir, order);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, NULL, &err), L3AF_OK);
	umask(old);
	bytes = slurp(out, len);
	unlink(out);
	tu_rmtree(dir);
	return bytes;
}

/* --- create + read back ---------------------------------------------------- */

struct want_file {
	const char *path;
	enum ebpf_file_kind kind;
	unsigned mode;
	const void *data;
	size_t size;
};

static const struct want_file want_files[] = {
	{"LICENSE", EBPF_KIND_LICENSE, 0644, license, sizeof(license) - 1},
	{"README.md", EBPF_KIND_DOC, 0644, readme, sizeof(readme) - 1},
	{"config.json", EBPF_KIND_CONFIG, 0644, config, sizeof(config) - 1},
	{"docs/guide.txt", EBPF_KIND_DOC, 0644, guide, sizeof(guide) - 1},
	{"ratelimiting", EBPF_KIND_USER_EXE, 0755, sh_exe, sizeof(sh_exe) - 1},
	{"ratelimiting.bpf.o", EBPF_KIND_BPF_ELF, 0644, bpf_elf, sizeof(bpf_elf)},
};
#define NWANT (sizeof(want_files) / sizeof(want_files[0]))

static void check_pkg(const struct ebpf_pkg *pkg)
{
	uint8_t md[32];

	assert_string_equal(pkg->name, "ratelimiting");
	assert_int_equal(pkg->nfiles, NWANT);
	for (size_t i = 0; i < NWANT; i++) {
		const struct ebpf_pkg_file *f = &pkg->files[i];
		const struct want_file *w = &want_files[i];
		assert_string_equal(f->path, w->path);
		assert_int_equal(f->kind, w->kind);
		assert_int_equal(f->mode, w->mode);
		assert_int_equal(f->size, w->size);
		assert_memory_equal(f->data, w->data, w->size);
		assert_int_equal(EVP_Digest(w->data, w->size, md, NULL, EVP_sha256(), NULL), 1);
		assert_memory_equal(f->sha256, md, 32);
		assert_ptr_equal(ebpf_pkg_find(pkg, w->path), f);
	}
	assert_null(ebpf_pkg_find(pkg, "docs"));
	assert_null(ebpf_pkg_find(pkg, "nope"));
}

static char *want_manifest(void)
{
	char *out = malloc(8192), hex[65];
	size_t o = 0;

	o += (size_t)snprintf(out + o, 8192 - o, "[");
	for (size_t i = 0; i < NWANT; i++) {
		const struct want_file *w = &want_files[i];
		sha256_hex(w->data, w->size, hex);
		o += (size_t)snprintf(out + o, 8192 - o,
				      "%s{\"kind\":\"%s\",\"mode\":\"%04o\",\"path\":\"%s\","
				      "\"sha256\":\"%s\",\"size\":%zu}",
				      i ? "," : "", ebpf_file_kind_name(w->kind), w->mode, w->path,
				      hex, w->size);
	}
	snprintf(out + o, 8192 - o, "]");
	return out;
}

static void test_create_read(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096], *json = NULL, *want = want_manifest();
	struct ebpf_pkg *pkg = NULL, *again = NULL;
	struct l3af_err err = {0};
	uint8_t *bytes;
	size_t len;
	struct stat st;

	tree_make(dir, 0);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, &pkg, &err), L3AF_OK);
	check_pkg(pkg);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	bytes = slurp(out, &len);
	assert_int_equal(ebpf_pkg_read(bytes, len, &again, &err), L3AF_OK);
	check_pkg(again);
	assert_int_equal(ebpf_pkg_manifest_json(again, &json, &err), L3AF_OK);
	assert_string_equal(json, want);
	l3af_free(json);
	ebpf_pkg_free(pkg);
	ebpf_pkg_free(again);
	l3af_free(bytes);
	free(want);
	unlink(out);
	tu_rmtree(dir);
}

/* The archive itself, as any libarchive reader sees it: gzip -n, entries in
 * bytewise order with folders, owner 0 with no names, mtime 0, modes. */
static void test_create_layout(void **state)
{
	static const char *const order[] = {
		"l3af_ratelimiting/", "l3af_ratelimiting/LICENSE",
		"l3af_ratelimiting/README.md", "l3af_ratelimiting/config.json",
		"l3af_ratelimiting/docs/", "l3af_ratelimiting/docs/guide.txt",
		"l3af_ratelimiting/ratelimiting", "l3af_ratelimiting/ratelimiting.bpf.o",
	};
	size_t len, i = 0;
	uint8_t *bytes = build(0, 022, &len);
	struct archive *a = archive_read_new();
	struct archive_entry *e;

	assert_int_equal(bytes[0], 0x1f);
	assert_int_equal(bytes[3], 0);                       /* FLG: no FNAME */
	assert_memory_equal(bytes + 4, "\0\0\0\0", 4);        /* MTIME 0 */
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, bytes, len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);
		assert_true(i < 8);
		assert_string_equal(p, order[i]);
		assert_int_equal(archive_entry_mtime(e), 0);
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		assert_true(!archive_entry_uname(e) || !*archive_entry_uname(e));
		assert_true(!archive_entry_gname(e) || !*archive_entry_gname(e));
		assert_int_equal(archive_entry_perm(e),
				 p[strlen(p) - 1] == '/' ||
						 strcmp(p, "l3af_ratelimiting/ratelimiting") == 0
					 ? 0755
					 : 0644);
		i++;
	}
	assert_int_equal(i, 8);
	assert_int_equal(archive_format(a) & ARCHIVE_FORMAT_BASE_MASK, ARCHIVE_FORMAT_TAR);
	archive_read_free(a);
	l3af_free(bytes);
}

/* Same bytes whatever the umask, file order, mtimes or wall clock. */
static void test_create_deterministic(void **state)
{
	size_t l1, l2, l3;
	uint8_t *b1 = build(0, 022, &l1), *b2, *b3;

	sleep(1);
	b2 = build(1, 077, &l2);
	b3 = build(1, 0, &l3);
	assert_int_equal(l1, l2);
	assert_int_equal(l1, l3);
	assert_memory_equal(b1, b2, l1);
	assert_memory_equal(b1, b3, l1);
	l3af_free(b1), l3af_free(b2), l3af_free(b3);
}

/* Changed mtimes (and atimes) of every source file change nothing. */
static void test_create_mtime_ignored(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096], path[4096];
	struct timespec ts[2] = {{.tv_sec = 12345}, {.tv_sec = 987654321}};
	static const char *const files[] = {"LICENSE", "README.md", "docs", "ratelimiting"};
	uint8_t *b1, *b2;
	size_t l1, l2;

	tree_make(dir, 0);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, NULL, NULL), L3AF_OK);
	b1 = slurp(out, &l1);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, NULL, NULL), L3AF_OK);
	b2 = slurp(out, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	l3af_free(b1), l3af_free(b2);
	unlink(out);
	tu_rmtree(dir);
}

/* SOURCE_DATE_EPOCH changes the bytes (and only through mtime); the same
 * value gives the same bytes; a malformed value is refused. */
static void test_create_source_date_epoch(void **state)
{
	size_t l0, l1, l2;
	uint8_t *b0 = build(0, 022, &l0), *b1, *b2;
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	struct l3af_err err = {0};
	struct ebpf_pkg *pkg = NULL;

	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	b1 = build(1, 022, &l1);
	b2 = build(0, 077, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	assert_true(l0 != l1 || memcmp(b0, b1, l0) != 0);
	assert_int_equal(ebpf_pkg_read(b1, l1, &pkg, NULL), L3AF_OK);
	ebpf_pkg_free(pkg);

	tree_make(dir, 0);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	setenv("SOURCE_DATE_EPOCH", "17e8", 1);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, NULL, &err), L3AF_E_INVALID);
	assert_non_null(strstr(err.msg, "SOURCE_DATE_EPOCH"));
	assert_int_equal(access(out, F_OK), -1);
	unsetenv("SOURCE_DATE_EPOCH");
	l3af_free(b0), l3af_free(b1), l3af_free(b2);
	tu_rmtree(dir);
}

/* A path too long for a plain ustar name field (pax or prefix split):
 * reads back, and the bytes do not depend on the locale. */
static void test_create_long_path_locale(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096], rel[300];
	struct ebpf_pkg *pkg = NULL;
	struct l3af_err err = {0};
	uint8_t *b1, *b2;
	size_t l1, l2;

	subdir(dir, "d");
	memcpy(rel, "d/", 2);
	memset(rel + 2, 'a', 200);
	rel[202] = 0;
	put(dir, rel, "x", 1, 0644);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "long", out, &pkg, &err), L3AF_OK);
	assert_non_null(ebpf_pkg_find(pkg, rel));
	ebpf_pkg_free(pkg);
	b1 = slurp(out, &l1);
	if (!setlocale(LC_ALL, "C.UTF-8")) {
		l3af_free(b1);
		tu_rmtree(dir);
		skip();
	}
	assert_int_equal(ebpf_pkg_create(dir, "long", out, &pkg, &err), L3AF_OK);
	setlocale(LC_ALL, "C");
	assert_non_null(ebpf_pkg_find(pkg, rel));
	b2 = slurp(out, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	ebpf_pkg_free(pkg);
	l3af_free(b1), l3af_free(b2);
	unlink(out);
	tu_rmtree(dir);
}

/* --- create refusals ---------------------------------------------------- */

static void mk_symlink(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
}

static void mk_fifo(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0644), 0);
}

static void mk_hardlink(const char *dir)
{
	char a[4096], b[4096];
	snprintf(a, sizeof(a), "%s/LICENSE", dir);
	snprintf(b, sizeof(b), "%s/LICENSE2", dir);
	assert_int_equal(link(a, b), 0);
}

static void mk_setuid(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/ratelimiting", dir);
	assert_int_equal(chmod(p, 04755), 0);
}

static void mk_control(const char *dir)
{
	put(dir, "a\tb", "x", 1, 0644);
}

static void mk_utf8(const char *dir)
{
	put(dir, "caf\xc3\xa9", "x", 1, 0644);
}

static void mk_dir_symlink(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/docs/up", dir);
	assert_int_equal(symlink("..", p), 0);
}

static void mk_colon(const char *dir)
{
	put(dir, "a:b", "x", 1, 0644);
}

static void mk_trailing_dot(const char *dir)
{
	put(dir, "docs/notes.", "x", 1, 0644);
}

static void mk_trailing_space(const char *dir)
{
	put(dir, "notes ", "x", 1, 0644);
}

static void mk_device_ext(const char *dir)
{
	put(dir, "NUL.txt", "x", 1, 0644);
}

static void mk_device_dir(const char *dir)
{
	subdir(dir, "Com1");
	put(dir, "Com1/a", "x", 1, 0644);
}

static void mk_case_file(const char *dir)
{
	put(dir, "readme.md", readme, strlen(readme), 0644);
}

static void mk_case_dir(const char *dir)
{
	subdir(dir, "Docs");
	put(dir, "Docs/other.txt", "x", 1, 0644);
}

struct create_case {
	const char *desc;
	void (*mk)(const char *dir);
	const char *rule;
};

static void test_create_refuses(void **state)
{
	static const struct create_case cases[] = {
		{"symlink", mk_symlink, "/link: symbolic link"},
		{"symlink in a sub-folder", mk_dir_symlink, "docs/up: symbolic link"},
		{"FIFO", mk_fifo, "fifo: FIFO"},
		{"hard link", mk_hardlink, "hard-linked file"},
		{"setuid", mk_setuid, "ratelimiting: setuid, setgid or sticky bit"},
		{"control character", mk_control, "a\\x09b: name holds a control"},
		{"UTF-8 name", mk_utf8, "caf\\xc3\\xa9: name holds a control or non-ASCII byte"},
		{"colon", mk_colon, "/a:b: colon in name"},
		{"trailing dot", mk_trailing_dot, "docs/notes.: name ends in '.' or ' '"},
		{"trailing space", mk_trailing_space, "/notes : name ends in '.' or ' '"},
		{"device name with extension", mk_device_ext, "NUL.txt: reserved Windows device"},
		{"device name as folder", mk_device_dir, "Com1: reserved Windows device"},
		{"files differing in case", mk_case_file,
		 "\"README.md\" and \"readme.md\" differ only in case"},
		{"folders differing in case", mk_case_dir, "\"Docs\" and \"docs\" differ only in case"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = tu_tempdir("pkgsrc"), out[4096];
		struct l3af_err err = {0};
		struct ebpf_pkg *pkg = (struct ebpf_pkg *)1;

		tree_make(dir, 0);
		cases[i].mk(dir);
		snprintf(out, sizeof(out), "%s.tar.gz", dir);
		if (ebpf_pkg_create(dir, "ratelimiting", out, &pkg, &err) != L3AF_E_INVALID ||
		    !strstr(err.msg, cases[i].rule) || pkg != NULL)
			fail_msg("%s: got \"%s\"", cases[i].desc, err.msg);
		assert_int_equal(access(out, F_OK), -1);
		tu_rmtree(dir);
	}
}

static void test_create_bad_name(void **state)
{
	static const char *const names[] = {
		"", "1abc", "Abc", "a b", "a/b", "a.b", "_a", "-a",
		"a1234567890123456789012345678901234567890123456789012345678901234",
	};
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	struct l3af_err err = {0};

	tree_make(dir, 0);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		l3af_err_clear(&err);
		if (ebpf_pkg_create(dir, names[i], out, NULL, &err) != L3AF_E_INVALID ||
		    !strstr(err.msg, "package name"))
			fail_msg("name \"%s\": got \"%s\"", names[i], err.msg);
	}
	assert_int_equal(ebpf_pkg_create(dir, NULL, out, NULL, NULL), L3AF_E_INVALID);
	/* 64 characters is the longest name allowed. */
	assert_int_equal(ebpf_pkg_create(dir, "a12345678901234567890123456789012345678901234567890"
					      "1234567890123", out, NULL, &err), L3AF_OK);
	unlink(out);
	tu_rmtree(dir);
}

static void test_create_empty(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	struct l3af_err err = {0};

	subdir(dir, "empty");
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "x", out, NULL, &err), L3AF_E_INVALID);
	assert_non_null(strstr(err.msg, "holds no files"));
	tu_rmtree(dir);
}

/* Empty sub-folders are kept (as folder entries); only a source folder with
 * no file at all is refused (above). */
static void test_create_empty_subfolder(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	struct ebpf_pkg *pkg = NULL;
	struct l3af_err err = {0};

	tree_make(dir, 0);
	subdir(dir, "empty");
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, &pkg, &err), L3AF_OK);
	check_pkg(pkg);
	ebpf_pkg_free(pkg);
	unlink(out);
	tu_rmtree(dir);
}

/* An output inside the source folder is refused, however it is named: a
 * second run would pack the first run's archive. */
static void test_create_out_inside(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), *other = tu_tempdir("pkgout"), out[4096], link[4096];
	char cwd[4096];
	struct l3af_err err = {0};
	const char *outs[4];

	tree_make(dir, 0);
	snprintf(link, sizeof(link), "%s/into", other);
	assert_int_equal(symlink(dir, link), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	for (int i = 0; i < 4; i++) {
		switch (i) {
		case 0: snprintf(out, sizeof(out), "%s/pkg.tar.gz", dir); break;
		case 1: snprintf(out, sizeof(out), "%s/docs/pkg.tar.gz", dir); break;
		case 2: snprintf(out, sizeof(out), "%s/into/pkg.tar.gz", other); break;
		case 3: snprintf(out, sizeof(out), "pkg.tar.gz"); break;
		}
		outs[i] = out;
		if (i == 3)
			assert_int_equal(chdir(dir), 0);
		l3af_err_clear(&err);
		if (ebpf_pkg_create(dir, "ratelimiting", out, NULL, &err) != L3AF_E_INVALID ||
		    !strstr(err.msg, "lies inside the source directory"))
			fail_msg("%s: got \"%s\"", outs[i], err.msg);
		assert_int_equal(access(out, F_OK), -1);
		if (i == 3)
			assert_int_equal(chdir(cwd), 0);
	}
	/* Beside it (a name that merely starts like it) is fine. */
	snprintf(out, sizeof(out), "%s-x.tar.gz", dir);
	assert_int_equal(ebpf_pkg_create(dir, "ratelimiting", out, NULL, &err), L3AF_OK);
	unlink(out);
	unlink(link);
	tu_rmtree(other);
	tu_rmtree(dir);
}

/* A file swapped for a FIFO between the walk's first look and the read must
 * not block create (the old code reopened the path without O_NONBLOCK and
 * hung): a child swaps "swap" between a regular file and a FIFO while
 * create runs over and over; every call returns, OK or refusing. */
static void test_create_fifo_race(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), *side = tu_tempdir("pkgside"), out[4096];
	char target[4096], reg[4096], fifo[4096];
	int ok = 0, refused = 0;
	pid_t parent = getpid(), child;

	put(dir, "LICENSE", license, strlen(license), 0644);
	snprintf(target, sizeof(target), "%s/swap", dir);
	snprintf(reg, sizeof(reg), "%s/reg", side);
	snprintf(fifo, sizeof(fifo), "%s/fifo", side);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		while (getppid() == parent) { /* ends if the test dies */
			int fd = open(reg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0)
				close(fd);
			rename(reg, target);
			mkfifo(fifo, 0644);
			rename(fifo, target);
		}
		_exit(0);
	}
	alarm(60); /* a blocked create fails the test instead of hanging it */
	for (int i = 0; i < 3000; i++) {
		struct l3af_err err = {0};
		if (ebpf_pkg_create(dir, "race", out, NULL, &err) == L3AF_OK)
			ok++;
		else
			refused++;
	}
	alarm(0);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(ok + refused, 3000);
	unlink(out);
	tu_rmtree(side);
	tu_rmtree(dir);
}

/* --- bad archives, made with libarchive's writer ------------------------- */

struct abuf {
	uint8_t *buf;
	size_t len;
};

enum wfmt { W_TGZ, W_TAR, W_ZIP };

static struct archive *w_open(struct abuf *b, enum wfmt fmt)
{
	struct archive *a = archive_write_new();

	if (fmt == W_ZIP) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
		if (fmt == W_TGZ)
			assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	}
	b->buf = malloc(BUF_CAP);
	assert_int_equal(archive_write_open_memory(a, b->buf, BUF_CAP, &b->len), ARCHIVE_OK);
	return a;
}

static void w_close(struct archive *a)
{
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* One entry of any type; data (size bytes) for regular files. */
static void w_entry(struct archive *a, const char *path, unsigned type, unsigned perm,
		    const void *data, size_t size)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)size : 0);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, "/etc/passwd");
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	/* ARCHIVE_WARN: a name not convertible to UTF-8 is written as bytes. */
	if (archive_write_header(a, e) < ARCHIVE_WARN)
		fail_msg("write %s: %s", path, archive_error_string(a));
	if (type == AE_IFREG && size)
		assert_int_equal(archive_write_data(a, data, size), (la_ssize_t)size);
	archive_entry_free(e);
}

static void w_file(struct archive *a, const char *path)
{
	w_entry(a, path, AE_IFREG, 0644, "data\n", 5);
}

/* A tar.gz with the given paths, all regular files. */
static void tgz_files(struct abuf *b, const char *const *paths)
{
	struct archive *a = w_open(b, W_TGZ);

	for (; *paths; paths++)
		w_file(a, *paths);
	w_close(a);
}

#define TGZ(fn, ...)                                                         \
	static void fn(struct abuf *b)                                       \
	{                                                                    \
		static const char *const p[] = {__VA_ARGS__, NULL};          \
		tgz_files(b, p);                                             \
	}

TGZ(b_dotdot, "l3af_x/a", "l3af_x/../evil")
TGZ(b_dot, "l3af_x/./a")
TGZ(b_absolute, "/l3af_x/a")
TGZ(b_empty_comp, "l3af_x//a")
TGZ(b_two_tops, "l3af_x/a", "l3af_y/b")
TGZ(b_outside, "l3af_x/a", "README")
TGZ(b_dup, "l3af_x/a", "l3af_x/b", "l3af_x/a")
TGZ(b_file_parent, "l3af_x/a", "l3af_x/a/b")
TGZ(b_bad_top, "pkg/a")
TGZ(b_top_upper, "l3af_X/a")
TGZ(b_control, "l3af_x/a\x01z")
TGZ(b_del, "l3af_x/a\x7fz")
TGZ(b_not_utf8, "l3af_x/\xff")
TGZ(b_utf8, "l3af_x/caf\xc3\xa9")
TGZ(b_backslash, "l3af_x/a\\b")
TGZ(b_colon, "l3af_x/a:b")
TGZ(b_colon_stream, "l3af_x/a.bpf.o::$DATA")
TGZ(b_trailing_dot, "l3af_x/d./a")
TGZ(b_trailing_space, "l3af_x/a ")
TGZ(b_dev_nul, "l3af_x/nul")
TGZ(b_dev_ext, "l3af_x/docs/NUL.txt")
TGZ(b_dev_com, "l3af_x/cOm9.log")
TGZ(b_dev_lpt, "l3af_x/LPT1")
TGZ(b_dev_space, "l3af_x/AUX .txt")
TGZ(b_dev_con, "l3af_x/Con")
TGZ(b_dev_prn, "l3af_x/prn.x.y")
TGZ(b_case_files, "l3af_x/README.md", "l3af_x/readme.md")
TGZ(b_case_dirs, "l3af_x/Docs/a", "l3af_x/docs/b")
TGZ(b_case_file_dir, "l3af_x/a", "l3af_x/A/b")

static void b_symlink(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_file(a, "l3af_x/a");
	w_entry(a, "l3af_x/link", AE_IFLNK, 0777, NULL, 0);
	w_close(a);
}

static void b_hardlink(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	struct archive_entry *e = archive_entry_new();

	w_file(a, "l3af_x/a");
	archive_entry_set_pathname(e, "l3af_x/b");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_hardlink(e, "l3af_x/a");
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_free(e);
	w_close(a);
}

static void b_chardev(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_entry(a, "l3af_x/null", AE_IFCHR, 0666, NULL, 0);
	w_close(a);
}

static void b_fifo(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_entry(a, "l3af_x/fifo", AE_IFIFO, 0644, NULL, 0);
	w_close(a);
}

static void b_setuid(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_entry(a, "l3af_x/su", AE_IFREG, 04755, "x", 1);
	w_close(a);
}

static void b_setgid_dir(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_entry(a, "l3af_x/d/", AE_IFDIR, 02755, NULL, 0);
	w_file(a, "l3af_x/d/a");
	w_close(a);
}

static void b_dir_file_dup(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_file(a, "l3af_x/a");
	w_entry(a, "l3af_x/a/", AE_IFDIR, 0755, NULL, 0);
	w_close(a);
}

static void b_no_files(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	w_entry(a, "l3af_x/", AE_IFDIR, 0755, NULL, 0);
	w_entry(a, "l3af_x/d/", AE_IFDIR, 0755, NULL, 0);
	w_close(a);
}

static void b_no_entries(struct abuf *b)
{
	w_close(w_open(b, W_TGZ));
}

/* A tar whose last file's header declares 4096 bytes, cut after 1000. */
static void b_tar_short(struct abuf *b)
{
	static uint8_t data[4096];
	struct archive *a = w_open(b, W_TAR);

	w_file(a, "l3af_x/a");
	w_entry(a, "l3af_x/big", AE_IFREG, 0644, data, sizeof(data));
	w_close(a);
	b->len = 512 * 3 + 1000;
}

/* A tar.gz with 512 KiB of random data, cut in the middle of the stream
 * (or, below, right after the gzip header). */
static void b_gzip_cut(struct abuf *b)
{
	static uint8_t data[512 << 10];
	struct archive *a = w_open(b, W_TGZ);
	uint32_t x = 1;

	for (size_t i = 0; i < sizeof(data); i++)
		x = x * 1103515245 + 12345, data[i] = (uint8_t)(x >> 24);
	w_entry(a, "l3af_x/big", AE_IFREG, 0644, data, sizeof(data));
	w_close(a);
	b->len /= 2;
}

static void b_gzip_cut_early(struct abuf *b)
{
	b_gzip_cut(b);
	b->len = 100;
}

static void b_garbage(struct abuf *b)
{
	b->buf = malloc(4096);
	for (size_t i = 0; i < 4096; i++)
		b->buf[i] = (uint8_t)(i * 7 + 3);
	b->len = 4096;
}

/* One file of EBPF_PKG_MAX_FILE_BYTES + 1 zero bytes, streamed. */
static void bomb(struct abuf *b, enum wfmt fmt)
{
	static const uint8_t zeros[1 << 16];
	struct archive *a = w_open(b, fmt);
	struct archive_entry *e = archive_entry_new();
	uint64_t left = EBPF_PKG_MAX_FILE_BYTES + 1;

	archive_entry_set_pathname(e, "l3af_x/bomb");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)left);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	while (left) {
		size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
		assert_int_equal(archive_write_data(a, zeros, n), (la_ssize_t)n);
		left -= n;
	}
	archive_entry_free(e);
	w_close(a);
}

static void b_zip_bomb(struct abuf *b)
{
	bomb(b, W_ZIP);
}

static void b_tgz_bomb(struct abuf *b)
{
	bomb(b, W_TGZ);
}

static void b_too_many(struct abuf *b)
{
	struct archive *a = w_open(b, W_TGZ);
	char path[64];

	for (int i = 0; i <= EBPF_PKG_MAX_FILES; i++) {
		snprintf(path, sizeof(path), "l3af_x/f%04d", i);
		w_file(a, path);
	}
	w_close(a);
}

static void b_long_path(struct abuf *b)
{
	char path[400] = "l3af_x/";
	struct archive *a = w_open(b, W_TGZ);

	memset(path + 7, 'a', 256);
	w_file(a, path);
	w_close(a);
}

/* A zip declaring 10 bytes for a 1000-byte file: in the central directory
 * only (sig "PK\1\2", size at 24), or there and in the local header too
 * (sig "PK\3\4", size at 22). */
static void zip_lie(struct abuf *b, bool local)
{
	static uint8_t data[1000];
	struct archive *a = w_open(b, W_ZIP);
	int patched = 0;

	w_entry(a, "l3af_x/a", AE_IFREG, 0644, data, sizeof(data));
	w_close(a);
	for (size_t i = 0; i + 46 <= b->len; i++) {
		size_t at = memcmp(b->buf + i, "PK\1\2", 4) == 0 ? 24
			    : local && memcmp(b->buf + i, "PK\3\4", 4) == 0 ? 22 : 0;
		if (at == 0)
			continue;
		memcpy(b->buf + i + at, "\x0a\0\0\0", 4);
		patched++;
	}
	assert_int_equal(patched, local ? 2 : 1);
}

static void b_zip_lie_central(struct abuf *b)
{
	zip_lie(b, false);
}

static void b_zip_lie_both(struct abuf *b)
{
	zip_lie(b, true);
}

/* A zip with no end-of-central-directory record: the streaming reader reads
 * it from its local headers alone; Go's archive/zip and the seekable reader
 * refuse it. */
static void b_zip_no_eocd(struct abuf *b)
{
	struct archive *a = w_open(b, W_ZIP);
	size_t i;

	w_file(a, "l3af_x/a");
	w_close(a);
	for (i = 0; i + 4 <= b->len && memcmp(b->buf + i, "PK\5\6", 4) != 0; i++)
		;
	assert_true(i + 4 <= b->len);
	b->len = i;
}

struct bad_case {
	const char *desc;
	void (*build)(struct abuf *b);
	enum l3af_status want;
	const char *rule;
};

static const struct bad_case bad_cases[] = {
	{"\"..\" component", b_dotdot, L3AF_E_INVALID, "\"..\" path component"},
	{"\".\" component", b_dot, L3AF_E_INVALID, "\".\" path component"},
	{"absolute path", b_absolute, L3AF_E_INVALID, "absolute path"},
	{"empty component", b_empty_comp, L3AF_E_INVALID, "empty path component"},
	{"symlink", b_symlink, L3AF_E_INVALID, "\"l3af_x/link\": symbolic link"},
	{"hard link", b_hardlink, L3AF_E_INVALID, "\"l3af_x/b\": hard link"},
	{"char device", b_chardev, L3AF_E_INVALID, "\"l3af_x/null\": device"},
	{"FIFO", b_fifo, L3AF_E_INVALID, "\"l3af_x/fifo\": FIFO"},
	{"setuid file", b_setuid, L3AF_E_INVALID, "\"l3af_x/su\": setuid"},
	{"setgid folder", b_setgid_dir, L3AF_E_INVALID, "setuid, setgid or sticky bit"},
	{"two top-level folders", b_two_tops, L3AF_E_INVALID,
	 "\"l3af_y/b\": second top-level folder"},
	{"file outside the folder", b_outside, L3AF_E_INVALID,
	 "\"README\": file outside the top-level folder"},
	{"top folder not l3af_<name>", b_bad_top, L3AF_E_INVALID, "top-level folder is not"},
	{"top folder bad name", b_top_upper, L3AF_E_INVALID, "top-level folder is not"},
	{"duplicate path", b_dup, L3AF_E_INVALID, "\"a\": duplicate path"},
	{"file and folder", b_dir_file_dup, L3AF_E_INVALID, "\"a\": duplicate path"},
	{"file used as folder", b_file_parent, L3AF_E_INVALID,
	 "\"a/b\" lies inside \"a\", which is a file"},
	{"control character", b_control, L3AF_E_INVALID, "control or non-ASCII byte"},
	{"DEL character", b_del, L3AF_E_INVALID, "control or non-ASCII byte"},
	{"not UTF-8", b_not_utf8, L3AF_E_INVALID, "control or non-ASCII byte"},
	{"UTF-8 name", b_utf8, L3AF_E_INVALID, "\"l3af_x/caf\\xc3\\xa9\": name holds a control"},
	{"backslash", b_backslash, L3AF_E_INVALID, "backslash"},
	{"colon", b_colon, L3AF_E_INVALID, "\"l3af_x/a:b\": colon in name"},
	{"NTFS stream", b_colon_stream, L3AF_E_INVALID, "colon in name"},
	{"folder ending in '.'", b_trailing_dot, L3AF_E_INVALID, "name ends in '.' or ' '"},
	{"name ending in ' '", b_trailing_space, L3AF_E_INVALID, "name ends in '.' or ' '"},
	{"device nul", b_dev_nul, L3AF_E_INVALID, "\"l3af_x/nul\": reserved Windows device"},
	{"device NUL.txt", b_dev_ext, L3AF_E_INVALID, "reserved Windows device"},
	{"device cOm9.log", b_dev_com, L3AF_E_INVALID, "reserved Windows device"},
	{"device LPT1", b_dev_lpt, L3AF_E_INVALID, "reserved Windows device"},
	{"device \"AUX .txt\"", b_dev_space, L3AF_E_INVALID, "reserved Windows device"},
	{"device Con", b_dev_con, L3AF_E_INVALID, "reserved Windows device"},
	{"device prn.x.y", b_dev_prn, L3AF_E_INVALID, "reserved Windows device"},
	{"files differing in case", b_case_files, L3AF_E_INVALID,
	 "\"README.md\" and \"readme.md\" differ only in case"},
	{"folders differing in case", b_case_dirs, L3AF_E_INVALID,
	 "\"Docs\" and \"docs\" differ only in case"},
	{"file and folder differing in case", b_case_file_dir, L3AF_E_INVALID,
	 "\"A\" and \"a\" differ only in case"},
	{"zip without end of central directory", b_zip_no_eocd, L3AF_E_INVALID,
	 "not a readable tar, tar.gz or zip archive"},
	{"path too long", b_long_path, L3AF_E_LIMIT, "longer than 255 bytes"},
	{"tar header size > data", b_tar_short, L3AF_E_INVALID,
	 "\"l3af_x/big\": data does not match the 4096 bytes its header declares"},
	{"gzip stream cut", b_gzip_cut, L3AF_E_INVALID, "\"l3af_x/big\": data does not match the 524288 bytes"},
	{"gzip stream cut early", b_gzip_cut_early, L3AF_E_INVALID, "truncated gzip input"},
	{"garbage", b_garbage, L3AF_E_INVALID, "not a readable tar, tar.gz or zip archive"},
	{"zip bomb (zip)", b_zip_bomb, L3AF_E_LIMIT, "\"l3af_x/bomb\": file larger than"},
	{"zip bomb (tar.gz)", b_tgz_bomb, L3AF_E_LIMIT, "\"l3af_x/bomb\": file larger than"},
	{"zip sizes disagree", b_zip_lie_central, L3AF_E_INVALID,
	 "entry 1: bad header: Inconsistent uncompressed size"},
	{"zip data longer than declared", b_zip_lie_both, L3AF_E_INVALID,
	 "\"l3af_x/a\": data does not match the 10 bytes its header declares"},
	{"too many files", b_too_many, L3AF_E_LIMIT, "\"l3af_x/f1024\": more than 1024 files"},
	{"no files", b_no_files, L3AF_E_INVALID, "l3af_x/ holds no files"},
	{"no entries", b_no_entries, L3AF_E_INVALID, "archive has no entries"},
};

static void test_read_refuses(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct abuf b = {0};
		struct l3af_err err = {0};
		struct ebpf_pkg *pkg = (struct ebpf_pkg *)1;
		enum l3af_status rc;

		c->build(&b);
		rc = ebpf_pkg_read(b.buf, b.len, &pkg, &err);
		if (rc != c->want || !strstr(err.msg, c->rule) || pkg != NULL)
			fail_msg("%s: status %s, message \"%s\"", c->desc, l3af_status_name(rc),
				 err.msg);
		free(b.buf);
	}
}

/* Names near the Windows rules that are fine. */
static void test_read_windows_ok(void **state)
{
	static const char *const paths[] = {
		"l3af_x/nullable", "l3af_x/console.txt", "l3af_x/COM10", "l3af_x/LPT",
		"l3af_x/com.txt",  "l3af_x/.hidden",     "l3af_x/a b",   "l3af_x/a.b.c",
		"l3af_x/aux_dir/x", "l3af_x/Read", "l3af_x/Readme", NULL,
	};
	struct abuf b = {0};
	struct ebpf_pkg *pkg = NULL;
	struct l3af_err err = {0};

	tgz_files(&b, paths);
	if (ebpf_pkg_read(b.buf, b.len, &pkg, &err) != L3AF_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(pkg->nfiles, 11);
	ebpf_pkg_free(pkg);
	free(b.buf);
}

static void test_read_args(void **state)
{
	struct ebpf_pkg *pkg = NULL;
	struct l3af_err err = {0};
	uint8_t byte = 0;

	assert_int_equal(ebpf_pkg_read(NULL, 0, &pkg, &err), L3AF_E_INVALID);
	assert_int_equal(ebpf_pkg_read(&byte, 0, &pkg, NULL), L3AF_E_INVALID);
	assert_int_equal(ebpf_pkg_read(&byte, 1, NULL, NULL), L3AF_E_INVALID);
	assert_int_equal(ebpf_pkg_read(&byte, EBPF_PKG_MAX_ARCHIVE_BYTES + 1, &pkg, NULL),
			 L3AF_E_LIMIT);
	assert_null(pkg);
	ebpf_pkg_free(NULL);
	assert_null(ebpf_pkg_find(NULL, "a"));
}

/* --- other accepted forms ------------------------------------------------ */

/* The same files as a zip (and as a plain tar) give the same manifest. */
static void write_want(struct abuf *b, enum wfmt fmt)
{
	struct archive *a = w_open(b, fmt);
	char path[128];

	w_entry(a, "l3af_ratelimiting/", AE_IFDIR, 0755, NULL, 0);
	for (size_t i = NWANT; i-- > 0;) {
		snprintf(path, sizeof(path), "l3af_ratelimiting/%s", want_files[i].path);
		w_entry(a, path, AE_IFREG, want_files[i].mode == 0755 ? 0775 : 0664,
			want_files[i].data, want_files[i].size);
	}
	w_close(a);
}

static void test_read_zip_and_tar(void **state)
{
	char *want = want_manifest(), *json = NULL;
	enum wfmt fmts[] = {W_ZIP, W_TAR};

	for (size_t i = 0; i < 2; i++) {
		struct abuf b = {0};
		struct ebpf_pkg *pkg = NULL;
		struct l3af_err err = {0};

		write_want(&b, fmts[i]);
		assert_int_equal(ebpf_pkg_read(b.buf, b.len, &pkg, &err), L3AF_OK);
		check_pkg(pkg);
		assert_int_equal(ebpf_pkg_manifest_json(pkg, &json, &err), L3AF_OK);
		assert_string_equal(json, want);
		l3af_free(json);
		ebpf_pkg_free(pkg);
		free(b.buf);
	}
	free(want);
}

/* --- kinds ----------------------------------------------------------------- */

struct kind_case {
	const char *path;
	const void *data;
	size_t size;
	unsigned perm;
	enum ebpf_file_kind want;
};

static void test_kinds(void **state)
{
	/* PE32+ (optional header of 240 bytes at 0x58) with Subsystem (at
	 * 0x58 + 68) NATIVE, WINDOWS_CUI, or no optional header at all. */
	static uint8_t pe_native[512] = {'M', 'Z', [0x3c] = 0x40, [0x40] = 'P', 'E', 0, 0,
					 [0x54] = 0xf0, [0x58] = 0x0b, 0x02, [0x9c] = 1};
	static uint8_t pe_cui[512] = {'M', 'Z', [0x3c] = 0x40, [0x40] = 'P', 'E', 0, 0,
				      [0x54] = 0xf0, [0x58] = 0x0b, 0x02, [0x9c] = 3};
	static uint8_t pe_bare[128] = {'M', 'Z', [0x3c] = 0x40, [0x40] = 'P', 'E', 0, 0};
	static uint8_t bpf_be[64] = {0x7f, 'E', 'L', 'F', 2, 2, 1, 0, [16] = 0, 1, 0, 247};
	/* ET_REL with e_machine 0 (EM_NONE), as libbpf 1.1 still opens it;
	 * and ET_EXEC with EM_NONE, which it does not. */
	static uint8_t none_rel[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, [16] = 1, 0, 0, 0, 1};
	static uint8_t none_rel_be[64] = {0x7f, 'E', 'L', 'F', 2, 2, 1, 0, [16] = 0, 1, 0, 0};
	static uint8_t none_exec[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, [16] = 2, 0, 0, 0, 1};
	static const struct kind_case cases[] = {
		{"prog.o", bpf_elf, sizeof(bpf_elf), 0644, EBPF_KIND_BPF_ELF},
		{"prog_be.o", bpf_be, sizeof(bpf_be), 0644, EBPF_KIND_BPF_ELF},
		{"exec.bpf.o", bpf_elf, sizeof(bpf_elf), 0755, EBPF_KIND_BPF_ELF},
		{"none.o", none_rel, sizeof(none_rel), 0644, EBPF_KIND_BPF_ELF},
		{"none_be.o", none_rel_be, sizeof(none_rel_be), 0644, EBPF_KIND_BPF_ELF},
		{"none_exec", none_exec, sizeof(none_exec), 0644, EBPF_KIND_USER_EXE},
		{"driver.bin", pe_native, sizeof(pe_native), 0644, EBPF_KIND_NATIVE_SYS},
		{"driver.sys", pe_native, sizeof(pe_native), 0644, EBPF_KIND_NATIVE_SYS},
		{"tool.exe", pe_cui, sizeof(pe_cui), 0644, EBPF_KIND_USER_EXE},
		{"tool.sys", pe_cui, sizeof(pe_cui), 0644, EBPF_KIND_USER_EXE},
		{"bare.sys", pe_bare, sizeof(pe_bare), 0644, EBPF_KIND_USER_EXE},
		{"notes.SYS", "text", 4, 0644, EBPF_KIND_CONFIG},
		{"tool", x86_elf, sizeof(x86_elf), 0644, EBPF_KIND_USER_EXE},
		{"run.sh", "echo", 4, 0755, EBPF_KIND_USER_EXE},
		{"README", "r", 1, 0644, EBPF_KIND_DOC},
		{"readme.txt", "r", 1, 0644, EBPF_KIND_DOC},
		{"NOTES.md", "r", 1, 0644, EBPF_KIND_DOC},
		{"docs/a.png", "r", 1, 0644, EBPF_KIND_DOC},
		{"LICENSE.txt", "l", 1, 0644, EBPF_KIND_LICENSE},
		{"COPYING", "l", 1, 0644, EBPF_KIND_LICENSE},
		{"MZ.txt", "MZ not a PE", 11, 0644, EBPF_KIND_CONFIG},
		{"short.o", "\x7f" "ELF", 4, 0644, EBPF_KIND_CONFIG},
		{"payload.json", "{}", 2, 0644, EBPF_KIND_CONFIG},
		{"sub/README.md", "r", 1, 0644, EBPF_KIND_DOC},
	};
	struct abuf b = {0};
	struct archive *a = w_open(&b, W_TGZ);
	struct ebpf_pkg *pkg = NULL;
	char path[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "l3af_k/%s", cases[i].path);
		w_entry(a, path, AE_IFREG, cases[i].perm, cases[i].data, cases[i].size);
	}
	w_close(a);
	assert_int_equal(ebpf_pkg_read(b.buf, b.len, &pkg, NULL), L3AF_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ebpf_pkg_file *f = ebpf_pkg_find(pkg, cases[i].path);
		assert_non_null(f);
		if (f->kind != cases[i].want)
			fail_msg("%s: kind %s, want %s", cases[i].path, ebpf_file_kind_name(f->kind),
				 ebpf_file_kind_name(cases[i].want));
	}
	ebpf_pkg_free(pkg);
	free(b.buf);
}

static void test_kind_names(void **state)
{
	static const char *const names[] = {"bpf-elf", "native-sys", "user-exe",
					    "doc",     "license",    "config"};

	for (int k = 0; k < 6; k++)
		assert_string_equal(ebpf_file_kind_name((enum ebpf_file_kind)k), names[k]);
	assert_string_equal(ebpf_file_kind_name((enum ebpf_file_kind)99), "unknown");
}

/* --- allocation failures ---------------------------------------------------- */

/* Every allocation in turn fails: no crash, no leak (ASan), NOMEM or OK. */
static void test_read_alloc_failures(void **state)
{
	size_t len;
	uint8_t *bytes = build(0, 022, &len);
	enum l3af_status rc = L3AF_E_NOMEM;

	for (unsigned long n = 1; rc != L3AF_OK; n++) {
		struct ebpf_pkg *pkg = NULL;
		char *json = NULL;
		l3af_alloc_fail_at(n);
		rc = ebpf_pkg_read(bytes, len, &pkg, NULL);
		if (rc == L3AF_OK)
			rc = ebpf_pkg_manifest_json(pkg, &json, NULL);
		l3af_alloc_fail_at(0);
		assert_true(rc == L3AF_OK || rc == L3AF_E_NOMEM);
		l3af_free(json);
		ebpf_pkg_free(pkg);
		assert_true(n < 1000);
	}
	l3af_free(bytes);
}

static void test_create_alloc_failures(void **state)
{
	char *dir = tu_tempdir("pkgsrc"), out[4096];
	enum l3af_status rc = L3AF_E_NOMEM;

	tree_make(dir, 0);
	snprintf(out, sizeof(out), "%s.tar.gz", dir);
	for (unsigned long n = 1; rc != L3AF_OK; n++) {
		struct ebpf_pkg *pkg = NULL;
		l3af_alloc_fail_at(n);
		rc = ebpf_pkg_create(dir, "ratelimiting", out, &pkg, NULL);
		l3af_alloc_fail_at(0);
		assert_true(rc == L3AF_OK || rc == L3AF_E_NOMEM);
		assert_true(rc == L3AF_OK || access(out, F_OK) != 0);
		ebpf_pkg_free(pkg);
		assert_true(n < 1000);
	}
	unlink(out);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_read),
		cmocka_unit_test(test_create_layout),
		cmocka_unit_test(test_create_deterministic),
		cmocka_unit_test(test_create_mtime_ignored),
		cmocka_unit_test(test_create_source_date_epoch),
		cmocka_unit_test(test_create_long_path_locale),
		cmocka_unit_test(test_create_refuses),
		cmocka_unit_test(test_create_bad_name),
		cmocka_unit_test(test_create_empty),
		cmocka_unit_test(test_create_empty_subfolder),
		cmocka_unit_test(test_create_out_inside),
		cmocka_unit_test(test_create_fifo_race),
		cmocka_unit_test(test_read_refuses),
		cmocka_unit_test(test_read_windows_ok),
		cmocka_unit_test(test_read_args),
		cmocka_unit_test(test_read_zip_and_tar),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_read_alloc_failures),
		cmocka_unit_test(test_create_alloc_failures),
	};

	unsetenv("SOURCE_DATE_EPOCH");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
