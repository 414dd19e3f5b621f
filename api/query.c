/*
 * query.c - GET /v1/...: bundles, entries, lookups, publishers, proofs
 * (docs/api.md "Write and query API (v1)"). Everything answers against the
 * latest published checkpoint. Query strings are matched raw (the server
 * does not percent-decode), parameters are strict: an unknown or repeated
 * parameter, a non-canonical number or a malformed value is a 400.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ---- bundles ---- */

/* The latest note, and its body parsed. */
static enum l3af_status latest(struct api_server *s, char **note, size_t *len,
			       struct tlog_checkpoint *cp, struct l3af_err *err)
{
	enum l3af_status rc = tlog_checkpoint_get(s->log, note, len, err);
	const char *blank;

	if (rc != L3AF_OK)
		return rc;
	blank = memmem(*note, *len, "\n\n", 2);
	rc = blank ? tlog_checkpoint_parse(*note, (size_t)(blank - *note) + 1, cp, err)
		   : l3af_fail(err, L3AF_E_CORRUPT, "checkpoint note without a body");
	if (rc != L3AF_OK) {
		l3af_free(*note);
		*note = NULL;
		return rc == L3AF_E_INVALID ? L3AF_E_CORRUPT : rc;
	}
	return L3AF_OK;
}

/* Key-set entries by index (an entry's bytes never change): most bundles
 * name the same few. Copies b's key-set entry from the cache if it holds
 * b->keys_index. */
static bool keys_cached(struct api_server *s, struct tlog_bundle *b)
{
	bool hit = false;

	pthread_mutex_lock(&s->keys_lock);
	for (size_t i = 0; i < API_KEYS_CACHE_SLOTS && !hit; i++) {
		const struct api_keys_slot *k = &s->keys_cache[i];
		if (k->bytes && k->index == b->keys_index) {
			memcpy(b->keys_entry, k->bytes, k->len);
			b->keys_entry_len = k->len;
			hit = true;
		}
	}
	pthread_mutex_unlock(&s->keys_lock);
	return hit;
}

/* Keep bytes (l3af_malloc'd, taken over) as the entry at index. */
static void keys_cache_put(struct api_server *s, uint64_t index, uint8_t *bytes, size_t len)
{
	struct api_keys_slot *k;

	pthread_mutex_lock(&s->keys_lock);
	k = &s->keys_cache[s->keys_next++ % API_KEYS_CACHE_SLOTS];
	l3af_free(k->bytes);
	k->index = index;
	k->bytes = bytes;
	k->len = len;
	pthread_mutex_unlock(&s->keys_lock);
}

/* The key-set entry a package entry names (if the entry is a package):
 * keys is its index, API_KEYS_NONE, or API_KEYS_UNKNOWN to parse the entry
 * and find out. */
static enum l3af_status add_keys(struct api_server *s, struct tlog_bundle *b, uint64_t keys,
				 uint64_t size, struct l3af_err *err)
{
	uint8_t *kbytes = NULL;
	size_t klen = 0;
	enum l3af_status rc;

	if (keys == API_KEYS_UNKNOWN) {
		struct signer_entry e = {0};
		keys = API_KEYS_NONE; /* not ours, or not a package: no keys lines */
		if (signer_entry_parse(b->entry, b->entry_len, &e, NULL) == L3AF_OK &&
		    e.kind == SIGNER_ENTRY_PACKAGE)
			keys = e.pkg.keys_index;
		signer_entry_clear(&e);
	}
	if (keys == API_KEYS_NONE)
		return L3AF_OK;
	b->keys_index = keys;
	if (keys_cached(s, b)) {
		rc = L3AF_OK;
	} else {
		rc = tlog_entry_read(s->log, b->keys_index, &kbytes, &klen, err);
		if (rc == L3AF_OK && klen > sizeof(b->keys_entry))
			rc = l3af_fail(err, L3AF_E_CORRUPT, "entry too long");
		if (rc == L3AF_OK) {
			memcpy(b->keys_entry, kbytes, klen);
			b->keys_entry_len = klen;
			keys_cache_put(s, b->keys_index, kbytes, klen);
			kbytes = NULL;
		}
	}
	if (rc == L3AF_OK) {
		b->has_keys = true;
		rc = api_prove_inclusion(s, b->keys_index, size, b->kproof, &b->nkproof, err);
	}
	l3af_free(kbytes);
	return rc;
}

