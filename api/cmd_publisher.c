/*
 * cmd_publisher.c - l3af-tlog publisher add|update|send|show: the log
 * admin's client. An admin request (docs/formats.md section 7, "Admin
 * requests") is built with signer_admin_request_build, signed with the
 * operator's admin key in a DSSE envelope (payloadType
 * application/vnd.l3af-tlog.admin+json) and POSTed to /v1/admin; the log
 * appends a publisher.keys entry.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "publish.h"

#define VALID_FOR_DEFAULT 300

struct popts {
	const char *log, *admin_key, *id, *origin, *out_request;
	const char *namespaces[SIGNER_NAMESPACES_MAX];
	const char *keys[SIGNER_SET_KEYS_MAX];
	size_t nnamespaces, nkeys;
	unsigned long long threshold, version, valid_for, timeout;
	long long not_before;
	bool has_not_before;
};

void cmd_publisher_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog publisher add    --log URL --admin-key KEY --id ID\n"
		"                                  --namespace PATTERN [--namespace ...]\n"
		"                                  --key PUB.pem [--key ...] [--threshold N]\n"
		"                                  [--origin O] [--valid-for S] [--not-before T]\n"
		"                                  [--out-request FILE]\n"
		"       l3af-tlog publisher update (the same options) [--version N]\n"
		"       l3af-tlog publisher send   --log URL REQUEST.json\n"
		"       l3af-tlog publisher show   --log URL --id ID\n\n"
		"Register a publisher (add) or replace its key set (update): build an admin\n"
		"request naming the publisher, the package names it may publish and its\n"
		"public keys, sign it with the log's admin key, and POST it to /v1/admin. The\n"
		"log appends a publisher.keys entry and answers with its index, version and\n"
		"bundle. Packages are then accepted when signed by THRESHOLD of these keys and\n"
		"named inside one of the namespaces. The request is valid for a short window\n"
		"and carries a random nonce, so a captured request cannot be replayed.\n\n"
		"Options:\n"
		"  --log URL          the log (see 'l3af-tlog submit --help'); not needed with\n"
		"                     --out-request when --origin (and for update --version)\n"
		"                     are given\n"
		"  --admin-key KEY    the operator's admin key: DIR/admin.key, made by\n"
		"                     l3af-tlogd with the log (PKCS#8 PEM, mode 0600)\n"
		"  --id ID            publisher id: 1..64 of [a-z0-9._-], e.g. acme\n"
		"  --namespace P      a package name, or a prefix ending in '*' (acme-*);\n"
		"                     repeat for more (1..%u)\n"
		"  --key PUB.pem      a publisher public key (FILE.pub of 'l3af-tlog keygen');\n"
		"                     repeat for more (1..%u)\n"
		"  --threshold N      signatures a package needs (default 1)\n"
		"  --version N        update: the new key-set version (default: the current\n"
		"                     one, fetched with GET /v1/publishers/ID, plus 1)\n"
		"  --origin O         the log's origin (default: the first line of its\n"
		"                     /checkpoint)\n"
		"  --valid-for S      seconds the request stays valid (default %d, max %d)\n"
		"  --not-before T     start of the window, POSIX seconds (default: now); to\n"
		"                     prepare a request that others co-sign later\n"
		"  --out-request FILE write the signed envelope to FILE instead of sending\n"
		"                     it (send it with 'publisher send')\n"
		"  --timeout SECONDS  whole request (default %u)\n\n"
		"publisher send POSTs a request written with --out-request. publisher show\n"
		"prints the key set in force (GET /v1/publishers/ID).\n\n"
		"Prints the log's JSON answer: {\"bundle\",\"index\",\"publisher\",\"version\"}.\n\n"
		"Exit status: 0 done, 1 refused (403 admin_signature, expired, not_yet_valid,\n"
		"wrong_origin; 409 conflict: the publisher exists, or the version is not the\n"
		"current one + 1; 409 replay) or failed, 2 bad usage, 3 the log could not be\n"
		"reached or is busy.\n\n"
		"Example: l3af-tlog publisher add --log http://127.0.0.1:8080 \\\n"
		"             --admin-key data/admin.key --id acme --namespace 'acme-*' \\\n"
		"             --key acme.key.pub\n",
		SIGNER_NAMESPACES_MAX, SIGNER_SET_KEYS_MAX, VALID_FOR_DEFAULT,
		SIGNER_ADMIN_WINDOW_MAX, CLIENT_TIMEOUT_DEFAULT);
}

static int parse_popts(int argc, char **argv, struct popts *o)
{
	static const struct option opts[] = {
		{"log", required_argument, NULL, 'l'},        {"admin-key", required_argument, NULL, 'a'},
		{"id", required_argument, NULL, 'i'},         {"namespace", required_argument, NULL, 'n'},
		{"key", required_argument, NULL, 'k'},        {"threshold", required_argument, NULL, 't'},
		{"version", required_argument, NULL, 'v'},    {"origin", required_argument, NULL, 'o'},
		{"valid-for", required_argument, NULL, 'w'},  {"not-before", required_argument, NULL, 'b'},
		{"out-request", required_argument, NULL, 'r'}, {"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0}};
	const char *cmd = "publisher";
	int c;

	optind = 2;
	opterr = 0;
	o->valid_for = VALID_FOR_DEFAULT;
	o->threshold = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o->log = optarg; break;
		case 'a': o->admin_key = optarg; break;
		case 'i': o->id = optarg; break;
		case 'o': o->origin = optarg; break;
		case 'r': o->out_request = optarg; break;
		case 'n':
			if (o->nnamespaces == SIGNER_NAMESPACES_MAX)
				return cli_error(cmd, CLI_USAGE, "at most %u --namespace",
						 SIGNER_NAMESPACES_MAX);
			o->namespaces[o->nnamespaces++] = optarg;
			break;
		case 'k':
			if (o->nkeys == SIGNER_SET_KEYS_MAX)
				return cli_error(cmd, CLI_USAGE, "at most %u --key", SIGNER_SET_KEYS_MAX);
			o->keys[o->nkeys++] = optarg;
			break;
		case 't':
			if (cli_parse_count(cmd, "--threshold", optarg, SIGNER_SET_KEYS_MAX, &o->threshold))
				return CLI_USAGE;
			break;
		case 'v':
			if (cli_parse_count(cmd, "--version", optarg, (1ull << 53) - 1, &o->version))
				return CLI_USAGE;
			break;
		case 'w':
			if (cli_parse_count(cmd, "--valid-for", optarg, SIGNER_ADMIN_WINDOW_MAX,
					    &o->valid_for))
				return CLI_USAGE;
			break;
		case 'T':
			if (cli_parse_count(cmd, "--timeout", optarg, 3600, &o->timeout))
				return CLI_USAGE;
			break;
		case 'b': {
			unsigned long long t;
			if (cli_parse_count(cmd, "--not-before", optarg, 1ull << 40, &t))
				return CLI_USAGE;
			o->not_before = (long long)t;
			o->has_not_before = true;
			break;
		}
		case ':': return cli_error(cmd, CLI_USAGE, "%s needs a value", argv[optind - 1]);
		default:
			return cli_error(cmd, CLI_USAGE, "unknown option '%s' (see --help)",
					 argv[optind - 1]);
		}
	}
	return CLI_OK;
}

/* GET /v1/publishers/<id>: the version of the key set in force. */
static int current_version(struct client *c, const char *id, uint64_t *version)
{
	struct client_reply r = {0};
	char path[128];
	json_t *j = NULL, *v;
	int rc;

	snprintf(path, sizeof(path), "/v1/publishers/%s", id);
	rc = client_get(c, path, CLIENT_ANSWER_MAX, &r);
	if (rc == CLI_OK)
		rc = client_check("publisher", &r);
	if (rc == CLI_OK && !(j = client_json("publisher", &r)))
		rc = CLI_FAIL;
	v = json_object_get(json_object_get(j, "entry"), "version");
	if (rc == CLI_OK && (!json_is_integer(v) || json_integer_value(v) < 1))
		rc = cli_error("publisher", CLI_FAIL, "the log's answer for %s has no version", id);
	if (rc == CLI_OK)
		*version = (uint64_t)json_integer_value(v);
	json_decref(j);
	client_reply_clear(&r);
	return rc;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct signer_pubkey *)a)->id, ((const struct signer_pubkey *)b)->id);
}

