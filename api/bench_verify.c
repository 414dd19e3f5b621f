/*
 * bench_verify.c - l3af-tlog bench verify: the agent's verification cost.
 * Builds a real log in a temporary directory (admin.root, a publisher key
 * set, one package whose archive holds a data file of --bytes, default
 * 1 MiB, and a small one), a bundle cosigned by two witnesses, and times:
 *  - one offline l3af_verify_check in the library (small artifact, and the
 *    1 MiB one), against the Ed25519 verifications it performs measured
 *    with crypto_sign_verify_detached in the same run (checkpoint, two
 *    cosignatures, the DSSE envelope: 4), goal <= 1.5x for the small one;
 *  - the whole `l3af-verify check` process for the 1 MiB artifact (goal
 *    < 10 ms). Medians. Last line: one JSON object.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ebpf.h"
#include "l3af_verify.h"
#include "signer.h"
#include "tlog.h"

#define ORIGIN "bench.example/log"

struct bv {
	char dir[PATH_MAX];
	struct tlog *log;
	struct signer_vkey logvk;
	char logvkey[SIGNER_VKEY_TEXT_MAX], wvkey[2][SIGNER_VKEY_TEXT_MAX];
	struct signer_privkey *admin, *pub;
	struct signer_key *w[2];
	size_t statement_len;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX + 256];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -1;
	return l3af_file_replace(path, data, len, 0644, NULL) == L3AF_OK ? 0 : -1;
}

static int append(struct bv *b, const char *bytes, size_t len, uint64_t *index)
{
	struct tlog_entry e = { .data = (const uint8_t *)bytes, .len = len };

	return tlog_append(b->log, &e, 1, index, NULL) == L3AF_OK ? 0 : -1;
}

static json_t *envelope(struct signer_privkey *k, const char *type, const char *payload)
{
	char *text = NULL;
	json_t *j = NULL;

	if (signer_dsse_sign(k, type, (const uint8_t *)payload, strlen(payload), &text, NULL) ==
	    L3AF_OK)
		j = json_loads(text, 0, NULL);
	l3af_free(text);
	return j;
}

static int setup_log(struct bv *b)
{
	struct signer_admin_root root = { .version = 1, .threshold = 1, .nadmins = 1 };
	struct signer_admin_request req = { .action = "publisher.register" };
	char path[PATH_MAX + 64], *text = NULL, *payload = NULL, *bytes = NULL, *env_text = NULL;
	size_t len = 0;
	uint64_t idx;
	json_t *env;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/log", b->dir);
	if (tlog_create(path, ORIGIN, NULL) != L3AF_OK ||
	    tlog_open(path, TLOG_OPEN_WRITER, &b->log, NULL) != L3AF_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/log/log.vkey", b->dir);
	if (l3af_file_read(path, 4096, &text, &len, NULL) != L3AF_OK)
		return -1;
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	snprintf(b->logvkey, sizeof(b->logvkey), "%s", text);
	rc = signer_vkey_parse(text, len, &b->logvk, NULL) == L3AF_OK ? 0 : -1;
	l3af_free(text);
	for (int i = 0; rc == 0 && i < 2; i++) {
		struct signer_vkey vk;
		char name[32];

		snprintf(name, sizeof(name), "witness%d.example", i);
		rc = signer_key_generate(name, SIGNER_TYPE_COSIG_V1, &b->w[i], NULL) == L3AF_OK ? 0 : -1;
		if (rc == 0) {
			signer_key_vkey(b->w[i], &vk);
			signer_vkey_format(&vk, b->wvkey[i]);
		}
	}
	if (rc || signer_privkey_generate(SIGNER_ALG_ED25519, &b->admin, NULL) != L3AF_OK ||
	    signer_privkey_generate(SIGNER_ALG_ED25519, &b->pub, NULL) != L3AF_OK)
		return -1;
	strcpy(root.origin, ORIGIN);
	root.admins[0] = *signer_privkey_pubkey(b->admin);
	if (signer_entry_admin_root(&root, &bytes, &len, NULL) != L3AF_OK ||
	    append(b, bytes, len, &idx) != 0)
		return -1;
	l3af_free(bytes);
	strcpy(req.origin, ORIGIN);
	randombytes_buf(req.nonce, sizeof(req.nonce));
	req.not_before = l3af_wall_s() - 10;
	req.not_after = l3af_wall_s() + 290;
	strcpy(req.params.publisher, "bench");
	req.params.version = 1;
	req.params.nnamespaces = 1;
	strcpy(req.params.namespaces[0], "*");
	req.params.threshold = 1;
	req.params.nkeys = 1;
	req.params.keys[0] = *signer_privkey_pubkey(b->pub);
	rc = -1;
	if (signer_admin_request_build(&req, &payload, NULL) == L3AF_OK &&
	    (env = envelope(b->admin, SIGNER_ADMIN_PAYLOAD_TYPE, payload))) {
		env_text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(env);
		if (env_text && signer_entry_keyset(&req.params, env_text, strlen(env_text), &bytes,
						    &len, NULL) == L3AF_OK &&
		    append(b, bytes, len, &idx) == 0)
			rc = 0;
		l3af_free(bytes);
	}
	free(env_text);
	l3af_free(payload);
	return rc;
}

/* Package `name` holding README.md and data.bin of `size` random bytes;
 * writes NAME.tar.gz and NAME.bundle into the work dir. */