enum l3af_status api_bundle_for(struct api_server *s, uint64_t index, char **out, size_t *len,
				struct l3af_err *err)
{
	return api_bundle_for_keys(s, index, API_KEYS_UNKNOWN, out, len, err);
}

enum l3af_status api_bundle_for_keys(struct api_server *s, uint64_t index, uint64_t keys,
				     char **out, size_t *len, struct l3af_err *err)
{
	return api_bundle_for_entry(s, index, keys, NULL, 0, out, len, err);
}

enum l3af_status api_bundle_for_entry(struct api_server *s, uint64_t index, uint64_t keys,
				      const uint8_t *known, size_t known_len, char **out,
				      size_t *len, struct l3af_err *err)
{
	/* About 330 KiB, mostly buffers used up to their lengths: not zeroed
	 * (zeroing it was the largest cost of a bundle); every field
	 * tlog_bundle_format reads is set here or below. */
	struct tlog_bundle *b = l3af_malloc(sizeof(*b));
	struct tlog_checkpoint cp;
	char *note = NULL;
	size_t note_len = 0, elen = 0;
	uint8_t *entry = NULL;
	enum l3af_status rc;

	if (!b)
		return l3af_fail(err, L3AF_E_NOMEM, "bundle: out of memory");
	b->proof.index = index;
	b->proof.nproof = 0;
	b->proof.extra_len = 0;
	b->proof.checkpoint = NULL;
	b->proof.checkpoint_len = 0;
	b->entry_len = 0;
	b->has_keys = false;
	b->keys_index = 0;
	b->keys_entry_len = 0;
	b->nkproof = 0;
	rc = latest(s, &note, &note_len, &cp, err);
	if (rc == L3AF_OK && index >= cp.size)
		rc = l3af_fail(err, L3AF_E_NOTFOUND, "entry %llu is not in the tree of size %llu",
			       (unsigned long long)index, (unsigned long long)cp.size);
	if (rc == L3AF_OK && !known)
		rc = tlog_entry_read(s->log, index, &entry, &elen, err);
	if (rc == L3AF_OK && known)
		elen = known_len;
	if (rc == L3AF_OK && elen > sizeof(b->entry))
		rc = l3af_fail(err, L3AF_E_CORRUPT, "entry too long");
	if (rc == L3AF_OK) {
		memcpy(b->entry, known ? known : entry, elen);
		b->entry_len = elen;
		b->proof.index = index;
		rc = api_prove_inclusion(s, index, cp.size, b->proof.proof, &b->proof.nproof, err);
	}
	if (rc == L3AF_OK)
		rc = add_keys(s, b, keys, cp.size, err);
	if (rc == L3AF_OK)
		rc = tlog_bundle_format(b, note, note_len, out, len, err);
	l3af_free(entry);
	l3af_free(note);
	l3af_free(b);
	return rc;
}

/* ---- query parameters ---- */

#define ARGS_MAX 5
/* Longest query value kept: a platform is at most 128 bytes, a digest 64. */
#define ARG_BYTES 256
struct args {
	const char *const *allowed; /* NULL-terminated */
	const char *value[ARGS_MAX];
	char buf[ARGS_MAX][ARG_BYTES];
	bool bad;
};

/* The server keeps URLs escaped (tile paths must be checked as sent), so
 * query values arrive escaped too: decode each with libmicrohttpd's own
 * percent-decoder into a private copy ("linux%2Famd64" is "linux/amd64"). */
