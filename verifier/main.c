/*
 * main.c - l3af-verify: the agent's command line, a thin main over
 * l3af_verify.h only. One JSON object on stdout; exit 0 allow, 1 deny,
 * 2 usage or configuration error, 3 could not decide (docs/verifier.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "l3af_verify.h"

enum { EXIT_USAGE = 2 };

#define ARTIFACT_MAX (256ull << 20)
#define BUNDLE_MAX (1u << 20)
#define POLICY_MAX (64u << 10)
#define PROOF_MAX (16u << 10)

struct opts {
	const char *name, *version, *platform, *file, *artifact, *bundle, *log, *consistency;
	const char *policy, *node_policy, *state, *out, *dir, *path;
	bool dev_no_witnesses;
	long timeout_ms;
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Exit 2 with a JSON answer on stdout and the message on stderr. */
static int fail(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "l3af-verify: %s\n", msg);
	printf("{\"reasons\":[{\"code\":");
	json_str(stdout, code);
	printf(",\"message\":");
	json_str(stdout, msg);
	printf("}],\"verdict\":\"error\"}\n");
	return EXIT_USAGE;
}

static int read_all(const char *path, size_t max, char **out, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t cap = 1 << 16, n = 0;
	char *buf;

	if (fd < 0)
		return -1;
	buf = malloc(cap + 1);
	while (buf) {
		ssize_t r;

		if (n == cap) {
			char *b = cap > max ? NULL : realloc(buf, cap * 2 + 1);

			if (!b) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (!buf)
		return -1;
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: l3af-verify check   --name N --version V --platform P --file F\n"
		"                           --artifact PATH|- (--bundle PATH [--consistency PATH] | --log URL)\n"
		"                           --policy PATH [--node-policy PATH] --state DIR\n"
		"                           [--dev-allow-no-witnesses] [--timeout MS]\n"
		"       l3af-verify extract (the check options) --out DIR\n"
		"       l3af-verify file    --dir DIR --path REL\n\n"
		"Verify an eBPF package against a transparency log before loading it.\n"
		"One JSON object on stdout. Exit: 0 allow, 1 deny, 2 usage or configuration\n"
		"error, 3 could not decide (log unreachable, no fresh checkpoint).\n"
		"file checks a path: load from it right after, as root, or close the\n"
		"check-then-use gap with the library's l3af_verify_file_open (the checked fd).\n"
		"docs/verifier.md and docs/l3afd-integration.md describe the contract.\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct { const char *flag; size_t off; } table[] = {
		{ "--name", offsetof(struct opts, name) },
		{ "--version", offsetof(struct opts, version) },
		{ "--platform", offsetof(struct opts, platform) },
		{ "--file", offsetof(struct opts, file) },
		{ "--artifact", offsetof(struct opts, artifact) },
		{ "--bundle", offsetof(struct opts, bundle) },
		{ "--log", offsetof(struct opts, log) },
		{ "--consistency", offsetof(struct opts, consistency) },
		{ "--policy", offsetof(struct opts, policy) },
		{ "--node-policy", offsetof(struct opts, node_policy) },
		{ "--state", offsetof(struct opts, state) },
		{ "--out", offsetof(struct opts, out) },
		{ "--dir", offsetof(struct opts, dir) },
		{ "--path", offsetof(struct opts, path) },
	};

	for (int i = 2; i < argc; i++) {
		size_t k = 0;

		if (!strcmp(argv[i], "--dev-allow-no-witnesses")) {
			o->dev_no_witnesses = true;
			continue;
		}
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;

			o->timeout_ms = strtol(argv[++i], &end, 10);
			if (*end || o->timeout_ms <= 0)
				return fail("usage", "--timeout wants milliseconds, not '%s'", argv[i]);
			continue;
		}
		while (k < sizeof(table) / sizeof(*table) && strcmp(table[k].flag, argv[i]))
			k++;
		if (k == sizeof(table) / sizeof(*table))
			return fail("usage", "unknown option '%s' (see --help)", argv[i]);
		if (i + 1 >= argc)
			return fail("usage", "%s needs a value", argv[i]);
		if (*(const char **)((char *)o + table[k].off))
			return fail("usage", "%s given twice", argv[i]);
		*(const char **)((char *)o + table[k].off) = argv[++i];
	}
	return 0;
}

