/*
 * cmd_bundle.c - l3af-tlog lookup and bundle get|verify: queries of the v1
 * API (GET /v1/lookup, GET /v1/bundle/...) and the offline bundle check
 * (docs/formats.md section 8; the check itself is bundle_check_text in
 * cmd_client.c).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ebpf.h"
#include "publish.h"

/* ---- lookup ----------------------------------------------------------------- */

void cmd_lookup_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog lookup --log URL --name NAME [--version V [--platform P]]\n"
		"       l3af-tlog lookup --log URL --sha256 HEX\n"
		"       l3af-tlog lookup --log URL --program HEX\n\n"
		"Find logged packages (GET /v1/lookup): by package name (and version, and\n"
		"platform os/arch[/distro]), by the SHA-256 of the archive, or by the SHA-256\n"
		"of one eBPF program's instructions (insns_sha256 in 'l3af-tlog package\n"
		"inspect'): which packages ship this exact bytecode. At most 1000 entries,\n"
		"in log order. The answer is the log's word; a bundle (l3af-tlog bundle get)\n"
		"is the proof.\n\n"
		"Options:\n"
		"  --log URL          the log (required; see 'l3af-tlog submit --help')\n"
		"  --name NAME        package name\n"
		"  --version V        with --name: one version\n"
		"  --platform P       with --name and --version: one platform\n"
		"  --sha256 HEX       archive SHA-256, 64 lowercase hex digits\n"
		"  --program HEX      program instruction SHA-256, 64 lowercase hex digits\n"
		"  --text             a table (index, name, version, platform, publisher,\n"
		"                     artifact SHA-256) instead of JSON\n"
		"  --timeout SECONDS  whole request (default %u)\n\n"
		"Prints the log's JSON answer, {\"entries\":[{\"artifact\",\"index\",\"name\",\n"
		"\"platform\",\"publisher\",\"sha256\",\"version\"}...]} (an empty list when\n"
		"nothing matches), or with --text one line per entry.\n\n"
		"Exit status: 0 answered (even with no entries), 1 refused or a bad answer,\n"
		"2 bad usage, 3 the log could not be reached or is busy.\n\n"
		"Example: l3af-tlog lookup --log http://127.0.0.1:8080 --name ratelimiting\n",
		CLIENT_TIMEOUT_DEFAULT);
}

