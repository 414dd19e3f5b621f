/*
 * test_tlogd_ops.c - l3af-tlogd's operations features through the built
 * binary (docs/operations.md): the genesis entry and admin key of a new log
 * (and the finishing of a start that died half way), the config file and
 * command-line overrides, config errors naming their line, the static export
 * against what the server serves, clean shutdown, and JSON log lines.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "httputil.h"
#include "tlogd_child.h"

#define TLOGD_TEST_ORIGIN "l3af-tlog.local/log"

/* GET base+path, expecting 200; returns the body (caller frees), *len its size. */
static uint8_t *get_ok(unsigned port, const char *path, size_t *len)
{
	char base[64];
	CURL *h = curl_easy_init();
	struct reply r = {0};

	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
	http_get(h, base, path, &r);
	curl_easy_cleanup(h);
	if (r.status != 200)
		fail_msg("GET %s: status %ld", path, r.status);
	*len = r.len;
	return r.body;
}

static char *read_file(const char *dir, const char *rel, size_t *len)
{
	char path[4200];
	char *text = NULL;
	struct l3af_err err = {0};

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (l3af_file_read(path, 1 << 20, &text, len, &err) != L3AF_OK)
		fail_msg("%s", err.msg);
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Entry 0 from the served bundle /tile/entries/000.p/W (uint16 BE length,
 * bytes: c2sp.org/tlog-tiles), parsed; must be an admin.root for origin. */
static void check_entry0(unsigned port, uint64_t size, const char *origin,
			 struct signer_entry *e)
{
	char path[64];
	size_t len = 0;
	uint8_t *b;
	struct l3af_err err = {0};

	if (size >= 256)
		snprintf(path, sizeof(path), "/tile/entries/000");
	else
		snprintf(path, sizeof(path), "/tile/entries/000.p/%u", (unsigned)size);
	b = get_ok(port, path, &len);
	assert_true(len >= 2);
	size_t n = (size_t)b[0] << 8 | b[1];
	assert_true(n + 2 <= len);
	if (signer_entry_parse(b + 2, n, e, &err) != L3AF_OK)
		fail_msg("entry 0 does not parse: %s", err.msg);
	assert_int_equal(e->kind, SIGNER_ENTRY_ADMIN_ROOT);
	assert_int_equal(e->root.version, 1);
	assert_string_equal(e->root.origin, origin);
	assert_int_equal(e->root.threshold, 1);
	assert_int_equal(e->root.nadmins, 1);
	free(b);
}

/* The ID of the key in DIR/admin.key, checking the file and DIR/admin.pub. */
static void admin_key_id(const char *data, char id[static 65])
{
	char path[4200];
	struct stat st;
	struct signer_privkey *key = NULL;
	struct signer_pubkey pub;
	struct l3af_err err = {0};
	size_t len = 0;
	char *pem;

	snprintf(path, sizeof(path), "%s/admin.key", data);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	if (signer_privkey_load(path, &key, &err) != L3AF_OK)
		fail_msg("admin.key: %s", err.msg);
	assert_int_equal(signer_privkey_pubkey(key)->alg, SIGNER_ALG_ED25519);
	pem = read_file(data, "admin.pub", &len);
	if (signer_pubkey_parse_pem(pem, len, &pub, &err) != L3AF_OK)
		fail_msg("admin.pub: %s", err.msg);
	assert_string_equal(pub.id, signer_privkey_pubkey(key)->id);
	snprintf(id, 65, "%s", pub.id);
	snprintf(path, sizeof(path), "%s/admin.key.tmp", data);
	assert_int_not_equal(lstat(path, &st), 0);
	l3af_free(pem);
	signer_privkey_free(key);
}

/* ---- genesis ---------------------------------------------------------------- */

static void test_genesis(void **state)
{
	char *tmp = tu_tempdir("tlogd-gen");
	char data[4096], id[65];
	struct child a, b;
	struct signer_entry e = {0};
	size_t len = 0;
	char *cp;
	unsigned port;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", tmp);
	spawn(&a, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", "--origin",
					"gen.example/log", NULL});
	port = wait_ready(&a);
	assert_non_null(strstr(a.err, "genesis"));
	admin_key_id(data, id);
	cp = fetch_checkpoint(port, &len);
	assert_int_equal(verify_checkpoint(data, cp, len), 1);
	check_entry0(port, 1, "gen.example/log", &e);
	assert_string_equal(e.root.admins[0].id, id);
	assert_non_null(strstr(a.err, id)); /* the start-up lines name the key */
	signer_entry_clear(&e);
	free(cp);
	assert_int_equal(stop_with(&a, SIGTERM), 0);

	/* A restart appends nothing and keeps the key. */
	spawn(&b, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", NULL});
	port = wait_ready(&b);
	assert_null(strstr(b.err, "genesis"));
	assert_non_null(strstr(b.err, "size=1 "));
	check_entry0(port, 1, "gen.example/log", &e);
	assert_string_equal(e.root.admins[0].id, id);
	signer_entry_clear(&e);
	assert_int_equal(stop_with(&b, SIGTERM), 0);
	tu_rmtree(tmp);
}

/* A start that died after tlog_create (with or without the key saved) is
 * finished by the next one; a log whose entry 0 is not admin.root is refused. */
static void test_genesis_recovery(void **state)
{
	char *tmp = tu_tempdir("tlogd-rec");
	char d1[4096], d2[4096], d3[4096], path[4200], id[65];
	struct l3af_err err = {0};
	struct signer_privkey *key = NULL;
	struct signer_entry e = {0};
	struct child a, b, c;
	unsigned port;

	(void)state;
	snprintf(d1, sizeof(d1), "%s/nokey", tmp);
	snprintf(d2, sizeof(d2), "%s/withkey", tmp);
	snprintf(d3, sizeof(d3), "%s/foreign", tmp);
	assert_int_equal(tlog_create(d1, "rec.example/log", &err), L3AF_OK);
	assert_int_equal(tlog_create(d2, "rec.example/log", &err), L3AF_OK);
	assert_int_equal(tlog_create(d3, "rec.example/log", &err), L3AF_OK);

	/* Died before the key: key created, genesis appended. A stale
	 * admin.key.tmp from a half-written save is discarded. */
	snprintf(path, sizeof(path), "%s/admin.key.tmp", d1);
	write_text(path, "-----BEGIN PRIV");
	spawn(&a, (const char *const[]){"--data", d1, "--listen", "127.0.0.1:0", NULL});
	port = wait_ready(&a);
	admin_key_id(d1, id);
	check_entry0(port, 1, "rec.example/log", &e);
	assert_string_equal(e.root.admins[0].id, id);
	signer_entry_clear(&e);
	assert_int_equal(stop_with(&a, SIGTERM), 0);

	/* Died after saving the key: that very key is used, admin.pub written. */
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &key, &err), L3AF_OK);
	snprintf(path, sizeof(path), "%s/admin.key", d2);
	assert_int_equal(signer_privkey_save(key, path, &err), L3AF_OK);
	spawn(&b, (const char *const[]){"--data", d2, "--listen", "127.0.0.1:0", NULL});
	port = wait_ready(&b);
	admin_key_id(d2, id);
	assert_string_equal(id, signer_privkey_pubkey(key)->id);
	check_entry0(port, 1, "rec.example/log", &e);
	assert_string_equal(e.root.admins[0].id, id);
	signer_entry_clear(&e);
	assert_int_equal(stop_with(&b, SIGTERM), 0);
	signer_privkey_free(key);

	/* Entry 0 is something else: refused, exit 1, nothing created. */
	append_entries(d3, 0, 1);
	spawn(&c, (const char *const[]){"--data", d3, "--listen", "127.0.0.1:0", NULL});
	assert_int_equal(child_wait(&c, 10000), 1);
	if (!strstr(c.err, "not an admin.root entry"))
		fail_msg("foreign log stderr:\n%s", c.err);
	snprintf(path, sizeof(path), "%s/admin.key", d3);
	assert_int_not_equal(access(path, F_OK), 0);
	tu_rmtree(tmp);
}