static int configure(const struct opts *o, struct l3af_verify_config **cfg)
{
	char err[L3AF_VERIFY_ERR_BYTES], *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (l3af_verify_config_new(cfg, err) != L3AF_VERIFY_OK)
		return fail("config", "%s", err);
	l3af_verify_config_allow_no_witnesses(*cfg, o->dev_no_witnesses);
	if (o->timeout_ms)
		l3af_verify_config_set_timeout(*cfg, o->timeout_ms);
	if (read_all(o->policy, POLICY_MAX, &text, &len) != 0)
		return fail("config", "trust policy %s: %s", o->policy, strerror(errno));
	if (l3af_verify_config_trust_policy(*cfg, text, len, err) != L3AF_VERIFY_OK)
		rc = fail("config", "%s: %s", o->policy, err);
	free(text);
	if (rc == 0 && o->node_policy) {
		if (read_all(o->node_policy, POLICY_MAX, &text, &len) != 0)
			return fail("config", "node policy %s: %s", o->node_policy, strerror(errno));
		if (l3af_verify_config_node_policy(*cfg, text, len, err) != L3AF_VERIFY_OK)
			rc = fail("config", "%s: %s", o->node_policy, err);
		free(text);
	}
	if (rc == 0 && l3af_verify_config_state_dir(*cfg, o->state, err) != L3AF_VERIFY_OK)
		rc = fail("config", "%s", err);
	return rc;
}

static int check(const struct opts *o, bool extract)
{
	struct l3af_verify_config *cfg = NULL;
	struct l3af_verify_result *res = NULL;
	struct l3af_verify_request req;
	char err[L3AF_VERIFY_ERR_BYTES], *artifact = NULL, *bundle = NULL, *proof = NULL;
	size_t alen = 0, blen = 0, plen = 0;
	int rc;

	if (!o->name || !o->version || !o->platform || !o->file || !o->artifact || !o->policy ||
	    !o->state)
		return fail("usage", "--name, --version, --platform, --file, --artifact, --policy "
			    "and --state are required");
	if (!o->bundle == !o->log)
		return fail("usage", "give --bundle (offline) or --log (online)");
	if (extract != (o->out != NULL))
		return fail("usage", extract ? "extract needs --out DIR" : "--out is for extract");
	rc = configure(o, &cfg);
	if (rc == 0 && read_all(o->artifact, ARTIFACT_MAX, &artifact, &alen) != 0)
		rc = fail("usage", "artifact %s: %s", o->artifact, strerror(errno));
	if (rc == 0 && o->bundle && read_all(o->bundle, BUNDLE_MAX, &bundle, &blen) != 0)
		rc = fail("usage", "bundle %s: %s", o->bundle, strerror(errno));
	if (rc == 0 && o->consistency && read_all(o->consistency, PROOF_MAX, &proof, &plen) != 0)
		rc = fail("usage", "consistency proof %s: %s", o->consistency, strerror(errno));
	if (rc == 0) {
		memset(&req, 0, sizeof(req));
		req = (struct l3af_verify_request){
			.name = o->name, .version = o->version, .platform = o->platform,
			.file_name = o->file, .artifact = (const uint8_t *)artifact,
			.artifact_len = alen, .bundle = bundle, .bundle_len = blen,
			.consistency = proof, .consistency_len = plen, .log_url = o->log,
		};
		if (l3af_verify_check(cfg, &req, &res, err) != L3AF_VERIFY_OK)
			rc = fail("config", "%s", err);
	}
	if (rc == 0) {
		rc = (int)l3af_verify_result_verdict(res);
		if (extract && rc == L3AF_VERIFY_ALLOW &&
		    l3af_verify_extract(res, o->out, err) != L3AF_VERIFY_OK)
			rc = fail("extract", "%s", err);
		else
			printf("%s\n", l3af_verify_result_json(res));
	}
	l3af_verify_result_free(res);
	l3af_verify_config_free(cfg);
	free(artifact);
	free(bundle);
	free(proof);
	return rc;
}

static int file_cmd(const struct opts *o)
{
	struct l3af_verify_result *res = NULL;
	char err[L3AF_VERIFY_ERR_BYTES];
	int rc;

	if (!o->dir || !o->path)
		return fail("usage", "file needs --dir DIR and --path REL");
	if (l3af_verify_file(o->dir, o->path, &res, err) != L3AF_VERIFY_OK)
		return fail("config", "%s", err);
	printf("%s\n", l3af_verify_result_json(res));
	rc = (int)l3af_verify_result_verdict(res);
	l3af_verify_result_free(res);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;

	memset(&o, 0, sizeof(o));
	/* Offline, OpenSSL only hashes (SHA-256) and decodes keys: skip reading
	 * the system's openssl.cnf, about 1-2 ms of a ~5 ms check process
	 * (docs/benchmarks.md, verify). Online, libcurl's TLS keeps the system
	 * configuration (its TLS policy). */
	bool online = false;
	for (int i = 2; i < argc; i++)
		online = online || !strcmp(argv[i], "--log");
	if (!online)
		OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	if (parse(argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (!strcmp(argv[1], "check"))
		return check(&o, false);
	if (!strcmp(argv[1], "extract"))
		return check(&o, true);
	if (!strcmp(argv[1], "file"))
		return file_cmd(&o);
	return fail("usage", "unknown command '%s' (check, extract, file)", argv[1]);
}
