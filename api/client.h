/*
 * client.h - the log client of l3af-tlog (api/client_http.c): one libcurl
 * easy handle per client, with the network rules every client command
 * shares, and the mapping of the v1 API's answers to exit codes
 * (docs/cli.md "Log client commands", docs/api.md "Write and query API").
 *
 * Network rules: connect timeout 5 s, total timeout (default 60 s), no
 * redirects, http and https only, TLS peer and host verification on, every
 * answer capped in size. http:// is for loopback and development.
 * Functions print their own error ("l3af-tlog CMD: ...") and return a CLI
 * exit code.
 */
#ifndef L3AF_CLIENT_H
#define L3AF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "signer.h"
#include "tlog.h"

/* Exit code of the client commands when the log could not be reached (no
 * connection, timeout, TLS failure) or is temporarily unavailable (503). */
#define CLI_UNREACHABLE 3

#define CLIENT_TIMEOUT_DEFAULT 60u    /* seconds, whole request */
#define CLIENT_CONNECT_TIMEOUT 5L     /* seconds */
#define CLIENT_ANSWER_MAX (8u << 20)  /* largest JSON answer read */

struct client;

/* A client of the log at base URL ("http[s]://host[:port][/prefix]"; a
 * trailing '/' is dropped). CLI_USAGE for a bad URL. */
int client_open(const char *cmd, const char *base, unsigned timeout_s, struct client **out);
void client_close(struct client *c);

/* An answer: status and body (NUL-terminated, l3af_free'd by
 * client_reply_clear). */
struct client_reply {
	long status;
	char *body;
	size_t len;
};
void client_reply_clear(struct client_reply *r);

/* GET base + path (already escaped). CLI_OK with any HTTP status in r;
 * CLI_UNREACHABLE on a transport failure; CLI_FAIL for an answer over max. */
int client_get(struct client *c, const char *path, size_t max, struct client_reply *r);
/* POST body (content type ctype). */
int client_post(struct client *c, const char *path, const char *ctype, const char *body,
		size_t len, size_t max, struct client_reply *r);
/* POST multipart/form-data to /v1/submit: part "envelope" (the DSSE JSON)
 * and part "artifact" (the archive; its file name is the base name of
 * artifact_path). The artifact is sent from memory. */
int client_post_submit(struct client *c, const char *envelope, size_t env_len,
		       const char *artifact_name, const uint8_t *artifact, size_t art_len,
		       struct client_reply *r);
/* Escape a query value (URL encoding); NULL on failure. l3af_free it. */
char *client_escape(struct client *c, const char *value);

/* 2xx: CLI_OK. Else print "the log refused ...: HTTP S code: message" (and
 * the policy violations, if any) and return CLI_FAIL, or CLI_UNREACHABLE
 * for 502/503/504 (retry later). */
int client_check(const char *cmd, const struct client_reply *r);
/* Parse a 2xx JSON answer (no duplicate keys); NULL and a message if it is
 * not a JSON object. */
struct json_t *client_json(const char *cmd, const struct client_reply *r);

/* The log's origin: the first line of GET /checkpoint. */
int client_origin(struct client *c, char origin[static TLOG_ORIGIN_MAX + 1]);
/* The tree size of GET /checkpoint (not verified: for display and tests). */
int client_size(struct client *c, uint64_t *size);

/* What an offline bundle check found (api/cmd_client.c). */
struct bundle_check {
	struct tlog_checkpoint cp;
	uint64_t index;
	struct signer_entry entry;       /* signer_entry_clear */
};
/* Verify bundle text against the log's verifier key: the checkpoint note's
 * signature, its origin (= the key's name), the inclusion of the entry (and
 * of its key set), the entry's strict parse, and for a package entry that
 * the key set is the one it names and the envelope verifies under it.
 * CLI_OK or CLI_FAIL (message printed, naming what failed). */
int bundle_check_text(const char *cmd, const struct signer_vkey *vkey, const char *text,
		      size_t len, struct bundle_check *out);
/* Load a verifier key file (DIR/log.vkey). */
int load_vkey(const char *cmd, const char *path, struct signer_vkey *out);
/* The summary printed for a verified bundle (a new JSON object). */
struct json_t *bundle_summary(const struct bundle_check *bc);

/* Options shared by the client commands. */
struct copts {
	const char *log, *out, *log_key, *name, *version, *platform, *sha256, *program, *index,
		*artifact;
	unsigned long long timeout;
	bool text;
};

enum { O_LOG = 1, O_OUT, O_LOGKEY, O_NAME, O_VERSION, O_PLATFORM, O_SHA, O_PROGRAM, O_INDEX,
       O_ARTIFACT, O_TIMEOUT, O_TEXT };

#define OPT(x) (1u << (x))
/* Parse options from argv[first]; the positional arguments stay at
 * argv[optind..argc). `allowed` is a bit set of the OPT(O_*) this command
 * takes; --log is then required if allowed. */
int client_parse_opts(const char *cmd, int argc, char **argv, int first, unsigned allowed,
		      struct copts *o);
/* 64 lowercase hex digits. */
bool client_is_hex64(const char *s);

/* publisher add|update|send (api/cmd_publisher.c) */
int cmd_publisher(int argc, char **argv);
void cmd_publisher_help(FILE *out);
/* submit, lookup, bundle (api/cmd_client.c) */
int cmd_submit(int argc, char **argv);
void cmd_submit_help(FILE *out);
int cmd_lookup(int argc, char **argv);
void cmd_lookup_help(FILE *out);
int cmd_bundle(int argc, char **argv);
void cmd_bundle_help(FILE *out);

#endif