/* "?key=<escaped value>" or "&key=..." appended to q[cap]. */
static int add_query(struct client *c, char *q, size_t cap, const char *key, const char *value)
{
	char *e = client_escape(c, value);
	size_t n = strlen(q);
	int w = e ? snprintf(q + n, cap - n, "%c%s=%s", n ? '&' : '?', key, e) : -1;

	l3af_free(e);
	return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

static int lookup_query(const struct copts *o, struct client *c, char *q, size_t cap)
{
	int n = !!o->name + !!o->sha256 + !!o->program, bad = 0;

	q[0] = '\0';
	if (n != 1)
		return cli_error("lookup", CLI_USAGE, "give one of --name, --sha256, --program");
	if (o->version && !o->name)
		return cli_error("lookup", CLI_USAGE, "--version goes with --name");
	if (o->platform && !o->version)
		return cli_error("lookup", CLI_USAGE, "--platform goes with --name and --version");
	if ((o->sha256 && !client_is_hex64(o->sha256)) || (o->program && !client_is_hex64(o->program)))
		return cli_error("lookup", CLI_USAGE, "a digest is 64 lowercase hex digits");
	if (o->name)
		bad |= add_query(c, q, cap, "name", o->name);
	if (o->version)
		bad |= add_query(c, q, cap, "version", o->version);
	if (o->platform)
		bad |= add_query(c, q, cap, "platform", o->platform);
	if (o->sha256)
		bad |= add_query(c, q, cap, "sha256", o->sha256);
	if (o->program)
		bad |= add_query(c, q, cap, "program", o->program);
	return bad ? cli_error("lookup", CLI_USAGE, "query too long") : CLI_OK;
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "-";
}

static int print_lookup(const struct copts *o, json_t *j)
{
	json_t *entries = json_object_get(j, "entries"), *e;
	size_t i;

	if (!json_is_array(entries))
		return cli_error("lookup", CLI_FAIL, "the log's answer has no entries list");
	if (!o->text) {
		pub_print_json(j);
		return CLI_OK;
	}
	printf("%-8s %-24s %-12s %-24s %-16s %s\n", "INDEX", "NAME", "VERSION", "PLATFORM",
	       "PUBLISHER", "SHA256");
	json_array_foreach(entries, i, e) {
		printf("%-8lld %-24s %-12s %-24s %-16s %s\n",
		       (long long)json_integer_value(json_object_get(e, "index")), str(e, "name"),
		       str(e, "version"), str(e, "platform"), str(e, "publisher"), str(e, "sha256"));
	}
	return CLI_OK;
}

int cmd_lookup(int argc, char **argv)
{
	struct copts o = {0};
	struct client *c = NULL;
	struct client_reply r = {0};
	char path[2048] = "/v1/lookup";
	json_t *j = NULL;
	int rc = client_parse_opts("lookup", argc, argv, 1,
				   OPT(O_LOG) | OPT(O_NAME) | OPT(O_VERSION) | OPT(O_PLATFORM) |
					   OPT(O_SHA) | OPT(O_PROGRAM) | OPT(O_TEXT) | OPT(O_TIMEOUT),
				   &o);

	if (rc == CLI_OK && optind != argc)
		rc = cli_error("lookup", CLI_USAGE, "unexpected argument '%s'", argv[optind]);
	if (rc == CLI_OK)
		rc = client_open("lookup", o.log, (unsigned)o.timeout, &c);
	if (rc == CLI_OK)
		rc = lookup_query(&o, c, path + strlen(path), sizeof(path) - strlen(path));
	if (rc == CLI_OK)
		rc = client_get(c, path, CLIENT_ANSWER_MAX, &r);
	if (rc == CLI_OK)
		rc = client_check("lookup", &r);
	if (rc == CLI_OK && !(j = client_json("lookup", &r)))
		rc = CLI_FAIL;
	if (rc == CLI_OK)
		rc = print_lookup(&o, j);
	json_decref(j);
	client_reply_clear(&r);
	client_close(c);
	return rc;
}

/* ---- bundle get | verify ---------------------------------------------------------- */

void cmd_bundle_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog bundle get --log URL (--index N | --sha256 HEX) --out FILE\n"
		"                            [--log-key DIR/log.vkey]\n"
		"       l3af-tlog bundle verify --log-key DIR/log.vkey FILE.bundle\n"
		"                            [--artifact FILE.tar.gz]\n\n"
		"A bundle is an entry of the log with everything needed to check offline that\n"
		"it is in the log (docs/formats.md section 8): the entry, its inclusion proof,\n"
		"a signed checkpoint, and for a package the publisher key set in force with\n"
		"its own proof. Agents check it before loading a package.\n\n"
		"bundle get: fetch the bundle of entry N (GET /v1/bundle/N) or of the package\n"
		"whose archive has SHA-256 HEX (GET /v1/bundle/sha256/HEX) against the latest\n"
		"checkpoint, and write it to FILE atomically. With --log-key it is verified\n"
		"first (as bundle verify does) and nothing is written if it fails.\n\n"
		"bundle verify: offline, no network. Checks that the checkpoint is signed by\n"
		"the log key, the entry and its key set are in that tree, the entry is well\n"
		"formed, and a package's envelope verifies under the key set it names, with\n"
		"the name inside that publisher's namespaces. With --artifact, also that the\n"
		"archive is the logged one (file name, size, SHA-256). Prints a summary:\n"
		"{\"valid\":true,\"index\",\"kind\",\"checkpoint\":{origin,size,root},...} and for\n"
		"a package publisher, name, version, platform, keys_index and artifact.\n\n"
		"Options:\n"
		"  --log URL          the log (get; see 'l3af-tlog submit --help')\n"
		"  --index N          entry index (get)\n"
		"  --sha256 HEX       archive SHA-256 (get)\n"
		"  --out FILE         where to write the bundle (get)\n"
		"  --log-key FILE     the log's verifier key, DIR/log.vkey of the server, or\n"
		"                     the one its operator publishes (verify; optional for get)\n"
		"  --artifact FILE    the archive to match against the entry (verify)\n"
		"  --timeout SECONDS  whole request (get; default %u)\n\n"
		"Exit status: 0 done (valid), 1 not found, refused, or does not verify (the\n"
		"message says which check failed), 2 bad usage, 3 the log could not be\n"
		"reached or is busy.\n\n"
		"Example: l3af-tlog bundle verify --log-key data/log.vkey ratelimiting.bundle \\\n"
		"             --artifact l3af_ratelimiting.tar.gz\n",
		CLIENT_TIMEOUT_DEFAULT);
}

/* Verify text and print the summary (and match the artifact if given). */
static int verify_and_print(const struct copts *o, const char *text, size_t len, bool print)
{
	struct signer_vkey vkey;
	struct bundle_check bc;
	char *art = NULL, hex[65];
	uint8_t digest[32];
	size_t art_len = 0;
	int rc = load_vkey("bundle", o->log_key, &vkey);

	if (rc != CLI_OK)
		return rc;
	rc = bundle_check_text("bundle", &vkey, text, len, &bc);
	if (rc != CLI_OK)
		return rc;
	if (o->artifact) {
		rc = pub_load_file("bundle", o->artifact, EBPF_PKG_MAX_ARCHIVE_BYTES, &art, &art_len);
		const char *slash = strrchr(o->artifact, '/');
		const char *base = slash ? slash + 1 : o->artifact;
		if (rc == CLI_OK)
			pub_sha256_hex((const uint8_t *)art, art_len, digest, hex);
		if (rc == CLI_OK && bc.entry.kind != SIGNER_ENTRY_PACKAGE)
			rc = cli_error("bundle", CLI_FAIL, "the entry is not a package");
		else if (rc == CLI_OK && (strcmp(base, bc.entry.pkg.artifact_name) != 0 ||
					  art_len != bc.entry.pkg.artifact_size ||
					  memcmp(digest, bc.entry.pkg.artifact_sha256, 32) != 0))
			rc = cli_error("bundle", CLI_FAIL,
				       "%s (SHA-256 %s) is not the logged artifact %s", o->artifact,
				       hex, bc.entry.pkg.artifact_name);
	}
	if (rc == CLI_OK && print) {
		json_t *j = bundle_summary(&bc);
		pub_print_json(j);
		json_decref(j);
	}
	l3af_free(art);
	signer_entry_clear(&bc.entry);
	return rc;
}