/* ---- config file ---------------------------------------------------------- */

/* A listening TCP socket on 127.0.0.1; its port in *port. */
static int busy_port(unsigned *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_config(void **state)
{
	char *tmp = tu_tempdir("tlogd-cfg");
	char data[4096], conf[4200], out[4200], policy[4200], text[16384];
	struct child a, b;
	unsigned busy, port;
	int fd = busy_port(&busy);
	size_t len = 0, elen = 0;
	char *cp, *exported;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(conf, sizeof(conf), "%s/tlogd.conf", tmp);
	snprintf(out, sizeof(out), "%s/www", tmp);
	snprintf(policy, sizeof(policy), "%s/policy.json", tmp);
	write_text(policy, "{}\n");
	snprintf(text, sizeof(text),
		 "# l3af-tlogd test config\n"
		 "\n"
		 "data = %s\n"
		 "  listen=127.0.0.1:%u\n"
		 "origin = cfg.example/log\t\n"
		 "threads = 3\n"
		 "policy = %s\n"
		 "max_artifact_bytes = 1048576\n"
		 "max_batch = 16\n"
		 "max_pending = 64\n"
		 "conn_limit = 100\n"
		 "per_ip_limit = 10\n"
		 "timeout_s = 5\n"
		 "export_dir = %s\n"
		 "export_interval_ms = 50\n"
		 "log_format = json",
		 data, busy, policy, out);
	write_text(conf, text);

	/* The file alone: its listen address is busy, so the start fails
	 * (exit 1, not a usage error) - proof that the file was read. */
	spawn(&a, (const char *const[]){"--config", conf, NULL});
	assert_int_equal(child_wait(&a, 10000), 1);
	if (!strstr(a.err, "\"level\":\"error\""))
		fail_msg("config start stderr:\n%s", a.err);

	/* The command line overrides it: another listen address, text logs. */
	spawn(&b, (const char *const[]){"--config", conf, "--listen", "127.0.0.1:0",
					"--log-format", "text", NULL});
	port = wait_ready(&b);
	assert_non_null(strstr(b.err, "level=info msg=serving origin=cfg.example/log"));
	cp = fetch_checkpoint(port, &len);
	assert_true(len > 16 && memcmp(cp, "cfg.example/log\n", 16) == 0);
	/* export_dir from the file. */
	exported = read_file(out, "checkpoint", &elen);
	assert_int_equal(elen, len);
	assert_memory_equal(exported, cp, len);
	assert_int_equal(stop_with(&b, SIGTERM), 0);
	free(cp);
	l3af_free(exported);
	close(fd);
	tu_rmtree(tmp);
}

static void test_config_errors(void **state)
{
	char *tmp = tu_tempdir("tlogd-cfgerr");
	char data[4096], conf[4200], text[8192], want[4400], policy[4200];
	const struct {
		const char *body; /* after a first line "data = DIR" */
		unsigned line;
		const char *say;
	} cases[] = {
		{"bogus = 1\n", 2, "unknown key 'bogus'"},
		{"# c\nthreads = 2\nthreads = 2\n", 4, "given twice"},
		{"threads = 0\n", 2, "threads"},
		{"threads = 07\n", 2, "threads"},
		{"listen\n", 2, "key = value"},
		{"= 5\n", 2, "missing key"},
		{"origin =\n", 2, "empty value"},
		{"threads = 2\r\n", 2, "carriage return"},
		{"log_format = xml\n", 2, "log_format"},
		{"listen = 127.0.0.1\n", 2, "listen"},
		{"max_batch = -1\n", 2, "max_batch"},
		{"export_interval_ms = 5\n", 2, "export_interval_ms"},
		{"# threads = 0\n  # fine\nDATA = x\n", 4, "unknown key 'DATA'"},
	};
	struct child c;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(conf, sizeof(conf), "%s/bad.conf", tmp);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "data = %s\n%s", data, cases[i].body);
		write_text(conf, text);
		spawn(&c, (const char *const[]){"--config", conf, NULL});
		int code = child_wait(&c, 5000);
		snprintf(want, sizeof(want), "%s:%u: ", conf, cases[i].line);
		if (code != 2 || !strstr(c.err, want) || !strstr(c.err, cases[i].say))
			fail_msg("case %zu: exit %d, want '%s' and '%s', stderr:\n%s", i, code,
				 want, cases[i].say, c.err);
		assert_false(tlog_exists(data));
	}
	/* A policy file that does not parse is a usage error naming it. */
	snprintf(policy, sizeof(policy), "%s/policy.json", tmp);
	write_text(policy, "{\"no_such_rule\":true}");
	spawn(&c, (const char *const[]){"--data", data, "--policy", policy, NULL});
	assert_int_equal(child_wait(&c, 5000), 2);
	if (!strstr(c.err, "policy") || !strstr(c.err, policy))
		fail_msg("bad policy stderr:\n%s", c.err);
	assert_false(tlog_exists(data));
	tu_rmtree(tmp);
}