static int make_pkg(struct bv *b, const char *name, size_t size)
{
	char src[PATH_MAX + 64], art[PATH_MAX + 64], *manifest = NULL, *statement = NULL;
	char *bytes = NULL, *note = NULL, *full = NULL, *text = NULL, fname[128];
	uint8_t *data = malloc(size ? size : 1), *abytes = NULL;
	struct ebpf_pkg *pkg = NULL;
	struct signer_package p = { .keys_index = 1 };
	struct tlog_bundle *bun = calloc(1, sizeof(*bun));
	struct signer_note_result nr;
	struct tlog_checkpoint cp;
	size_t len = 0, alen = 0, flen;
	uint64_t idx = 0;
	json_t *files = NULL, *pred = NULL;
	int rc = -1;

	snprintf(src, sizeof(src), "%s/src-%s", b->dir, name);
	snprintf(art, sizeof(art), "%s/%s.tar.gz", b->dir, name);
	if (!data || !bun || mkdir(src, 0755) != 0)
		goto out;
	randombytes_buf(data, size);
	if (put(src, "README.md", "# bench\n", 8) || put(src, "data.bin", data, size) ||
	    ebpf_pkg_create(src, name, art, &pkg, NULL) != L3AF_OK ||
	    ebpf_pkg_manifest_json(pkg, &manifest, NULL) != L3AF_OK ||
	    l3af_file_read(art, EBPF_PKG_MAX_ARCHIVE_BYTES, (char **)&abytes, &alen, NULL) != L3AF_OK)
		goto out;
	files = json_loads(manifest, 0, NULL);
	strcpy(p.publisher, "bench");
	snprintf(p.name, sizeof(p.name), "%s", name);
	strcpy(p.version, "1.0.0");
	strcpy(p.platform, "linux/amd64");
	snprintf(p.artifact_name, sizeof(p.artifact_name), "l3af_%s.tar.gz", name);
	p.artifact_size = alen;
	pred = json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:[],s:{}}", "name", name, "version", "1.0.0",
			 "platform", "os", "linux", "arch", "amd64", "files", files, "programs",
			 "license");
	if (!files || !pred || l3af_sha256(abytes, alen, p.artifact_sha256) != L3AF_OK ||
	    signer_statement_build(p.artifact_name, p.artifact_sha256, pred, &statement, NULL) !=
		    L3AF_OK ||
	    !(p.envelope = envelope(b->pub, SIGNER_INTOTO_PAYLOAD_TYPE, statement)))
		goto out;
	b->statement_len = strlen(statement);
	p.files = files;
	p.objects = json_array();
	if (signer_entry_package(&p, &bytes, &len, NULL) != L3AF_OK || append(b, bytes, len, &idx))
		goto out;
	/* the bundle, cosigned by both witnesses */
	if (tlog_checkpoint_get(b->log, &note, &len, NULL) != L3AF_OK ||
	    signer_note_open(note, len, &b->logvk, 1, &nr, NULL) != L3AF_OK ||
	    tlog_checkpoint_parse(note, nr.text_len, &cp, NULL) != L3AF_OK ||
	    !(full = malloc(len + 2 * SIGNER_NOTE_LINE_MAX)))
		goto out;
	memcpy(full, note, len);
	flen = len;
	for (int i = 0; i < 2; i++) {
		char line[SIGNER_NOTE_LINE_MAX];

		if (signer_note_sign_line(b->w[i], note, nr.text_len, (uint64_t)l3af_wall_s() - 5,
					  line, sizeof(line), NULL) != L3AF_OK)
			goto out;
		memcpy(full + flen, line, strlen(line));
		flen += strlen(line);
	}
	bun->proof.index = idx;
	memcpy(bun->entry, bytes, strlen(bytes));
	bun->entry_len = strlen(bytes);
	bun->has_keys = true;
	bun->keys_index = 1;
	l3af_free(bytes);
	bytes = NULL;
	if (tlog_entry_read(b->log, 1, (uint8_t **)&bytes, &len, NULL) != L3AF_OK)
		goto out;
	memcpy(bun->keys_entry, bytes, len);
	bun->keys_entry_len = len;
	if (tlog_prove_inclusion(b->log, idx, cp.size, bun->proof.proof, &bun->proof.nproof,
				 NULL) != L3AF_OK ||
	    tlog_prove_inclusion(b->log, 1, cp.size, bun->kproof, &bun->nkproof, NULL) != L3AF_OK ||
	    tlog_bundle_format(bun, full, flen, &text, &len, NULL) != L3AF_OK)
		goto out;
	snprintf(fname, sizeof(fname), "%s.bundle", name);
	rc = put(b->dir, fname, text, len);
