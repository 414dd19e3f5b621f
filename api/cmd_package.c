/*
 * cmd_package.c - l3af-tlog package create | inspect (docs/publishing.md
 * steps 2 and 3).
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

void cmd_package_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog package create DIR --name NAME --out FILE.tar.gz\n"
		"                                [--version V] [--platform os/arch[/distro]]\n"
		"       l3af-tlog package inspect FILE.tar.gz [--policy POLICY.json]\n\n"
		"create: pack the regular files under DIR into a byte-reproducible archive laid\n"
		"  out as L3AF expects (one top-level folder l3af_NAME/), sorted, with fixed\n"
		"  times ($SOURCE_DATE_EPOCH or 0), owner 0, modes 0644/0755 and a gzip stream\n"
		"  without name or time. Links, devices and setuid files are refused. Writes\n"
		"  the manifest (name, version, platform, and per file: path, sha256, size,\n"
		"  mode, kind) to FILE.tar.gz.manifest.json and prints it.\n"
		"inspect: read an archive (tar.gz, tar or zip) safely and print, as JSON, its\n"
		"  manifest and the facts of every eBPF object: programs (type, section,\n"
		"  instruction count and SHA-256, helpers, kfuncs, tail calls), maps,\n"
		"  licence, BTF and CO-RE. With --policy, also every rule the package breaks\n"
		"  (docs/policy-format.md); then exit 1 if there is any.\n\n"
		"NAME: 1-64 of a-z 0-9 _ -, starting with a letter.\n"
		"Exit status: 0 done (and no violation), 1 failed or violations, 2 bad usage.\n\n"
		"Example: l3af-tlog package create ./build --name ratelimiting \\\n"
		"             --out l3af_ratelimiting.tar.gz\n");
}

/* {"name","version","platform","files"} for package create's output. */
static int write_manifest(const struct ebpf_pkg *pkg, const char *version, json_t *platform,
			  const char *out)
{
	struct l3af_err err = {0};
	char *files = NULL, *text = NULL, path[4096];
	json_t *m = NULL;
	int rc = CLI_OK;

	if (ebpf_pkg_manifest_json(pkg, &files, &err) != L3AF_OK)
		return cli_error("package", CLI_FAIL, "manifest: %s", err.msg);
	m = json_pack("{s:s, s:o}", "name", pkg->name, "files", json_loads(files, 0, NULL));
	if (version && pub_set_arg(m, "version", "package", "--version", version) != CLI_OK) {
		json_decref(m);
		l3af_free(files);
		return CLI_USAGE;
	}
	if (platform)
		json_object_set(m, "platform", platform);
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	if ((size_t)snprintf(path, sizeof(path), "%s.manifest.json", out) >= sizeof(path))
		rc = cli_error("package", CLI_USAGE, "--out path too long");
	else if (!text || l3af_file_replace(path, text, strlen(text), 0644, &err) != L3AF_OK)
		rc = cli_error("package", CLI_FAIL, "%s: %s", path, text ? err.msg : "out of memory");
	else
		printf("%s\n", text);
	free(text);
	json_decref(m);
	l3af_free(files);
	return rc;
}

static int package_create(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"out", required_argument, NULL, 'o'},
					     {"version", required_argument, NULL, 'v'},
					     {"platform", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL, *out = NULL, *version = NULL, *plat = NULL;
	struct ebpf_pkg *pkg = NULL;
	struct l3af_err err = {0};
	json_t *platform = NULL;
	int c, rc = CLI_OK;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 'v')
			version = optarg;
		else if (c == 'p')
			plat = optarg;
		else
			return cli_error("package", CLI_USAGE, "unknown option (see --help)");
	}
	if (optind != argc - 1 || !name || !out)
		return cli_error("package", CLI_USAGE, "create needs DIR, --name NAME, --out FILE");
	if (plat && !(platform = pub_parse_platform(plat)))
		return cli_error("package", CLI_USAGE, "--platform is os/arch[/distro], not '%s'", plat);
	if (ebpf_pkg_create(argv[optind], name, out, &pkg, &err) != L3AF_OK)
		rc = cli_error("package", CLI_FAIL, "%s", err.msg);
	else
		rc = write_manifest(pkg, version, platform, out);
	json_decref(platform);
	ebpf_pkg_free(pkg);
	return rc;
}

static int package_inspect(int argc, char **argv)
{
	static const struct option opts[] = {{"policy", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	const char *policy_path = NULL;
	struct ebpf_policy *policy = NULL;
	struct ebpf_pkg *pkg = NULL;
	struct inspection in = {0};
	char *bytes = NULL, hex[65];
	uint8_t digest[32];
	size_t len = 0;
	int c, rc;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p')
			return cli_error("package", CLI_USAGE, "unknown option (see --help)");
		policy_path = optarg;
	}
	if (optind != argc - 1)
		return cli_error("package", CLI_USAGE, "inspect needs one archive");
	rc = pub_load_policy("package", policy_path, &policy);
	if (rc == CLI_OK)
		rc = pub_read_package("package", argv[optind], &bytes, &len, &pkg);
	if (rc == CLI_OK)
		rc = pub_inspect_package("package", pkg, policy, &in);
	if (rc == CLI_OK) {
		pub_sha256_hex((const uint8_t *)bytes, len, digest, hex);
		json_t *j = json_pack("{s:s, s:s, s:O, s:O}", "name", pkg->name, "sha256", hex, "files",
				      in.files, "objects", in.objects);
		if (policy)
			json_object_set(j, "violations", in.violations);
		pub_print_json(j);
		json_decref(j);
		if (policy && json_array_size(in.violations))
			rc = CLI_FAIL;
	}
	pub_inspection_free(&in);
	ebpf_pkg_free(pkg);
	ebpf_policy_free(policy);
	l3af_free(bytes);
	return rc;
}

int cmd_package(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return package_create(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "inspect"))
		return package_inspect(argc, argv);
	return cli_error("package", CLI_USAGE, "create or inspect? (see --help)");
}

