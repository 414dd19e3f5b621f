/*
 * cmd_sign.c - l3af-tlog keygen, sign and statement verify (docs/publishing.md
 * steps 1, 4 and 5).
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

/* ---- keygen ------------------------------------------------------------- */

void cmd_keygen_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog keygen --name NAME --out FILE [--alg ed25519|ecdsa-p256]\n\n"
		"Make a publisher signing key. The private key is written to FILE (PKCS#8 PEM,\n"
		"mode 0600, never overwritten) and the public key to FILE.pub (PEM). Prints\n"
		"one JSON object: name, alg, keyid (SHA-256 of the public key's DER) and the\n"
		"public key. Give the public key (FILE.pub) to the log's admins to register\n"
		"you as a publisher; keep FILE secret and backed up.\n\n"
		"Options:\n"
		"  --name NAME   who the key belongs to, e.g. acme-networks (required)\n"
		"  --out FILE    where to write the private key (required)\n"
		"  --alg ALG     ed25519 (default) or ecdsa-p256\n\n"
		"Exit status: 0 done, 1 failed (e.g. FILE exists), 2 bad usage.\n\n"
		"Example: l3af-tlog keygen --name acme --out acme.key\n");
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
					     {"out", required_argument, NULL, 'o'},
					     {"alg", required_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	const char *name = NULL, *out = NULL, *alg = "ed25519";
	struct signer_privkey *key = NULL;
	struct l3af_err err = {0};
	char pem[SIGNER_PUBKEY_PEM_MAX], pubpath[4096];
	int c, rc = CLI_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'o')
			out = optarg;
		else if (c == 'a')
			alg = optarg;
		else
			return cli_error("keygen", CLI_USAGE, "unknown option (see --help)");
	}
	if (!name || !out || optind < argc)
		return cli_error("keygen", CLI_USAGE, "--name NAME and --out FILE are required");
	enum signer_alg a = !strcmp(alg, "ed25519")      ? SIGNER_ALG_ED25519
			    : !strcmp(alg, "ecdsa-p256") ? SIGNER_ALG_ECDSA_P256
							 : 0;
	if (!a)
		return cli_error("keygen", CLI_USAGE, "--alg is ed25519 or ecdsa-p256, not '%s'", alg);
	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", out) >= sizeof(pubpath))
		return cli_error("keygen", CLI_USAGE, "--out path too long");
	json_t *jname = pub_arg_string("keygen", "--name", name);
	if (!jname)
		return CLI_USAGE;
	/* The public file first (exclusive): if anything fails later, no
	 * private key is left behind without its public half, and vice versa. */
	if (signer_privkey_generate(a, &key, &err) != L3AF_OK ||
	    signer_pubkey_format_pem(signer_privkey_pubkey(key), pem, &err) != L3AF_OK ||
	    l3af_file_create(pubpath, pem, strlen(pem), 0644, &err) != L3AF_OK) {
		rc = cli_error("keygen", CLI_FAIL, "%s", err.msg);
	} else if (signer_privkey_save(key, out, &err) != L3AF_OK) {
		unlink(pubpath);
		rc = cli_error("keygen", CLI_FAIL, "%s", err.msg);
	} else {
		json_t *j = json_pack("{s:O, s:s, s:s, s:s, s:s}", "name", jname, "alg", alg, "keyid",
				      signer_privkey_pubkey(key)->id, "public_key", pem,
				      "public_key_file", pubpath);
		pub_print_json(j);
		json_decref(j);
	}
	json_decref(jname);
	signer_privkey_free(key);
	return rc;
}

/* ---- sign ----------------------------------------------------------------- */

struct sign_opts {
	const char *key, *out, *version, *platform, *license, *source_url, *object, *entry,
		*map_name, *policy;
};