/* The request's params from the options. */
static int fill_params(const struct popts *o, struct signer_keyset *ks)
{
	struct l3af_err err = {0};
	int rc = CLI_OK;

	if (signer_publisher_check(o->id, &err) != L3AF_OK)
		return cli_error("publisher", CLI_USAGE, "--id: %s", err.msg);
	snprintf(ks->publisher, sizeof(ks->publisher), "%s", o->id);
	for (size_t i = 0; i < o->nnamespaces; i++) {
		if (strlen(o->namespaces[i]) > SIGNER_PKG_NAME_MAX)
			return cli_error("publisher", CLI_USAGE, "--namespace %s is too long",
					 o->namespaces[i]);
		snprintf(ks->namespaces[i], sizeof(ks->namespaces[i]), "%s", o->namespaces[i]);
	}
	ks->nnamespaces = o->nnamespaces;
	for (size_t i = 0; i < o->nkeys && rc == CLI_OK; i++) {
		char *pem = NULL;
		size_t len = 0;
		rc = pub_load_file("publisher", o->keys[i], 4096, &pem, &len);
		if (rc == CLI_OK && signer_pubkey_parse_pem(pem, len, &ks->keys[i], &err) != L3AF_OK)
			rc = cli_error("publisher", CLI_FAIL, "--key %s: %s", o->keys[i], err.msg);
		l3af_free(pem);
	}
	ks->nkeys = o->nkeys;
	qsort(ks->keys, ks->nkeys, sizeof(ks->keys[0]), by_id);
	for (size_t i = 1; rc == CLI_OK && i < ks->nkeys; i++)
		if (!strcmp(ks->keys[i].id, ks->keys[i - 1].id))
			rc = cli_error("publisher", CLI_USAGE, "the same key is given twice");
	if (rc == CLI_OK && o->threshold > ks->nkeys)
		rc = cli_error("publisher", CLI_USAGE, "--threshold %llu is more than the %zu key(s)",
			       o->threshold, ks->nkeys);
	ks->threshold = (unsigned)o->threshold;
	return rc;
}