/* dist/l3af-tlogd.conf, with every commented default switched on, is
 * accepted (paths overridden on the command line): the shipped example and
 * the documented defaults stay valid. */
static void test_dist_config(void **state)
{
	char *tmp = tu_tempdir("tlogd-dist");
	char data[4096], out[4200], conf[4200], policy[4200], src[4200];
	char *text, *copy, active[4096] = " ";
	size_t len = 0, pos = 0, at = 0;
	struct child c;
	unsigned switched = 0;

	(void)state;
	snprintf(src, sizeof(src), "%s/../../dist", L3AF_VECTORS_DIR);
	text = read_file(src, "l3af-tlogd.conf", &len);
	copy = calloc(1, len + 1);
	assert_non_null(copy);
	/* Keys set on active lines, then the file with "# key = default"
	 * lines uncommented for the keys not already set. */
	for (size_t i = 0; i < len; i = strchr(text + i, '\n') - text + 1) {
		size_t k = strcspn(text + i, " =\n");
		if (text[i] != '#' && text[i] != '\n' && k < 64)
			snprintf(active + strlen(active), sizeof(active) - strlen(active), "%.*s ",
				 (int)k, text + i);
	}
	while (pos < len) {
		const char *line = text + pos;
		size_t n = strcspn(line, "\n"), k = strcspn(line + 2, " =\n");
		char key[80];
		if (n > 2 && line[0] == '#' && line[1] == ' ' && k < 64 &&
		    strncmp(line + 2 + k, " = ", 3) == 0) {
			snprintf(key, sizeof(key), " %.*s ", (int)k, line + 2);
			if (!strstr(active, key)) {
				memcpy(copy + at, line + 2, n - 2);
				at += n - 2;
				copy[at++] = '\n';
				switched++;
			}
		} else {
			memcpy(copy + at, line, n);
			at += n;
			copy[at++] = '\n';
		}
		pos += n + 1;
	}
	assert_true(switched >= 10);
	snprintf(conf, sizeof(conf), "%s/all.conf", tmp);
	write_text(conf, copy);
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(out, sizeof(out), "%s/www", tmp);
	snprintf(policy, sizeof(policy), "%s/policy.json", tmp);
	write_text(policy, "{}");
	spawn(&c, (const char *const[]){"--config", conf, "--data", data, "--export-dir", out,
					"--policy", policy, "--listen", "127.0.0.1:0", NULL});
	wait_ready(&c);
	assert_int_equal(stop_with(&c, SIGTERM), 0);
	assert_true(tlog_exists(data));
	free(copy);
	l3af_free(text);
	tu_rmtree(tmp);
}

