/*
 * cmd_client.c - l3af-tlog submit, lookup and bundle get|verify: the
 * publisher's side of the v1 write and query API (docs/api.md), and the
 * offline check of a bundle (docs/formats.md section 8). The HTTP rules are
 * in client_http.c; publisher add|update|send is in cmd_publisher.c.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ebpf.h"
#include "publish.h"

#define BUNDLE_FILE_MAX TLOG_PROOF_TEXT_MAX

static const struct option client_opts[] = {
	{"log", required_argument, NULL, O_LOG},        {"out", required_argument, NULL, O_OUT},
	{"log-key", required_argument, NULL, O_LOGKEY}, {"name", required_argument, NULL, O_NAME},
	{"version", required_argument, NULL, O_VERSION},
	{"platform", required_argument, NULL, O_PLATFORM},
	{"sha256", required_argument, NULL, O_SHA},     {"program", required_argument, NULL, O_PROGRAM},
	{"index", required_argument, NULL, O_INDEX},
	{"artifact", required_argument, NULL, O_ARTIFACT},
	{"timeout", required_argument, NULL, O_TIMEOUT}, {"text", no_argument, NULL, O_TEXT},
	{NULL, 0, NULL, 0}};

int client_parse_opts(const char *cmd, int argc, char **argv, int first, unsigned allowed,
		      struct copts *o)
{
	const char **slot[O_TEXT + 1] = {
		[O_LOG] = &o->log,       [O_OUT] = &o->out,         [O_LOGKEY] = &o->log_key,
		[O_NAME] = &o->name,     [O_VERSION] = &o->version, [O_PLATFORM] = &o->platform,
		[O_SHA] = &o->sha256,    [O_PROGRAM] = &o->program, [O_INDEX] = &o->index,
		[O_ARTIFACT] = &o->artifact};
	int c;

	optind = first;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", client_opts, NULL)) != -1) {
		if (c == ':')
			return cli_error(cmd, CLI_USAGE, "%s needs a value", argv[optind - 1]);
		if (c <= 0 || c > O_TEXT || !(allowed & (1u << c)))
			return cli_error(cmd, CLI_USAGE, "unknown option '%s' (see --help)",
					 argv[optind - 1]);
		if (c == O_TIMEOUT) {
			if (cli_parse_count(cmd, "--timeout", optarg, 3600, &o->timeout))
				return CLI_USAGE;
		} else if (c == O_TEXT) {
			o->text = true;
		} else {
			*slot[c] = optarg;
		}
	}
	if ((allowed & (1u << O_LOG)) && !o->log)
		return cli_error(cmd, CLI_USAGE, "--log URL is required (see --help)");
	return CLI_OK;
}

/* 64 lowercase hex digits. */
bool client_is_hex64(const char *s)
{
	uint8_t bin[32];

	return strlen(s) == 64 && l3af_hex_decode(bin, 32, s, 64) == L3AF_OK;
}

/* ---- offline bundle check ------------------------------------------------- */