/* Build and sign the request; *env is l3af_free'd by the caller. */
static int make_request(const struct popts *o, const char *action, const char *origin,
			uint64_t version, char **env)
{
	struct signer_admin_request req;
	struct signer_privkey *key = NULL;
	struct l3af_err err = {0};
	char *payload = NULL;
	int rc;

	memset(&req, 0, sizeof(req));
	snprintf(req.action, sizeof(req.action), "%s", action);
	snprintf(req.origin, sizeof(req.origin), "%s", origin);
	if (sodium_init() < 0)
		return cli_error("publisher", CLI_FAIL, "libsodium failed to start");
	randombytes_buf(req.nonce, sizeof(req.nonce));
	req.not_before = o->has_not_before ? o->not_before : l3af_wall_s();
	req.not_after = req.not_before + (int64_t)o->valid_for;
	req.params.version = version;
	rc = fill_params(o, &req.params);
	if (rc == CLI_OK && signer_privkey_load(o->admin_key, &key, &err) != L3AF_OK)
		rc = cli_error("publisher", CLI_FAIL, "--admin-key: %s", err.msg);
	if (rc == CLI_OK && signer_admin_request_build(&req, &payload, &err) != L3AF_OK)
		rc = cli_error("publisher", CLI_USAGE, "request: %s", err.msg);
	if (rc == CLI_OK && signer_dsse_sign(key, SIGNER_ADMIN_PAYLOAD_TYPE, (const uint8_t *)payload,
					     strlen(payload), env, &err) != L3AF_OK)
		rc = cli_error("publisher", CLI_FAIL, "signing: %s", err.msg);
	l3af_free(payload);
	signer_privkey_free(key);
	return rc;
}

/* The log's answer (rc: how the request went): refused, or its JSON
 * printed. Clears r. */
static int print_answer(int rc, struct client_reply *r)
{
	json_t *j = NULL;

	if (rc == CLI_OK)
		rc = client_check("publisher", r);
	if (rc == CLI_OK && !(j = client_json("publisher", r)))
		rc = CLI_FAIL;
	if (rc == CLI_OK)
		pub_print_json(j);
	json_decref(j);
	client_reply_clear(r);
	return rc;
}