/* ---- export, shutdown, JSON logs ----------------------------------------- */

/* Every file of the tree of `size` in OUT equals what the server serves. */
static void check_export(const char *out, unsigned port, uint64_t size)
{
	for (int level = TLOG_TILE_ENTRIES; level < 3; level++) {
		unsigned shift = (unsigned)(level < 0 ? 0 : level) * TLOG_TILE_HEIGHT;
		for (uint64_t n = 0; n * TLOG_TILE_WIDTH < (size >> shift); n++) {
			struct tlog_tile_id id = {.level = level, .n = n,
						  .width = tlog_tile_width_at(level, n, size)};
			char rel[TLOG_TILE_PATH_MAX], url[TLOG_TILE_PATH_MAX + 1];
			size_t flen = 0, hlen = 0;
			assert_int_equal(tlog_tile_path(&id, rel), L3AF_OK);
			snprintf(url, sizeof(url), "/%s", rel);
			char *f = read_file(out, rel, &flen);
			uint8_t *h = get_ok(port, url, &hlen);
			assert_int_equal(flen, hlen);
			assert_memory_equal(f, h, hlen);
			l3af_free(f);
			free(h);
		}
	}
}

static void test_export_and_json(void **state)
{
	char *tmp = tu_tempdir("tlogd-exp");
	char data[4096], out[4200];
	struct child a, b;
	size_t len = 0, elen = 0;
	char *cp, *exported;
	unsigned port;
	uint64_t lines = 0;
	bool saw_serving = false, saw_stopped = false;

	(void)state;
	snprintf(data, sizeof(data), "%s/data", tmp);
	snprintf(out, sizeof(out), "%s/www/log", tmp);
	spawn(&a, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", "--export-dir",
					out, NULL});
	wait_ready(&a);
	assert_int_equal(stop_with(&a, SIGTERM), 0);
	spawn(&b, (const char *const[]){"--data", data, "--listen", "127.0.0.1:0", "--export-dir",
					out, "--export-interval-ms", "20", "--log-format", "json",
					NULL});
	port = wait_ready(&b);
	/* 259 entries through the write API while running: a full tile and a
	 * partial one at level 0, bundles. The export thread follows. */
	for (unsigned i = 0; i < 259; i++)
		admin_register(port, data, TLOGD_TEST_ORIGIN, i);
	cp = fetch_checkpoint(port, &len);
	assert_int_equal(verify_checkpoint(data, cp, len), 260);
	for (uint64_t end = now_ms() + 5000;; sleep_ms(20)) {
		exported = read_file(out, "checkpoint", &elen);
		bool same = elen == len && memcmp(exported, cp, len) == 0;
		l3af_free(exported);
		if (same)
			break;
		if (now_ms() > end)
			fail_msg("the export did not reach the served checkpoint");
	}
	check_export(out, port, 260);
	assert_int_equal(stop_with(&b, SIGTERM), 0);
	/* After the stop, the exported checkpoint is the final one. */
	exported = read_file(out, "checkpoint", &elen);
	assert_int_equal(elen, len);
	assert_memory_equal(exported, cp, len);

	/* Every stderr line is one JSON object with ts, level, msg. */
	for (char *line = b.err, *nl; *line; line = nl + 1) {
		json_error_t jerr;
		nl = strchr(line, '\n');
		assert_non_null(nl);
		json_t *o = json_loadb(line, (size_t)(nl - line), JSON_REJECT_DUPLICATES, &jerr);
		if (!o)
			fail_msg("not JSON (%s): %.*s", jerr.text, (int)(nl - line), line);
		assert_true(json_is_string(json_object_get(o, "ts")));
		assert_true(json_is_string(json_object_get(o, "level")));
		const char *msg = json_string_value(json_object_get(o, "msg"));
		assert_non_null(msg);
		if (strcmp(msg, "serving") == 0) {
			saw_serving = true;
			assert_int_equal(json_integer_value(json_object_get(o, "size")), 1);
			assert_string_equal(json_string_value(json_object_get(o, "data")), data);
			assert_string_equal(json_string_value(json_object_get(o, "export_dir")), out);
		}
		if (strcmp(msg, "stopped") == 0) {
			saw_stopped = true;
			assert_int_equal(json_integer_value(json_object_get(o, "size")), 260);
			assert_int_equal(json_integer_value(json_object_get(o, "appended")), 259);
		}
		json_decref(o);
		lines++;
	}
	assert_true(saw_serving && saw_stopped && lines >= 3);
	free(cp);
	l3af_free(exported);
	tu_rmtree(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_genesis, teardown_children),
		cmocka_unit_test_teardown(test_genesis_recovery, teardown_children),
		cmocka_unit_test_teardown(test_config, teardown_children),
		cmocka_unit_test_teardown(test_config_errors, teardown_children),
		cmocka_unit_test_teardown(test_dist_config, teardown_children),
		cmocka_unit_test_teardown(test_export_and_json, teardown_children),
	};

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