static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			      const char *value)
{
	struct args *a = cls;

	(void)kind;
	for (size_t i = 0; a->allowed[i]; i++) {
		size_t len;
		if (strcmp(a->allowed[i], key) != 0)
			continue;
		if (a->value[i] || !value || (len = strlen(value)) >= ARG_BYTES) {
			a->bad = true; /* repeated, without '=', or too long */
			return MHD_YES;
		}
		memcpy(a->buf[i], value, len + 1);
		len = MHD_http_unescape(a->buf[i]);
		if (memchr(a->buf[i], '\0', len) || strlen(a->buf[i]) != len)
			a->bad = true; /* an escaped NUL */
		a->value[i] = a->buf[i];
		return MHD_YES;
	}
	a->bad = true;
	return MHD_YES;
}

static bool args_read(struct MHD_Connection *c, struct args *a)
{
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, a);
	return !a->bad;
}

static bool parse_index(const char *text, uint64_t *out)
{
	return text && l3af_parse_u64(text, strlen(text), TLOG_SIZE_MAX, out) == L3AF_OK;
}

static bool is_hex64(const char *h)
{
	uint8_t bin[32];

	return h && strlen(h) == 64 && l3af_hex_decode(bin, 32, h, 64) == L3AF_OK;
}

static enum MHD_Result bad(struct MHD_Connection *c, const char *msg)
{
	return api_send_error(c, MHD_HTTP_BAD_REQUEST, "bad_request", msg, NULL);
}

/* ---- routes ---- */

static enum MHD_Result serve_bundle(struct api_server *s, struct MHD_Connection *c,
				    const char *url, uint64_t index)
{
	struct l3af_err err = {0};
	char *text = NULL;
	size_t len = 0;
	enum l3af_status rc = api_bundle_for(s, index, &text, &len, &err);

	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_owned(c, MHD_HTTP_OK, &API_KIND_TEXT, text, len);
}

/* GET /v1/bundle/sha256/<hex>[?name=N][&version=V][&platform=P]: the bundle
 * of the lowest-index package entry of that artifact whose name, version
 * and platform equal the ones given (one artifact may be logged for several
 * versions or platforms); 404 if none. */
static enum MHD_Result serve_bundle_sha(struct api_server *s, struct MHD_Connection *c,
					const char *url, const char *hex)
{
	static const char *const allowed[] = {"name", "version", "platform", NULL};
	struct args a = {.allowed = allowed};
	struct api_pkg_row *rows;
	struct l3af_err err = {0};
	size_t n = 0, i;
	uint64_t index = 0;
	enum l3af_status rc;
	bool found = false;

	if (!s->w)
		return api_send_error(c, 404, "not_found", "no index on a read-only server", NULL);
	if (!is_hex64(hex))
		return bad(c, "want 64 lowercase hex digits");
	if (!args_read(c, &a))
		return bad(c, "unknown or repeated query parameter (name, version, platform)");
	const char *name = a.value[0], *version = a.value[1], *platform = a.value[2];
	if ((name && signer_pkg_name_check(name, &err) != L3AF_OK) ||
	    (version && signer_version_check(version, &err) != L3AF_OK))
		return bad(c, err.msg);
	if (platform && (!platform[0] || strlen(platform) > SIGNER_PLATFORM_MAX))
		return bad(c, "platform: 1 to 128 bytes");
	rows = l3af_calloc(API_LOOKUP_MAX, sizeof(*rows));
	if (!rows)
		return api_send_error(c, 503, "unavailable", "out of memory", NULL);
	/* By name when given (its rows are few), else by digest; then filter. */
	rc = name ? api_index_lookup(api_write_index(s->w), "name", name, version, platform, rows,
				     API_LOOKUP_MAX, &n, &err)
		  : api_index_lookup(api_write_index(s->w), "sha256", hex, NULL, NULL, rows,
				     API_LOOKUP_MAX, &n, &err);
	for (i = 0; rc == L3AF_OK && i < n && !found; i++) {
		const struct api_pkg_row *r = &rows[i];

		if (!strcmp(r->sha256, hex) && (!version || !strcmp(r->version, version)) &&
		    (!platform || !strcmp(r->platform, platform))) {
			found = true;
			index = r->index;
		}
	}
	l3af_free(rows);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	if (!found)
		return api_send_error(c, 404, "not_found",
				      name || version || platform
					      ? "no package with that artifact, name, version and platform"
					      : "no package with that artifact",
				      NULL);
	return serve_bundle(s, c, url, index);
}

