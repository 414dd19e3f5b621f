/*
 * submit_fixture.h - a write-API fixture for the api tests (the same style
 * as test_submit.c): a real log whose entry 0 is the admin.root of a fresh
 * admin key, a real server on 127.0.0.1 with a data_dir, real publisher keys,
 * real package archives built from the clang-compiled objects in
 * L3AF_BPF_OBJ_DIR, and libcurl as the client.
 *
 * Include after testutil.h and httputil.h. Functions assert (cmocka), so
 * call them from the test's main thread only, except where noted.
 */
#ifndef L3AF_TESTS_SUBMIT_FIXTURE_H
#define L3AF_TESTS_SUBMIT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api.h"
#include "signer.h"

#define FX_ORIGIN "l3af-tlog.test/submit"

struct fx {
	char *dir, *work;
	struct tlog *log;
	struct api_server *srv;
	struct api_config cfg; /* as given to fx_setup; listen/data_dir filled in */
	char base[64];
	struct signer_privkey *admin, *acme, *other;
	CURL *h;
};

/* cfg: NULL or extra server settings (listen and data_dir are overridden). */
void fx_setup(struct fx *f, const struct api_config *cfg);
/* Stop the server, tlog_fsck the log, free everything. */
void fx_teardown(struct fx *f);
void fx_server_start(struct fx *f);
void fx_server_stop(struct fx *f);

char *fx_read_all(const char *path, size_t *len);
/* l3af_<name>.tar.gz holding obj, README.md (note) and LICENSE; malloc'd path. */
char *fx_make_package(struct fx *f, const char *name, const char *obj, const char *note);
/* The signed envelope (l3af_free) for archive, version, platform linux/amd64. */
char *fx_sign_package(const char *archive, const char *version,
		      const struct signer_privkey *key);
/* An admin envelope (l3af_free) signed by key: action for publisher with
 * version, one namespace and pub's key, valid now-5 .. now+300. */
char *fx_admin_request(const struct signer_privkey *key, const char *action,
		       const char *publisher, uint64_t version, const char *ns,
		       const struct signer_privkey *pub);
/* The same with an explicit validity window (expired and not-yet-valid tests). */
char *fx_admin_request_at(const struct signer_privkey *key, const char *action,
			  const char *publisher, uint64_t version, const char *ns,
			  const struct signer_privkey *pub, int64_t not_before, int64_t not_after);
/* Register publisher id (version 1); its publisher.keys index. */
uint64_t fx_register(struct fx *f, const char *id, const char *ns,
		     const struct signer_privkey *pub);

/* HTTP. These do not assert: safe on any thread (with its own handle). */
void fx_post_submit(CURL *h, const char *base, const char *env, const char *archive,
		    struct reply *r);
/* The same, naming the artifact part as_name (NULL: the file's base name). */
#define FX_HEADERS_BYTES 4096
/* The general form: parts in either order, extra request headers (may be
 * NULL), and the response headers into got_headers[FX_HEADERS_BYTES] (may
 * be NULL). */
void fx_post_parts(CURL *h, const char *base, const char *env, const char *archive,
		   const char *as_name, bool artifact_first, struct curl_slist *headers,
		   char *got_headers, struct reply *r);
void fx_post_submit_as(CURL *h, const char *base, const char *env, const char *archive,
		       const char *as_name, struct reply *r);
void fx_post_json(CURL *h, const char *base, const char *path, const char *body,
		  const char *ctype, struct reply *r);
/* error.code of a JSON error body into buf ("(none)" if there is none). */
const char *fx_error_code(const struct reply *r, char buf[static 64]);

json_t *fx_reply_json(const struct reply *r);
void fx_get_ok(struct fx *f, const char *path, struct reply *r);
void fx_expect_refusal(const struct reply *r, long status, const char *code);
/* The index of the entry with this name in /v1/lookup?name=..., asserting
 * exactly one row. */
uint64_t fx_lookup_one(struct fx *f, const char *name);
/* The log's size as GET /healthz reports it. */
uint64_t fx_log_size(struct fx *f);

/* A connected raw TCP socket to the server. */
int fx_connect(const struct fx *f);
/* Names in DIR/tmp (0 if empty or missing). */
size_t fx_tmp_files(const struct fx *f);

#endif