void cmd_sign_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog sign --key KEY FILE.tar.gz --version V --platform P\n"
		"                      --out FILE.dsse.json [--license SPDX] [--source-url URL]\n"
		"                      [--object F --entry-function FN [--map-name M]]\n"
		"                      [--policy POLICY.json]\n\n"
		"Sign a package: build an in-toto Statement v1 whose subject is the archive\n"
		"(file name and SHA-256) and whose predicate records the package name,\n"
		"version, platform, file manifest, the facts of every eBPF program, licence,\n"
		"documentation digest and the L3AF loading fields, and wrap it in a DSSE\n"
		"envelope signed with KEY (made by 'l3af-tlog keygen'). Submit the envelope\n"
		"and the archive to the log. With --policy the package is checked first and\n"
		"nothing is signed if it breaks a rule.\n\n"
		"Options:\n"
		"  --key KEY           private key file (required)\n"
		"  --version V         package version, e.g. 1.2.0 (required)\n"
		"  --platform P        os/arch[/distro]: linux/amd64/bookworm, windows/amd64\n"
		"  --out FILE          where to write the envelope (required; not overwritten)\n"
		"  --license SPDX      licence identifier, e.g. GPL-2.0-only\n"
		"  --source-url URL    where the source lives\n"
		"  --object F          L3AF: the object file l3afd loads (a path in the package)\n"
		"  --entry-function FN L3AF: the program l3afd attaches\n"
		"  --map-name M        L3AF: the chaining map (PROG_ARRAY)\n"
		"  --policy FILE       check this repository policy first\n\n"
		"Exit status: 0 signed, 1 failed (or a policy violation), 2 bad usage.\n\n"
		"Example: l3af-tlog sign --key acme.key l3af_ratelimiting.tar.gz --version 1.0.0 \\\n"
		"             --platform linux/amd64 --object ratelimiting.bpf.o \\\n"
		"             --entry-function xdp_ratelimiting --out ratelimiting.dsse.json\n");
}

static int parse_sign(int argc, char **argv, struct sign_opts *o, const char **file)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},          {"out", required_argument, NULL, 'o'},
		{"version", required_argument, NULL, 'v'},      {"platform", required_argument, NULL, 'p'},
		{"license", required_argument, NULL, 'l'},      {"source-url", required_argument, NULL, 's'},
		{"object", required_argument, NULL, 'b'},       {"entry-function", required_argument, NULL, 'e'},
		{"map-name", required_argument, NULL, 'm'},     {"policy", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0}};
	const char **slot[128] = {['k'] = &o->key,     ['o'] = &o->out,     ['v'] = &o->version,
				  ['p'] = &o->platform, ['l'] = &o->license, ['s'] = &o->source_url,
				  ['b'] = &o->object,  ['e'] = &o->entry,   ['m'] = &o->map_name,
				  ['P'] = &o->policy};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c <= 0 || c >= 128 || !slot[c])
			return cli_error("sign", CLI_USAGE, "unknown option (see --help)");
		*slot[c] = optarg;
	}
	if (optind != argc - 1 || !o->key || !o->out || !o->version || !o->platform)
		return cli_error("sign", CLI_USAGE,
				 "needs KEY, one archive, --version, --platform and --out (see --help)");
	if ((o->entry || o->map_name) && !o->object)
		return cli_error("sign", CLI_USAGE, "--entry-function and --map-name go with --object");
	*file = argv[optind];
	return CLI_OK;
}

/* The documentation the statement points at: a README if there is one,
 * else the first doc file. */
static const struct ebpf_pkg_file *pick_doc(const struct ebpf_pkg *pkg)
{
	const struct ebpf_pkg_file *first = NULL;

	for (size_t i = 0; i < pkg->nfiles; i++) {
		const struct ebpf_pkg_file *f = &pkg->files[i];
		if (f->kind != EBPF_KIND_DOC)
			continue;
		if (!strncasecmp(f->path, "README", 6))
			return f;
		first = first ? first : f;
	}
	return first;
}

/* The statement's predicate (docs/publishing.md): NULL after a usage
 * error (an option that is not UTF-8). */
static json_t *build_predicate(const struct sign_opts *o, const struct ebpf_pkg *pkg,
			       const struct inspection *in, json_t *platform)
{
	json_t *p = json_pack("{s:s, s:O, s:O, s:O}", "name", pkg->name, "platform", platform,
			      "files", in->files, "programs", in->objects);
	json_t *lic = json_object(), *l3af = json_object();
	const struct ebpf_pkg_file *doc = pick_doc(pkg);
	char hex[65];
	int rc = pub_set_arg(p, "version", "sign", "--version", o->version);

	if (rc == CLI_OK && o->license)
		rc = pub_set_arg(lic, "spdx", "sign", "--license", o->license);
	if (rc == CLI_OK && o->source_url)
		rc = pub_set_arg(lic, "source_url", "sign", "--source-url", o->source_url);
	if (rc == CLI_OK && o->object)
		rc = pub_set_arg(l3af, "object_file", "sign", "--object", o->object);
	if (rc == CLI_OK && o->entry)
		rc = pub_set_arg(l3af, "entry_function", "sign", "--entry-function", o->entry);
	if (rc == CLI_OK && o->map_name)
		rc = pub_set_arg(l3af, "map_name", "sign", "--map-name", o->map_name);
	if (rc != CLI_OK) {
		json_decref(p), json_decref(lic), json_decref(l3af);
		return NULL;
	}
	json_object_set_new(p, "license", lic);
	if (json_object_size(l3af))
		json_object_set_new(p, "l3af", l3af);
	else
		json_decref(l3af);
	if (doc) {
		l3af_hex_encode(hex, doc->sha256, 32);
		json_object_set_new(p, "documentation",
				    json_pack("{s:s, s:s}", "path", doc->path, "sha256", hex));
	}
	return p;
}

