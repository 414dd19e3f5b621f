/*
 * bench_prepare.c - l3af-tlog bench submit: the packages (made as 'package
 * create' and 'sign' make them) and the baseline: the log's admission work
 * on each package, in process on every core, with the same library calls in
 * the server's own admission function (api_admit in api/admit.c): statement,
 * subject digest, archive read, manifest, ELF inspection, policy, envelope
 * signature, entry build. No HTTP, no storage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "bench_submit.h"
#include "ebpf.h"
#include "publish.h"

#define INPROC_MIN_NS 2000000000ull

unsigned bench_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int bench_wait_listening(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* ---- packages ------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX + 64];
	struct l3af_err err = {0};

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if (l3af_file_replace(path, data, len, 0644, &err) != L3AF_OK)
		return cli_error("bench", CLI_FAIL, "%s", err.msg);
	return CLI_OK;
}

/* Package i: README differs, so archive, digest and entry differ. */
static int make_one(struct bench *b, const char *src, size_t i, json_t *jplatform)
{
	struct bench_pkg *p = &b->pkgs[i];
	struct ebpf_pkg *pkg = NULL;
	struct inspection in = {0};
	struct l3af_err err = {0};
	char readme[512], version[32], out[PATH_MAX + 64], *statement = NULL, hex[65];
	uint8_t digest[32];
	json_t *pred = NULL;
	int rc;

	snprintf(readme, sizeof(readme), "# %s\nbench package %zu of run %s\n", b->name, i, b->work);
	snprintf(version, sizeof(version), "1.0.%zu", i);
	snprintf(out, sizeof(out), "%s/%s", b->work, b->artifact);
	rc = write_file(src, "README.md", readme, strlen(readme));
	if (rc == CLI_OK && ebpf_pkg_create(src, b->name, out, &pkg, &err) != L3AF_OK)
		rc = cli_error("bench", CLI_FAIL, "package: %s", err.msg);
	if (rc == CLI_OK)
		rc = pub_load_file("bench", out, EBPF_PKG_MAX_ARCHIVE_BYTES, (char **)&p->art,
				   &p->art_len);
	if (rc == CLI_OK)
		rc = pub_inspect_package("bench", pkg, NULL, &in);
	if (rc == CLI_OK) {
		pub_sha256_hex(p->art, p->art_len, digest, hex);
		pred = json_pack("{s:s, s:s, s:O, s:O, s:O, s:{}}", "name", b->name, "version",
				 version, "platform", jplatform, "files", in.files, "programs",
				 in.objects, "license");
		if (!pred || signer_statement_build(b->artifact, digest, pred, &statement, &err) !=
				     L3AF_OK ||
		    signer_dsse_sign(b->key, SIGNER_INTOTO_PAYLOAD_TYPE, (const uint8_t *)statement,
				     strlen(statement), &p->env, &err) != L3AF_OK)
			rc = cli_error("bench", CLI_FAIL, "sign: %s", err.msg);
		else
			p->env_len = strlen(p->env);
	}
	l3af_free(statement);
	json_decref(pred);
	pub_inspection_free(&in);
	ebpf_pkg_free(pkg);
	return rc;
}