out:
	ebpf_pkg_free(pkg);
	json_decref(files);
	json_decref(pred);
	json_decref(p.envelope);
	json_decref(p.objects);
	l3af_free(manifest);
	l3af_free(statement);
	l3af_free(bytes);
	l3af_free(note);
	l3af_free(text);
	l3af_free(abytes);
	free(full);
	free(data);
	free(bun);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

#define RUNS 101

/* Median ns of one in-library check of NAME. */
static int lib_time(struct bv *b, const char *policy, const char *name, uint64_t *ns)
{
	char path[PATH_MAX + 64], *art = NULL, *bundle = NULL, file[128];
	struct l3af_verify_config *cfg = NULL;
	size_t alen = 0, blen = 0;
	uint64_t t[RUNS];
	int rc = 0;

	/* one state directory per package: each bundle is at its own tree size */
	snprintf(path, sizeof(path), "%s/state-%s", b->dir, name);
	if (l3af_verify_config_new(&cfg, NULL) != L3AF_VERIFY_OK ||
	    l3af_verify_config_trust_policy(cfg, policy, strlen(policy), NULL) != L3AF_VERIFY_OK ||
	    l3af_verify_config_state_dir(cfg, path, NULL) != L3AF_VERIFY_OK) {
		l3af_verify_config_free(cfg);
		return -1;
	}

	snprintf(path, sizeof(path), "%s/%s.tar.gz", b->dir, name);
	if (l3af_file_read(path, EBPF_PKG_MAX_ARCHIVE_BYTES, &art, &alen, NULL) != L3AF_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.bundle", b->dir, name);
	if (l3af_file_read(path, 1 << 20, &bundle, &blen, NULL) != L3AF_OK)
		return -1;
	snprintf(file, sizeof(file), "l3af_%s.tar.gz", name);
	for (int i = 0; rc == 0 && i < RUNS; i++) {
		struct l3af_verify_request req = { .name = name, .version = "1.0.0",
			.platform = "linux/amd64", .file_name = file, .artifact = (uint8_t *)art,
			.artifact_len = alen, .bundle = bundle, .bundle_len = blen };
		struct l3af_verify_result *res = NULL;
		uint64_t t0 = l3af_now_ns();

		if (l3af_verify_check(cfg, &req, &res, NULL) != L3AF_VERIFY_OK ||
		    l3af_verify_result_verdict(res) != L3AF_VERIFY_ALLOW) {
			fprintf(stderr, "bench verify: %s\n", l3af_verify_result_json(res));
			rc = -1;
		}
		t[i] = l3af_now_ns() - t0;
		l3af_verify_result_free(res);
	}
	*ns = median(t, RUNS);
	l3af_verify_config_free(cfg);
	l3af_free(art);
	l3af_free(bundle);
	return rc;
}

/* The 4 Ed25519 verifications of a check, over messages of the same sizes. */
static uint64_t ed25519_time(size_t statement_len)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[4][64];
	size_t lens[4] = { 90, 130, 130, statement_len + 60 };
	uint8_t *msg[4];
	uint64_t t[RUNS];
	volatile int bad = 0;

	crypto_sign_keypair(pk, sk);
	for (int i = 0; i < 4; i++) {
		msg[i] = malloc(lens[i]);
		randombytes_buf(msg[i], lens[i]);
		crypto_sign_detached(sig[i], NULL, msg[i], lens[i], sk);
	}
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = l3af_now_ns();

		for (int i = 0; i < 4; i++)
			bad |= crypto_sign_verify_detached(sig[i], msg[i], lens[i], pk);
		t[r] = l3af_now_ns() - t0;
	}
	for (int i = 0; i < 4; i++)
		free(msg[i]);
	return bad ? 0 : median(t, RUNS);
}