/* The subject is the artifact l3afd fetches: l3af_<name>.tar.gz or .zip. */
static int check_artifact_name(const char *base, const char *pkg_name)
{
	char want_tgz[EBPF_PKG_NAME_MAX + 16], want_zip[EBPF_PKG_NAME_MAX + 16];

	snprintf(want_tgz, sizeof(want_tgz), "l3af_%s.tar.gz", pkg_name);
	snprintf(want_zip, sizeof(want_zip), "l3af_%s.zip", pkg_name);
	if (strcmp(base, want_tgz) != 0 && strcmp(base, want_zip) != 0)
		return cli_error("sign", CLI_USAGE,
				 "the archive of package %s must be named %s (or %s), not %s",
				 pkg_name, want_tgz, want_zip, base);
	return CLI_OK;
}

/* --object must name a bpf-elf file of the package, and --entry-function
 * one of its programs. */
static int check_l3af_fields(const struct sign_opts *o, const struct ebpf_pkg *pkg,
			     const struct inspection *in)
{
	const struct ebpf_pkg_file *f = o->object ? ebpf_pkg_find(pkg, o->object) : NULL;

	if (!o->object)
		return CLI_OK;
	if (!f || f->kind != EBPF_KIND_BPF_ELF)
		return cli_error("sign", CLI_FAIL, "--object %s is not an eBPF object of the package",
				 o->object);
	for (size_t i = 0; o->entry && i < in->nobjs; i++) {
		if (strcmp(in->objs[i]->file, o->object) != 0)
			continue;
		for (size_t p = 0; p < in->objs[i]->nprogs; p++)
			if (!strcmp(in->objs[i]->progs[p].name, o->entry))
				return CLI_OK;
		return cli_error("sign", CLI_FAIL, "%s has no program named %s", o->object, o->entry);
	}
	return CLI_OK;
}

static int write_envelope(const struct sign_opts *o, const char *archive_path,
			  const char *statement)
{
	struct signer_privkey *key = NULL;
	struct l3af_err err = {0};
	char *env = NULL;
	int rc = CLI_OK;

	(void)archive_path;
	if (signer_privkey_load(o->key, &key, &err) != L3AF_OK ||
	    signer_dsse_sign(key, SIGNER_INTOTO_PAYLOAD_TYPE, (const uint8_t *)statement,
			     strlen(statement), &env, &err) != L3AF_OK ||
	    l3af_file_create(o->out, env, strlen(env), 0644, &err) != L3AF_OK)
		rc = cli_error("sign", CLI_FAIL, "%s", err.msg);
	else
		printf("{\"envelope\":\"%s\",\"keyid\":\"%s\"}\n", o->out,
		       signer_privkey_pubkey(key)->id);
	l3af_free(env);
	signer_privkey_free(key);
	return rc;
}

int cmd_sign(int argc, char **argv)
{
	struct sign_opts o = {0};
	const char *file = NULL;
	struct ebpf_policy *policy = NULL;
	struct ebpf_pkg *pkg = NULL;
	struct inspection in = {0};
	struct l3af_err err = {0};
	json_t *platform = NULL, *pred = NULL;
	char *bytes = NULL, *statement = NULL, hex[65], *base = NULL;
	uint8_t digest[32];
	size_t len = 0;
	int rc = parse_sign(argc, argv, &o, &file);

	if (rc != CLI_OK)
		return rc;
	platform = pub_parse_platform(o.platform);
	if (!platform)
		return cli_error("sign", CLI_USAGE, "--platform is os/arch[/distro] with os linux or "
						    "windows, not '%s'", o.platform);
	rc = pub_load_policy("sign", o.policy, &policy);
	if (rc == CLI_OK)
		rc = pub_read_package("sign", file, &bytes, &len, &pkg);
	if (rc == CLI_OK)
		rc = pub_inspect_package("sign", pkg, policy, &in);
	if (rc == CLI_OK && json_array_size(in.violations)) {
		pub_print_json(in.violations);
		rc = cli_error("sign", CLI_FAIL, "the package breaks %zu policy rule(s); not signed",
			       json_array_size(in.violations));
	}
	if (rc == CLI_OK)
		rc = check_l3af_fields(&o, pkg, &in);
	if (rc == CLI_OK) {
		base = strdup(file);
		rc = base ? check_artifact_name(basename(base), pkg->name)
			  : cli_error("sign", CLI_FAIL, "out of memory");
	}
	if (rc == CLI_OK) {
		pub_sha256_hex((const uint8_t *)bytes, len, digest, hex);
		pred = build_predicate(&o, pkg, &in, platform);
		if (!pred)
			rc = CLI_USAGE;
		else if (signer_statement_build(basename(base), digest, pred, &statement, &err) !=
			 L3AF_OK)
			rc = cli_error("sign", CLI_FAIL, "statement: %s", err.msg);
	}
	if (rc == CLI_OK)
		rc = write_envelope(&o, file, statement);
	free(base);
	l3af_free(statement);
	json_decref(pred);
	json_decref(platform);
	pub_inspection_free(&in);
	ebpf_pkg_free(pkg);
	ebpf_policy_free(policy);
	l3af_free(bytes);
	return rc;
}