int bench_prepare(struct bench *b, const char *object, unsigned n, const char *name,
		  const char *artifact, const char *platform)
{
	struct l3af_err err = {0};
	char src[PATH_MAX + 8], *elf = NULL;
	size_t elf_len = 0;
	json_t *jplatform = pub_parse_platform(platform);
	int rc = CLI_OK;

	b->name = name;
	b->artifact = artifact;
	b->pkgs = l3af_calloc(n, sizeof(*b->pkgs));
	snprintf(src, sizeof(src), "%s/src", b->work);
	if (!b->pkgs || !jplatform || mkdir(src, 0755) != 0)
		rc = cli_error("bench", CLI_FAIL, "cannot prepare %s", src);
	if (rc == CLI_OK && signer_privkey_generate(SIGNER_ALG_ED25519, &b->key, &err) != L3AF_OK)
		rc = cli_error("bench", CLI_FAIL, "key: %s", err.msg);
	if (rc == CLI_OK)
		rc = pub_load_file("bench", object, EBPF_PKG_MAX_FILE_BYTES, &elf, &elf_len);
	if (rc == CLI_OK)
		rc = write_file(src, "prog.bpf.o", elf, elf_len);
	if (rc == CLI_OK)
		rc = write_file(src, "LICENSE", "Dual BSD/GPL\n", 13);
	for (size_t i = 0; rc == CLI_OK && i < n; i++, b->npkgs++)
		rc = make_one(b, src, i, jplatform);
	json_decref(jplatform);
	l3af_free(elf);
	return rc;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

void bench_free(struct bench *b)
{
	for (size_t i = 0; b->pkgs && i < b->npkgs; i++) {
		l3af_free(b->pkgs[i].env);
		l3af_free(b->pkgs[i].art);
	}
	l3af_free(b->pkgs);
	signer_privkey_free(b->key);
	if (b->work[0] && !strstr(b->work, "XXXXXX"))
		nftw(b->work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the in-process admission baseline ------------------------------------------ */

/* What the log does with one submission before it is sequenced: the
 * server's own admission function (api/admit.c: envelope and statement,
 * predicate, digest, archive read, manifest, inspection of every object,
 * policy, signer_package_verify, the entry bytes). */
static enum l3af_status admit(const struct bench *b, const struct signer_keyset *ks,
			      const struct ebpf_policy *policy, const struct bench_pkg *p,
			      struct l3af_err *err)
{
	struct api_admission u = {0};
	struct api_verdict v = {0};
	char *entry = NULL;
	size_t len = 0;
	bool ok = api_admit(&u, policy, ks, 1, p->env, p->env_len, p->art, p->art_len,
			    b->artifact, &entry, &len, &v);

	if (!ok)
		l3af_fail(err, L3AF_E_VERIFY, "%s: %s", v.code, v.err.msg);
	l3af_free(entry);
	api_admission_clear(&u);
	return ok ? L3AF_OK : L3AF_E_VERIFY;
}

struct inproc {
	const struct bench *b;
	struct ebpf_policy *policy;
	struct signer_keyset ks;
	_Atomic uint64_t next;
	uint64_t deadline_ns;
	_Atomic uint64_t done, failed;
	char msg[L3AF_ERR_MSG_BYTES];
};

static void *inproc_main(void *arg)
{
	struct inproc *ip = arg;

	for (;;) {
		uint64_t i = atomic_fetch_add(&ip->next, 1);
		struct l3af_err err = {0};
		/* All packages at least once; then keep going until the deadline. */
		if (i >= ip->b->npkgs && l3af_now_ns() >= ip->deadline_ns)
			break;
		if (admit(ip->b, &ip->ks, ip->policy, &ip->b->pkgs[i % ip->b->npkgs], &err) == L3AF_OK) {
			atomic_fetch_add(&ip->done, 1);
		} else if (atomic_fetch_add(&ip->failed, 1) == 0) {
			snprintf(ip->msg, sizeof(ip->msg), "%s", err.msg);
		}
	}
	return NULL;
}

int bench_inprocess(struct bench *b, struct bench_result *res)
{
	struct inproc *ip = l3af_calloc(1, sizeof(*ip));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = ncpu > 0 && ncpu < 256 ? (unsigned)ncpu : 1, started = 0;
	pthread_t t[256];
	uint64_t t0;
	int rc = CLI_OK;

	if (!ip || !(ip->policy = ebpf_policy_default())) {
		l3af_free(ip);
		return cli_error("bench", CLI_FAIL, "out of memory");
	}
	ip->b = b;
	snprintf(ip->ks.publisher, sizeof(ip->ks.publisher), "bench");
	ip->ks.version = 1;
	ip->ks.nnamespaces = 1;
	snprintf(ip->ks.namespaces[0], sizeof(ip->ks.namespaces[0]), "%s", b->name);
	ip->ks.threshold = 1;
	ip->ks.nkeys = 1;
	ip->ks.keys[0] = *signer_privkey_pubkey(b->key);
	t0 = l3af_now_ns();
	ip->deadline_ns = t0 + INPROC_MIN_NS;
	for (; started < n; started++)
		if (pthread_create(&t[started], NULL, inproc_main, ip) != 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	res->inproc_per_s = (double)ip->done / ((double)(l3af_now_ns() - t0) / 1e9);
	res->inproc_threads = started;
	if (ip->failed)
		rc = cli_error("bench", CLI_FAIL, "in-process admission failed %llu times: %s",
			       (unsigned long long)ip->failed, ip->msg);
	ebpf_policy_free(ip->policy);
	l3af_free(ip);
	return rc;
}