static int proc_time(struct bv *b, const char *bin, const char *name, uint64_t *ns)
{
	char art[PATH_MAX + 64], bun[PATH_MAX + 64], pol[PATH_MAX + 64], st[PATH_MAX + 64];
	char file[128];
	uint64_t t[31];

	snprintf(art, sizeof(art), "%s/%s.tar.gz", b->dir, name);
	snprintf(bun, sizeof(bun), "%s/%s.bundle", b->dir, name);
	snprintf(pol, sizeof(pol), "%s/policy", b->dir);
	snprintf(st, sizeof(st), "%s/state-%s", b->dir, name);
	snprintf(file, sizeof(file), "l3af_%s.tar.gz", name);
	for (int i = 0; i < 31; i++) {
		uint64_t t0 = l3af_now_ns();
		pid_t pid = fork();
		int status = 0;

		if (pid == 0) {
			if (!freopen("/dev/null", "w", stdout))
				_exit(127);
			execl(bin, bin, "check", "--name", name, "--version", "1.0.0", "--platform",
			      "linux/amd64", "--file", file, "--artifact", art, "--bundle", bun,
			      "--policy", pol, "--state", st, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			return -1;
		t[i] = l3af_now_ns() - t0;
	}
	*ns = median(t, 31);
	return 0;
}

int bench_verify_main(int argc, char **argv)
{
	struct bv b;
	char *policy = NULL, self[PATH_MAX], bin[PATH_MAX + 64];
	const char *tmp = getenv("TMPDIR");
	unsigned long long bytes = 1 << 20;
	uint64_t small_ns = 0, big_ns = 0, ed_ns = 0, proc_ns = 0;
	ssize_t n;
	int rc = CLI_FAIL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			if (cli_parse_count("bench", "--bytes", argv[++i], 64ull << 20, &bytes) != 0)
				return CLI_USAGE;
		} else {
			return cli_error("bench", CLI_USAGE, "verify: unknown option '%s'", argv[i]);
		}
	}
	memset(&b, 0, sizeof(b));
	snprintf(b.dir, sizeof(b.dir), "%s/l3af-bench-verify-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(b.dir) || sodium_init() < 0)
		return cli_error("bench", CLI_FAIL, "verify: cannot make a work directory");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/../verifier/l3af-verify", self);
	if (setup_log(&b) || make_pkg(&b, "small", 4096) || make_pkg(&b, "big", (size_t)bytes) ||
	    asprintf(&policy, "log %s\nwitness w0 %s\nwitness w1 %s\ngroup g all w0 w1\nquorum g\n",
		     b.logvkey, b.wvkey[0], b.wvkey[1]) < 0 ||
	    put(b.dir, "policy", policy, strlen(policy))) {
		cli_error("bench", CLI_FAIL, "verify: could not build the fixture");
		goto out;
	}
	if (lib_time(&b, policy, "small", &small_ns) || lib_time(&b, policy, "big", &big_ns) ||
	    !(ed_ns = ed25519_time(b.statement_len))) {
		cli_error("bench", CLI_FAIL, "verify: the library check failed");
		goto out;
	}
	if (proc_time(&b, bin, "big", &proc_ns)) {
		cli_error("bench", CLI_FAIL, "verify: running %s failed", bin);
		goto out;
	}
	printf("in-library check, 4 KiB artifact: %.1f us (median of %d)\n", small_ns / 1e3, RUNS);
	printf("in-library check, %llu-byte artifact: %.1f us\n", bytes, big_ns / 1e3);
	printf("its 4 Ed25519 verifications alone: %.1f us; ratio %.2f (goal <= 1.5)\n",
	       ed_ns / 1e3, (double)small_ns / (double)ed_ns);
	printf("l3af-verify check process, %llu-byte artifact: %.2f ms (goal < 10)\n", bytes,
	       proc_ns / 1e6);
	printf("{\"bench\":\"verify\",\"lib_small_us\":%.1f,\"lib_big_us\":%.1f,\"ed25519_x4_us\":%.1f,"
	       "\"ratio\":%.2f,\"process_ms\":%.2f,\"artifact_bytes\":%llu}\n",
	       small_ns / 1e3, big_ns / 1e3, ed_ns / 1e3, (double)small_ns / (double)ed_ns,
	       proc_ns / 1e6, bytes);
	rc = CLI_OK;
out:
	free(policy);
	tlog_close(b.log);
	signer_privkey_free(b.admin);
	signer_privkey_free(b.pub);
	signer_key_free(b.w[0]);
	signer_key_free(b.w[1]);
	nftw(b.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