/* POST an admin envelope to /v1/admin and print the answer. */
static int send_request(struct client *c, const char *env, size_t len)
{
	struct client_reply r = {0};

	return print_answer(client_post(c, "/v1/admin", "application/json", env, len,
					CLIENT_ANSWER_MAX, &r),
			    &r);
}

static int add_or_update(const struct popts *o, bool update)
{
	struct client *c = NULL;
	struct l3af_err err = {0};
	char origin[TLOG_ORIGIN_MAX + 1] = "", *env = NULL;
	uint64_t version = update ? o->version : 1;
	int rc = CLI_OK;

	if (!o->admin_key || !o->id || !o->nnamespaces || !o->nkeys)
		return cli_error("publisher", CLI_USAGE,
				 "needs --admin-key, --id, --namespace and --key (see --help)");
	if (!o->log && (!o->out_request || !o->origin || (update && !o->version)))
		return cli_error("publisher", CLI_USAGE, "--log URL is required (see --help)");
	if (!update && o->version > 1)
		return cli_error("publisher", CLI_USAGE, "a registration is version 1");
	if (o->log)
		rc = client_open("publisher", o->log, (unsigned)o->timeout, &c);
	if (rc == CLI_OK && o->origin)
		snprintf(origin, sizeof(origin), "%s", o->origin);
	else if (rc == CLI_OK)
		rc = client_origin(c, origin);
	if (rc == CLI_OK && update && !version) {
		rc = current_version(c, o->id, &version);
		version++;
	}
	if (rc == CLI_OK)
		rc = make_request(o, update ? "publisher.update" : "publisher.register", origin,
				  version, &env);
	if (rc == CLI_OK && o->out_request) {
		if (l3af_file_create(o->out_request, env, strlen(env), 0644, &err) != L3AF_OK)
			rc = cli_error("publisher", CLI_FAIL, "%s", err.msg);
		else
			printf("{\"request\":\"%s\",\"publisher\":\"%s\",\"version\":%llu}\n",
			       o->out_request, o->id, (unsigned long long)version);
	} else if (rc == CLI_OK) {
		rc = send_request(c, env, strlen(env));
	}
	l3af_free(env);
	client_close(c);
	return rc;
}

static int show(const struct popts *o)
{
	struct client *c = NULL;
	struct client_reply r = {0};
	struct l3af_err err = {0};
	char path[128];
	int rc;

	if (!o->log || !o->id)
		return cli_error("publisher", CLI_USAGE, "show needs --log URL and --id ID");
	if (signer_publisher_check(o->id, &err) != L3AF_OK)
		return cli_error("publisher", CLI_USAGE, "--id: %s", err.msg);
	snprintf(path, sizeof(path), "/v1/publishers/%s", o->id);
	rc = client_open("publisher", o->log, (unsigned)o->timeout, &c);
	if (rc == CLI_OK)
		rc = print_answer(client_get(c, path, CLIENT_ANSWER_MAX, &r), &r);
	client_close(c);
	return rc;
}

int cmd_publisher(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	struct popts o;
	struct client *c = NULL;
	char *env = NULL;
	size_t len = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	if (strcmp(sub, "add") && strcmp(sub, "update") && strcmp(sub, "send") && strcmp(sub, "show"))
		return cli_error("publisher", CLI_USAGE, "add, update, send or show (see --help)");
	rc = parse_popts(argc, argv, &o);
	if (rc != CLI_OK)
		return rc;
	if (strcmp(sub, "send") ? optind != argc : argc - optind != 1)
		return cli_error("publisher", CLI_USAGE, "unexpected arguments (see --help)");
	if (!strcmp(sub, "show"))
		return show(&o);
	if (strcmp(sub, "send") != 0)
		return add_or_update(&o, !strcmp(sub, "update"));
	if (!o.log)
		return cli_error("publisher", CLI_USAGE, "send needs --log URL");
	rc = pub_load_file("publisher", argv[optind], SIGNER_DSSE_MAX, &env, &len);
	if (rc == CLI_OK)
		rc = client_open("publisher", o.log, (unsigned)o.timeout, &c);
	if (rc == CLI_OK)
		rc = send_request(c, env, len);
	client_close(c);
	l3af_free(env);
	return rc;
}