static int bundle_get(const struct copts *o)
{
	struct client *c = NULL;
	struct client_reply r = {0};
	struct tlog_bundle *b = NULL;
	struct l3af_err err = {0};
	char path[256];
	uint64_t index = 0;
	int rc;

	if (!o->out || !!o->index == !!o->sha256)
		return cli_error("bundle", CLI_USAGE,
				 "get needs --log URL, one of --index N or --sha256 HEX, and --out");
	if (o->index && l3af_parse_u64(o->index, strlen(o->index), UINT64_MAX >> 1, &index) != L3AF_OK)
		return cli_error("bundle", CLI_USAGE, "--index wants an entry number, not '%s'",
				 o->index);
	if (o->sha256 && !client_is_hex64(o->sha256))
		return cli_error("bundle", CLI_USAGE, "--sha256 is 64 lowercase hex digits");
	if (o->index)
		snprintf(path, sizeof(path), "/v1/bundle/%llu", (unsigned long long)index);
	else
		snprintf(path, sizeof(path), "/v1/bundle/sha256/%s", o->sha256);
	rc = client_open("bundle", o->log, (unsigned)o->timeout, &c);
	if (rc == CLI_OK)
		rc = client_get(c, path, TLOG_PROOF_TEXT_MAX, &r);
	if (rc == CLI_OK)
		rc = client_check("bundle", &r);
	if (rc == CLI_OK && o->log_key)
		rc = verify_and_print(o, r.body, r.len, false);
	if (rc == CLI_OK && !(b = l3af_calloc(1, sizeof(*b))))
		rc = cli_error("bundle", CLI_FAIL, "out of memory");
	if (rc == CLI_OK && tlog_bundle_parse(r.body, r.len, b, &err) != L3AF_OK)
		rc = cli_error("bundle", CLI_FAIL, "the log's answer is not a bundle: %s", err.msg);
	if (rc == CLI_OK && o->index && b->proof.index != index)
		rc = cli_error("bundle", CLI_FAIL, "asked for entry %llu, got a bundle for %llu",
			       (unsigned long long)index, (unsigned long long)b->proof.index);
	if (rc == CLI_OK && l3af_file_replace(o->out, r.body, r.len, 0644, &err) != L3AF_OK)
		rc = cli_error("bundle", CLI_FAIL, "%s", err.msg);
	if (rc == CLI_OK)
		printf("{\"bundle\":\"%s\",\"index\":%llu,\"verified\":%s}\n", o->out,
		       (unsigned long long)b->proof.index, o->log_key ? "true" : "false");
	l3af_free(b);
	client_reply_clear(&r);
	client_close(c);
	return rc;
}

int cmd_bundle(int argc, char **argv)
{
	struct copts o = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (argc < 2 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "verify") != 0))
		return cli_error("bundle", CLI_USAGE, "'bundle get' or 'bundle verify' (see --help)");
	if (!strcmp(argv[1], "get")) {
		rc = client_parse_opts("bundle", argc, argv, 2,
				       OPT(O_LOG) | OPT(O_INDEX) | OPT(O_SHA) | OPT(O_OUT) |
					       OPT(O_LOGKEY) | OPT(O_TIMEOUT),
				       &o);
		if (rc == CLI_OK && optind != argc)
			rc = cli_error("bundle", CLI_USAGE, "unexpected argument '%s'", argv[optind]);
		return rc == CLI_OK ? bundle_get(&o) : rc;
	}
	rc = client_parse_opts("bundle", argc, argv, 2, OPT(O_LOGKEY) | OPT(O_ARTIFACT), &o);
	if (rc != CLI_OK)
		return rc;
	if (!o.log_key || argc - optind != 1)
		return cli_error("bundle", CLI_USAGE, "verify needs --log-key FILE and one bundle");
	rc = pub_load_file("bundle", argv[optind], TLOG_PROOF_TEXT_MAX, &text, &len);
	if (rc == CLI_OK)
		rc = verify_and_print(&o, text, len, true);
	l3af_free(text);
	return rc;
}