/* ---- statement verify ----------------------------------------------------- */

void cmd_statement_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog statement verify --key PUB.pem FILE.dsse.json [FILE.tar.gz]\n\n"
		"Check a signed package statement locally: the DSSE envelope's signature over\n"
		"its pre-authentication encoding by the public key PUB.pem (from keygen), and\n"
		"that the payload is a valid in-toto Statement v1 for an eBPF package. With\n"
		"the archive, also that its file name and SHA-256 are the statement's\n"
		"subject. Prints the subject and the predicate as JSON. This is the\n"
		"publisher's own check; agents verify through the log (l3af-verify).\n\n"
		"Exit status: 0 valid, 1 invalid or not matching, 2 bad usage.\n");
}

static int check_subject(const struct signer_statement *st, const char *archive)
{
	char *bytes = NULL, *base = strdup(archive), hex[65];
	uint8_t digest[32];
	size_t len = 0;
	int rc = pub_load_file("statement", archive, EBPF_PKG_MAX_ARCHIVE_BYTES, &bytes, &len);

	if (rc == CLI_OK) {
		pub_sha256_hex((const uint8_t *)bytes, len, digest, hex);
		if (!base || strcmp(basename(base), st->name) != 0)
			rc = cli_error("statement", CLI_FAIL, "the statement is for %s, not %s",
				       st->name, archive);
		else if (memcmp(digest, st->sha256, 32) != 0)
			rc = cli_error("statement", CLI_FAIL,
				       "%s has SHA-256 %s, the statement says otherwise", archive, hex);
	}
	free(base);
	l3af_free(bytes);
	return rc;
}

int cmd_statement(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {NULL, 0, NULL, 0}};
	const char *keypath = NULL;
	struct signer_pubkey pub;
	struct signer_dsse_result res = {0};
	struct signer_statement st = {0};
	struct l3af_err err = {0};
	char *pem = NULL, *env = NULL, hex[65];
	size_t pemlen = 0, envlen = 0;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "verify") != 0)
		return cli_error("statement", CLI_USAGE, "only 'statement verify' (see --help)");
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'k')
			return cli_error("statement", CLI_USAGE, "unknown option (see --help)");
		keypath = optarg;
	}
	if (!keypath || optind >= argc || argc - optind > 2)
		return cli_error("statement", CLI_USAGE, "verify needs --key PUB.pem and an envelope");
	rc = pub_load_file("statement", keypath, 4096, &pem, &pemlen);
	if (rc == CLI_OK && signer_pubkey_parse_pem(pem, pemlen, &pub, &err) != L3AF_OK)
		rc = cli_error("statement", CLI_FAIL, "%s: %s", keypath, err.msg);
	if (rc == CLI_OK)
		rc = pub_load_file("statement", argv[optind], SIGNER_DSSE_MAX, &env, &envlen);
	if (rc == CLI_OK && (signer_dsse_verify(env, envlen, &pub, 1, 1, &res, &err) != L3AF_OK ||
			     strcmp(res.payload_type, SIGNER_INTOTO_PAYLOAD_TYPE) != 0 ||
			     signer_statement_parse((const char *)res.payload, res.payload_len, &st,
						    &err) != L3AF_OK))
		rc = cli_error("statement", CLI_FAIL, "%s: %s", argv[optind],
			       err.msg[0] ? err.msg : "payload is not an in-toto statement");
	if (rc == CLI_OK && argc - optind == 2)
		rc = check_subject(&st, argv[optind + 1]);
	if (rc == CLI_OK) {
		l3af_hex_encode(hex, st.sha256, 32);
		json_t *j = json_pack("{s:b, s:s, s:{s:s, s:s}, s:O}", "valid", 1, "keyid", pub.id,
				      "subject", "name", st.name, "sha256", hex, "predicate",
				      st.predicate);
		pub_print_json(j);
		json_decref(j);
	}
	signer_statement_clear(&st);
	signer_dsse_result_clear(&res);
	l3af_free(pem);
	l3af_free(env);
	return rc;
}