static enum MHD_Result serve_entry(struct api_server *s, struct MHD_Connection *c,
				   const char *url, const char *text)
{
	struct l3af_err err = {0};
	uint64_t index;
	uint8_t *entry = NULL;
	size_t len = 0;
	enum l3af_status rc;

	if (!parse_index(text, &index))
		return bad(c, "want a canonical decimal index");
	if (index >= tlog_size(s->log))
		return api_send_error(c, 404, "not_found", "no such entry (yet)", NULL);
	rc = tlog_entry_read(s->log, index, &entry, &len, &err);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_owned(c, MHD_HTTP_OK, &API_KIND_JSON, entry, len);
}

static json_t *row_json(const struct api_pkg_row *r)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "artifact", r->artifact, "index",
			 (json_int_t)r->index, "name", r->name, "platform", r->platform,
			 "publisher", r->publisher, "sha256", r->sha256, "version", r->version);
}

static enum MHD_Result serve_lookup(struct api_server *s, struct MHD_Connection *c,
				    const char *url)
{
	static const char *const allowed[] = {"name", "version", "platform", "sha256",
					      "program", NULL};
	struct args a = {.allowed = allowed};
	struct l3af_err err = {0};
	struct api_pkg_row *rows;
	size_t n = 0;
	const char *by, *key;
	enum l3af_status rc;
	json_t *list;

	if (!s->w)
		return api_send_error(c, 404, "not_found", "no index on a read-only server", NULL);
	if (!args_read(c, &a))
		return bad(c, "unknown or repeated query parameter");
	const char *name = a.value[0], *version = a.value[1], *platform = a.value[2],
		   *sha = a.value[3], *prog = a.value[4];
	if ((name != NULL) + (sha != NULL) + (prog != NULL) != 1)
		return bad(c, "give one of name, sha256, program");
	if ((version || platform) && !name)
		return bad(c, "version and platform go with name");
	if (platform && !version)
		return bad(c, "platform goes with version");
	if (name) {
		by = "name";
		key = name;
		if (signer_pkg_name_check(name, &err) != L3AF_OK ||
		    (version && signer_version_check(version, &err) != L3AF_OK))
			return bad(c, err.msg);
	} else {
		by = sha ? "sha256" : "program";
		key = sha ? sha : prog;
		if (!is_hex64(key))
			return bad(c, "want 64 lowercase hex digits");
	}
	rows = l3af_calloc(API_LOOKUP_MAX, sizeof(*rows));
	if (!rows)
		return api_send_error(c, 503, "unavailable", "out of memory", NULL);
	rc = api_index_lookup(api_write_index(s->w), by, key, version, platform, rows,
			      API_LOOKUP_MAX, &n, &err);
	if (rc != L3AF_OK) {
		l3af_free(rows);
		return api_send_failure(s, c, url, rc, &err);
	}
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, row_json(&rows[i]));
	l3af_free(rows);
	return api_send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "entries", list));
}

static enum MHD_Result serve_publisher(struct api_server *s, struct MHD_Connection *c,
				       const char *url, const char *id)
{
	struct l3af_err err = {0};
	uint64_t index = 0;
	uint8_t *entry = NULL;
	size_t len = 0;
	enum l3af_status rc;
	json_t *e;

	if (!s->w)
		return api_send_error(c, 404, "not_found", "no index on a read-only server", NULL);
	if (signer_publisher_check(id, &err) != L3AF_OK)
		return bad(c, err.msg);
	rc = api_index_publisher(api_write_index(s->w), id, &index, &err);
	if (rc == L3AF_OK)
		rc = tlog_entry_read(s->log, index, &entry, &len, &err);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	e = json_loadb((const char *)entry, len, JSON_REJECT_DUPLICATES, NULL);
	l3af_free(entry);
	return api_send_json(c, MHD_HTTP_OK,
			     json_pack("{s:I, s:o}", "index", (json_int_t)index, "entry", e));
}