int load_vkey(const char *cmd, const char *path, struct signer_vkey *out)
{
	struct l3af_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc = pub_load_file(cmd, path, SIGNER_VKEY_TEXT_MAX, &text, &len);

	while (rc == CLI_OK && len > 0 && text[len - 1] == '\n')
		len--;
	if (rc == CLI_OK && signer_vkey_parse(text, len, out, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "%s is not a log verifier key: %s", path, err.msg);
	l3af_free(text);
	return rc;
}

/* A package entry against the key-set entry the bundle carries. */
static int check_package(const char *cmd, const struct tlog_bundle *b,
			 const struct signer_entry *e)
{
	struct signer_entry ks = {0};
	struct l3af_err err = {0};
	int rc = CLI_OK;

	if (!b->has_keys)
		return cli_error(cmd, CLI_FAIL, "bundle: a package entry without its key set");
	if (signer_entry_parse(b->keys_entry, b->keys_entry_len, &ks, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "bundle: key-set entry: %s", err.msg);
	else if (ks.kind != SIGNER_ENTRY_PUBLISHER_KEYS || b->keys_index != e->pkg.keys_index ||
		 strcmp(ks.keyset.publisher, e->pkg.publisher) != 0)
		rc = cli_error(cmd, CLI_FAIL,
			       "bundle: the key set at index %llu is not the one the package names "
			       "(publisher %s, keys_index %llu)",
			       (unsigned long long)b->keys_index, e->pkg.publisher,
			       (unsigned long long)e->pkg.keys_index);
	else if (signer_package_verify(&e->pkg, &ks.keyset, NULL, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "bundle: the package does not verify under its key set: %s",
			       err.msg);
	signer_entry_clear(&ks);
	return rc;
}

int bundle_check_text(const char *cmd, const struct signer_vkey *vkey, const char *text,
		      size_t len, struct bundle_check *out)
{
	struct tlog_bundle *b = l3af_calloc(1, sizeof(*b));
	struct signer_note_result res;
	struct l3af_err err = {0};
	int rc = CLI_OK;

	memset(out, 0, sizeof(*out));
	if (!b)
		return cli_error(cmd, CLI_FAIL, "out of memory");
	if (tlog_bundle_parse(text, len, b, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "not a bundle: %s", err.msg);
	else if (signer_note_open(b->proof.checkpoint, b->proof.checkpoint_len, vkey, 1, &res,
				  &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "the checkpoint is not signed by the log key %s: %s",
			       vkey->name, err.msg);
	else if (tlog_checkpoint_parse(b->proof.checkpoint, res.text_len, &out->cp, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "checkpoint: %s", err.msg);
	else if (strcmp(out->cp.origin, vkey->name) != 0)
		rc = cli_error(cmd, CLI_FAIL, "the checkpoint is of log %s, the key of log %s",
			       out->cp.origin, vkey->name);
	else if (tlog_bundle_verify(b, &out->cp, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "the entry is not in the log: %s", err.msg);
	else if (signer_entry_parse(b->entry, b->entry_len, &out->entry, &err) != L3AF_OK)
		rc = cli_error(cmd, CLI_FAIL, "entry: %s", err.msg);
	else if (out->entry.kind == SIGNER_ENTRY_PACKAGE)
		rc = check_package(cmd, b, &out->entry);
	else if (b->has_keys)
		rc = cli_error(cmd, CLI_FAIL, "bundle: key-set lines for a %s entry",
			       signer_entry_kind_name(out->entry.kind));
	out->index = b->proof.index;
	if (rc != CLI_OK)
		signer_entry_clear(&out->entry);
	l3af_free(b);
	return rc;
}

static json_t *key_ids(const struct signer_pubkey *keys, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(keys[i].id));
	return a;
}

json_t *bundle_summary(const struct bundle_check *bc)
{
	const struct signer_entry *e = &bc->entry;
	char root[64], hex[65];
	json_t *j, *ns;

	if (l3af_base64_encode(root, sizeof(root), bc->cp.root, TLOG_HASH_BYTES) != L3AF_OK)
		root[0] = '\0';
	j = json_pack("{s:b, s:I, s:s, s:{s:s, s:I, s:s}}", "valid", 1, "index",
		      (json_int_t)bc->index, "kind", signer_entry_kind_name(e->kind), "checkpoint",
		      "origin", bc->cp.origin, "size", (json_int_t)bc->cp.size, "root", root);
	if (!j)
		return NULL;
	if (e->kind == SIGNER_ENTRY_PACKAGE) {
		l3af_hex_encode(hex, e->pkg.artifact_sha256, 32);
		json_object_update_new(
			j, json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s, s:I}}", "publisher",
				     e->pkg.publisher, "name", e->pkg.name, "version", e->pkg.version,
				     "platform", e->pkg.platform, "keys_index",
				     (json_int_t)e->pkg.keys_index, "artifact", "name",
				     e->pkg.artifact_name, "sha256", hex, "size",
				     (json_int_t)e->pkg.artifact_size));
	} else if (e->kind == SIGNER_ENTRY_PUBLISHER_KEYS) {
		ns = json_array();
		for (size_t i = 0; i < e->keyset.nnamespaces; i++)
			json_array_append_new(ns, json_string(e->keyset.namespaces[i]));
		json_object_update_new(j, json_pack("{s:s, s:I, s:o, s:i, s:o}", "publisher",
						    e->keyset.publisher, "version",
						    (json_int_t)e->keyset.version, "namespaces", ns,
						    "threshold", (int)e->keyset.threshold, "keys",
						    key_ids(e->keyset.keys, e->keyset.nkeys)));
	} else if (e->kind == SIGNER_ENTRY_ADMIN_ROOT) {
		json_object_update_new(j, json_pack("{s:I, s:i, s:o}", "version",
						    (json_int_t)e->root.version, "threshold",
						    (int)e->root.threshold, "admins",
						    key_ids(e->root.admins, e->root.nadmins)));
	}
	return j;
}

/* The archive at path is the package entry's artifact: base name, size and
 * SHA-256. */
static int check_artifact(const char *cmd, const struct signer_entry *e, const char *path,
			  const char *bytes, size_t len)
{
	char *copy = strdup(path), hex[65];
	uint8_t digest[32];
	int rc = CLI_OK;

	if (!copy)
		return cli_error(cmd, CLI_FAIL, "out of memory");
	pub_sha256_hex((const uint8_t *)bytes, len, digest, hex);
	if (e->kind != SIGNER_ENTRY_PACKAGE)
		rc = cli_error(cmd, CLI_FAIL, "the entry is a %s, not a package",
			       signer_entry_kind_name(e->kind));
	else if (strcmp(basename(copy), e->pkg.artifact_name) != 0)
		rc = cli_error(cmd, CLI_FAIL, "the entry is for %s, not %s", e->pkg.artifact_name,
			       path);
	else if (memcmp(digest, e->pkg.artifact_sha256, 32) != 0 || len != e->pkg.artifact_size)
		rc = cli_error(cmd, CLI_FAIL, "%s (SHA-256 %s) is not the logged artifact", path, hex);
	free(copy);
	return rc;
}

/* ---- submit ----------------------------------------------------------------- */

void cmd_submit_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog submit --log URL FILE.dsse.json FILE.tar.gz --out FILE.bundle\n"
		"                        [--log-key DIR/log.vkey] [--timeout SECONDS]\n\n"
		"Submit a signed package to the log: POST /v1/submit with the envelope (from\n"
		"'l3af-tlog sign') and the archive it signs, as multipart/form-data. The log\n"
		"checks the signature against your registered key set, reads the archive,\n"
		"inspects every eBPF object, applies its policy and appends a package entry;\n"
		"it answers once the entry is in a signed checkpoint, with a bundle: the\n"
		"entry, its inclusion proof and that checkpoint, which agents verify offline.\n"
		"The bundle is written to FILE.bundle atomically (replacing it). Submitting\n"
		"the same package again is harmless: same index, \"existing\":true.\n\n"
		"Before writing, the bundle is checked to be for this archive (name, size,\n"
		"SHA-256) at the index the log answered; with --log-key it is verified fully,\n"
		"as 'l3af-tlog bundle verify' does.\n\n"
		"Options:\n"
		"  --log URL          the log, e.g. http://127.0.0.1:8080 (required). Use\n"
		"                     https:// except on loopback or in development: TLS\n"
		"                     certificates are verified, redirects are not followed\n"
		"  --out FILE         where to write the bundle (required)\n"
		"  --log-key FILE     the log's verifier key (DIR/log.vkey): verify the bundle\n"
		"  --timeout SECONDS  whole request (default %u; connecting: %ld)\n\n"
		"Prints one JSON object: {\"bundle\":FILE,\"existing\":BOOL,\"index\":N}.\n\n"
		"Exit status: 0 logged (or already logged), 1 refused by the log (its HTTP\n"
		"status, code and message are printed: 403 signature/namespace, 409\n"
		"conflict = this name, version and platform are logged with another\n"
		"archive, 422 invalid_package/policy/...) or a bad answer, 2 bad usage,\n"
		"3 the log could not be reached or is busy (503; retry later).\n\n"
		"Example: l3af-tlog submit --log http://127.0.0.1:8080 ratelimiting.dsse.json \\\n"
		"             l3af_ratelimiting.tar.gz --out ratelimiting.bundle\n",
		CLIENT_TIMEOUT_DEFAULT, CLIENT_CONNECT_TIMEOUT);
}

/* Check the answer's bundle and write it. */
static int keep_bundle(const struct copts *o, const char *art_path, const char *art,
		       size_t art_len, const char *bundle, uint64_t index)
{
	struct tlog_bundle *b = l3af_calloc(1, sizeof(*b));
	struct signer_entry e = {0};
	struct signer_vkey vkey;
	struct bundle_check bc;
	struct l3af_err err = {0};
	int rc = b ? CLI_OK : cli_error("submit", CLI_FAIL, "out of memory");

	if (rc == CLI_OK && o->log_key) {
		rc = load_vkey("submit", o->log_key, &vkey);
		if (rc == CLI_OK)
			rc = bundle_check_text("submit", &vkey, bundle, strlen(bundle), &bc);
		if (rc == CLI_OK)
			e = bc.entry;
	} else if (rc == CLI_OK) {
		if (tlog_bundle_parse(bundle, strlen(bundle), b, &err) != L3AF_OK ||
		    signer_entry_parse(b->entry, b->entry_len, &e, &err) != L3AF_OK)
			rc = cli_error("submit", CLI_FAIL, "the log's bundle: %s", err.msg);
		bc.index = b->proof.index;
	}
	if (rc == CLI_OK && bc.index != index)
		rc = cli_error("submit", CLI_FAIL, "the log said index %llu, its bundle is for %llu",
			       (unsigned long long)index, (unsigned long long)bc.index);
	if (rc == CLI_OK)
		rc = check_artifact("submit", &e, art_path, art, art_len);
	if (rc == CLI_OK && l3af_file_replace(o->out, bundle, strlen(bundle), 0644, &err) != L3AF_OK)
		rc = cli_error("submit", CLI_FAIL, "%s", err.msg);
	signer_entry_clear(&e);
	l3af_free(b);
	return rc;
}

int cmd_submit(int argc, char **argv)
{
	struct copts o = {0};
	struct client *c = NULL;
	struct client_reply r = {0};
	char *env = NULL, *art = NULL, *copy = NULL;
	size_t env_len = 0, art_len = 0;
	json_t *j = NULL;
	int rc = client_parse_opts("submit", argc, argv, 1,
			     OPT(O_LOG) | OPT(O_OUT) | OPT(O_LOGKEY) | OPT(O_TIMEOUT), &o);

	if (rc != CLI_OK)
		return rc;
	if (argc - optind != 2 || !o.out)
		return cli_error("submit", CLI_USAGE,
				 "needs --log URL, an envelope, an archive and --out (see --help)");
	rc = client_open("submit", o.log, (unsigned)o.timeout, &c);
	if (rc == CLI_OK)
		rc = pub_load_file("submit", argv[optind], SIGNER_DSSE_MAX, &env, &env_len);
	if (rc == CLI_OK)
		rc = pub_load_file("submit", argv[optind + 1], EBPF_PKG_MAX_ARCHIVE_BYTES, &art,
				   &art_len);
	if (rc == CLI_OK && !(copy = strdup(argv[optind + 1])))
		rc = cli_error("submit", CLI_FAIL, "out of memory");
	if (rc == CLI_OK)
		rc = client_post_submit(c, env, env_len, basename(copy), (const uint8_t *)art,
					art_len, &r);
	if (rc == CLI_OK)
		rc = client_check("submit", &r);
	if (rc == CLI_OK && !(j = client_json("submit", &r)))
		rc = CLI_FAIL;
	json_t *bundle = json_object_get(j, "bundle"), *index = json_object_get(j, "index");
	json_t *existing = json_object_get(j, "existing");
	if (rc == CLI_OK && (!json_is_string(bundle) || !json_is_integer(index) ||
			     json_integer_value(index) < 0 || !json_is_boolean(existing)))
		rc = cli_error("submit", CLI_FAIL, "the log's answer lacks bundle, index or existing");
	if (rc == CLI_OK)
		rc = keep_bundle(&o, argv[optind + 1], art, art_len, json_string_value(bundle),
				 (uint64_t)json_integer_value(index));
	if (rc == CLI_OK) {
		json_t *p = json_pack("{s:s, s:O, s:O}", "bundle", o.out, "existing", existing,
				      "index", index);
		pub_print_json(p);
		json_decref(p);
	}
	json_decref(j);
	client_reply_clear(&r);
	client_close(c);
	free(copy);
	l3af_free(env);
	l3af_free(art);
	return rc;
}
