/*
 * cmd_publish.c - what the publisher's commands share (publish.h): file and
 * JSON helpers, and inspecting a package. The commands themselves are in
 * cmd_package.c (package create, inspect) and cmd_sign.c (keygen, sign,
 * statement verify); docs/publishing.md walks through them.
 *
 * The statement a publisher signs is an in-toto Statement v1 whose subject is
 * the package archive (file name and SHA-256) and whose predicate describes
 * it (docs/publishing.md, step 4): name, version, platform, the file
 * manifest, the facts of every eBPF program, licence, documentation digest
 * and the L3AF loading fields. It travels as a DSSE envelope.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "ebpf.h"
#include "publish.h"
#include "signer.h"

/* ---- small helpers ----------------------------------------------------- */

int pub_load_file(const char *cmd, const char *path, size_t max, char **buf, size_t *len)
{
	struct l3af_err err = {0};

	if (l3af_file_read(path, max, buf, len, &err) != L3AF_OK)
		return cli_error(cmd, CLI_FAIL, "%s", err.msg);
	return CLI_OK;
}

void pub_sha256_hex(const uint8_t *data, size_t len, uint8_t bin[32], char hex[65])
{
	/* On failure bin is all 0xff: it matches no statement's digest. */
	if (l3af_sha256(data, len, bin) != L3AF_OK)
		cli_error("sha256", CLI_FAIL, "OpenSSL failed");
	l3af_hex_encode(hex, bin, 32);
}

/* Print a JSON value compactly with sorted keys, and a newline. */
void pub_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* A command-line value as a JSON string: NULL (and a usage message) unless
 * it is valid UTF-8, so that nothing asked for is silently left out. */
json_t *pub_arg_string(const char *cmd, const char *opt, const char *value)
{
	json_t *s = json_string(value);

	if (!s)
		cli_error(cmd, CLI_USAGE, "%s must be UTF-8 text", opt);
	return s;
}

/* Set key of obj to the option's value; CLI_USAGE if it is not UTF-8. */
int pub_set_arg(json_t *obj, const char *key, const char *cmd, const char *opt,
		   const char *value)
{
	json_t *s = pub_arg_string(cmd, opt, value);

	if (!s || json_object_set_new(obj, key, s) != 0)
		return CLI_USAGE;
	return CLI_OK;
}

/* "os/arch[/distro]", e.g. "linux/amd64/bookworm" or "windows/amd64". */
json_t *pub_parse_platform(const char *text)
{
	char *copy = strdup(text), *save = NULL;
	const char *os = copy ? strtok_r(copy, "/", &save) : NULL;
	const char *arch = os ? strtok_r(NULL, "/", &save) : NULL;
	const char *distro = arch ? strtok_r(NULL, "/", &save) : NULL;
	json_t *p = NULL;

	bool known = os && (!strcmp(os, "linux") || (!strcmp(os, "windows") && !distro));

	if (arch && known && !strtok_r(NULL, "/", &save)) {
		p = json_pack("{s:s, s:s}", "os", os, "arch", arch);
		if (p && distro)
			json_object_set_new(p, "distro", json_string(distro));
	}
	free(copy);
	return p;
}

/* ---- package create / inspect --------------------------------------------- */



void pub_inspection_free(struct inspection *in)
{
	for (size_t i = 0; i < in->nobjs; i++)
		ebpf_object_free(in->objs[i]);
	free(in->objs);
	json_decref(in->files);
	json_decref(in->objects);
	json_decref(in->violations);
}

static void on_violation(void *ctx, const char *file, const char *program, const char *rule,
			 const char *message)
{
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:s}", "file", file, "program",
					     program, "rule", rule, "message", message));
}

/* Inspect every ELF object of pkg; apply policy if given. */
int pub_inspect_package(const char *cmd, const struct ebpf_pkg *pkg,
			   const struct ebpf_policy *policy, struct inspection *in)
{
	struct l3af_err err = {0};
	char *manifest = NULL;

	memset(in, 0, sizeof(*in));
	in->objects = json_array();
	in->violations = json_array();
	in->objs = calloc(pkg->nfiles ? pkg->nfiles : 1, sizeof(*in->objs));
	if (ebpf_pkg_manifest_json(pkg, &manifest, &err) != L3AF_OK || !in->objs)
		return cli_error(cmd, CLI_FAIL, "manifest: %s", err.msg);
	in->files = json_loads(manifest, JSON_REJECT_DUPLICATES, NULL);
	l3af_free(manifest);
	for (size_t i = 0; i < pkg->nfiles; i++) {
		const struct ebpf_pkg_file *f = &pkg->files[i];
		in->doc = !in->doc && f->kind == EBPF_KIND_DOC ? f : in->doc;
		in->license = !in->license && f->kind == EBPF_KIND_LICENSE ? f : in->license;
		in->user_exe |= f->kind == EBPF_KIND_USER_EXE;
		if (f->kind != EBPF_KIND_BPF_ELF)
			continue;
		struct ebpf_object *obj = NULL;
		char *facts = NULL;
		if (ebpf_inspect(f->data, f->size, f->path, &obj, &err) != L3AF_OK ||
		    ebpf_object_to_json(obj, &facts, &err) != L3AF_OK) {
			ebpf_object_free(obj);
			return cli_error(cmd, CLI_FAIL, "%s: %s", f->path, err.msg);
		}
		in->objs[in->nobjs++] = obj;
		json_array_append_new(in->objects, json_loads(facts, 0, NULL));
		l3af_free(facts);
	}
	if (policy) {
		struct ebpf_pkg_facts facts = ebpf_pkg_facts_of(pkg);
		ebpf_policy_check(policy, (const struct ebpf_object *const *)in->objs, in->nobjs,
				  &facts, on_violation, in->violations);
	}
	return CLI_OK;
}

int pub_read_package(const char *cmd, const char *path, char **bytes, size_t *len,
			struct ebpf_pkg **pkg)
{
	struct l3af_err err = {0};
	int rc = pub_load_file(cmd, path, EBPF_PKG_MAX_ARCHIVE_BYTES, bytes, len);

	if (rc == CLI_OK && ebpf_pkg_read((const uint8_t *)*bytes, *len, pkg, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "%s: %s", path, err.msg);
	return rc;
}

int pub_load_policy(const char *cmd, const char *path, struct ebpf_policy **out)
{
	struct l3af_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return CLI_OK;
	rc = pub_load_file(cmd, path, 1 << 16, &text, &len);
	if (rc == CLI_OK && ebpf_policy_parse(text, len, out, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "policy %s: %s", path, err.msg);
	l3af_free(text);
	return rc;
}