static json_t *proof_json(uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t n)
{
	json_t *list = json_array();
	char b64[64];

	for (size_t i = 0; i < n; i++)
		if (l3af_base64_encode(b64, sizeof(b64), proof[i], TLOG_HASH_BYTES) == L3AF_OK)
			json_array_append_new(list, json_string(b64));
	return list;
}

static enum MHD_Result serve_inclusion(struct api_server *s, struct MHD_Connection *c,
				       const char *url)
{
	static const char *const allowed[] = {"index", "size", NULL};
	struct args a = {.allowed = allowed};
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	struct l3af_err err = {0};
	uint64_t index, size = tlog_size(s->log), cur = size;
	size_t n = 0;
	enum l3af_status rc;

	if (!args_read(c, &a) || !parse_index(a.value[0], &index) ||
	    (a.value[1] && !parse_index(a.value[1], &size)))
		return bad(c, "want index=I[&size=S] in canonical decimal");
	if (size > cur || index >= size)
		return bad(c, "want index < size <= the current tree size");
	rc = api_prove_inclusion(s, index, size, proof, &n, &err);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_json(c, MHD_HTTP_OK,
			     json_pack("{s:I, s:o, s:I}", "index", (json_int_t)index, "proof",
				       proof_json(proof, n), "size", (json_int_t)size));
}

static enum MHD_Result serve_consistency(struct api_server *s, struct MHD_Connection *c,
					 const char *url)
{
	static const char *const allowed[] = {"old", "new", NULL};
	struct args a = {.allowed = allowed};
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	struct l3af_err err = {0};
	uint64_t o, nw, cur = tlog_size(s->log);
	size_t n = 0;
	enum l3af_status rc;

	if (!args_read(c, &a) || !parse_index(a.value[0], &o) || !parse_index(a.value[1], &nw))
		return bad(c, "want old=A&new=B in canonical decimal");
	if (o == 0 || o > nw || nw > cur)
		return bad(c, "want 0 < old <= new <= the current tree size");
	rc = tlog_prove_consistency(s->log, o, nw, proof, &n, &err);
	if (rc != L3AF_OK)
		return api_send_failure(s, c, url, rc, &err);
	return api_send_json(c, MHD_HTTP_OK,
			     json_pack("{s:I, s:I, s:o}", "new", (json_int_t)nw, "old",
				       (json_int_t)o, "proof", proof_json(proof, n)));
}

enum MHD_Result api_serve_v1_get(struct api_server *s, struct MHD_Connection *c, const char *url)
{
	uint64_t index;

	if (!strncmp(url, "/v1/bundle/sha256/", 18))
		return serve_bundle_sha(s, c, url, url + 18);
	if (!strncmp(url, "/v1/bundle/", 11)) {
		if (!parse_index(url + 11, &index))
			return bad(c, "want a canonical decimal index");
		return serve_bundle(s, c, url, index);
	}
	if (!strncmp(url, "/v1/entry/", 10))
		return serve_entry(s, c, url, url + 10);
	if (!strcmp(url, "/v1/lookup"))
		return serve_lookup(s, c, url);
	if (!strncmp(url, "/v1/publishers/", 15))
		return serve_publisher(s, c, url, url + 15);
	if (!strcmp(url, "/v1/proof/inclusion"))
		return serve_inclusion(s, c, url);
	if (!strcmp(url, "/v1/proof/consistency"))
		return serve_consistency(s, c, url);
	return api_send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such resource", NULL);
}
