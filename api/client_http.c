/*
 * client_http.c - the log client's HTTP (client.h): a libcurl easy handle
 * with fixed network rules, bounded answers, and the v1 API's error bodies
 * ({"error":{"code","message"}}, docs/api.md) turned into messages and exit
 * codes.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

struct client {
	CURL *h;
	struct curl_slist *headers;
	const char *cmd;
	unsigned timeout_s;
	size_t base_len;
	char base[1024];
	char url[4096];
	char curl_err[CURL_ERROR_SIZE];
};

/* What the write callback collects: at most max bytes, else it stops the
 * transfer (curl reports CURLE_WRITE_ERROR and over is set). */
struct sink {
	struct client_reply *r;
	size_t cap, max;
	bool over, nomem;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t got = size * n, need = s->r->len + got + 1;

	if (s->r->len + got > s->max) {
		s->over = true;
		return 0;
	}
	if (need > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *nb = l3af_realloc(s->r->body, cap);
		if (!nb) {
			s->nomem = true;
			return 0;
		}
		s->r->body = nb;
		s->cap = cap;
	}
	memcpy(s->r->body + s->r->len, p, got);
	s->r->len += got;
	s->r->body[s->r->len] = '\0';
	return got;
}

int client_open(const char *cmd, const char *base, unsigned timeout_s, struct client **out)
{
	struct client *c;
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		return cli_error(cmd, CLI_USAGE, "--log wants an http:// or https:// URL, not '%s'",
				 base);
	if (n >= sizeof(c->base) - 1 || strpbrk(base, " \t\r\n?#"))
		return cli_error(cmd, CLI_USAGE, "--log URL is too long or holds a space, '?' or '#'");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return cli_error(cmd, CLI_FAIL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
	c = l3af_calloc(1, sizeof(*c));
	if (!c || !(c->h = curl_easy_init())) {
		l3af_free(c);
		return cli_error(cmd, CLI_FAIL, "out of memory");
	}
	memcpy(c->base, base, n);
	c->base_len = n;
	c->cmd = cmd;
	c->timeout_s = timeout_s ? timeout_s : CLIENT_TIMEOUT_DEFAULT;
	/* A body is sent at once rather than after "100 Continue": the server
	 * refuses an oversized request from its Content-Length anyway. */
	c->headers = curl_slist_append(NULL, "Expect:");
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, CLIENT_CONNECT_TIMEOUT);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, (long)c->timeout_s);
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "l3af-tlog/0.1");
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	*out = c;
	return CLI_OK;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->headers);
	l3af_free(c);
}

void client_reply_clear(struct client_reply *r)
{
	l3af_free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Percent-encode a query value, leaving the characters RFC 3986 allows
 * literally in a query and that names, versions and platforms use
 * (unreserved, '/', '+') as they are. */
char *client_escape(struct client *c, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(value), k = 0;
	char *out = l3af_malloc(3 * n + 1);

	(void)c;
	for (size_t i = 0; out && i < n; i++) {
		unsigned char ch = (unsigned char)value[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~/+", ch)) {
			out[k++] = (char)ch;
		} else {
			out[k++] = '%';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
	}
	if (out)
		out[k] = '\0';
	return out;
}

/* Run the request set up on c->h against base + path. */
static int perform(struct client *c, const char *path, size_t max, struct client_reply *r)
{
	struct sink s = {.r = r, .max = max};
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(c->url, sizeof(c->url), "%.*s%s", (int)c->base_len, c->base, path) >=
	    sizeof(c->url))
		return cli_error(c->cmd, CLI_USAGE, "URL too long");
	c->curl_err[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	rc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
	if (s.over || rc == CURLE_FILESIZE_EXCEEDED) {
		client_reply_clear(r);
		return cli_error(c->cmd, CLI_FAIL, "%s: the answer is over %zu bytes", c->url, max);
	}
	if (s.nomem) {
		client_reply_clear(r);
		return cli_error(c->cmd, CLI_FAIL, "out of memory");
	}
	if (rc != CURLE_OK) {
		client_reply_clear(r);
		return cli_error(c->cmd, CLI_UNREACHABLE, "could not reach the log at %s: %s",
				 c->url, c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
	}
	if (!r->body && !(r->body = l3af_calloc(1, 1)))
		return cli_error(c->cmd, CLI_FAIL, "out of memory");
	return CLI_OK;
}

int client_get(struct client *c, const char *path, size_t max, struct client_reply *r)
{
	curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	return perform(c, path, max, r);
}

int client_post(struct client *c, const char *path, const char *ctype, const char *body,
		size_t len, size_t max, struct client_reply *r)
{
	char hdr[128];
	struct curl_slist *h = NULL, *h2 = NULL;
	int rc;

	snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
	h = curl_slist_append(NULL, "Expect:");
	h2 = h ? curl_slist_append(h, hdr) : NULL;
	if (!h2) {
		curl_slist_free_all(h);
		return cli_error(c->cmd, CLI_FAIL, "out of memory");
	}
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h2);
	curl_easy_setopt(c->h, CURLOPT_POST, 1L);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	rc = perform(c, path, max, r);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h2);
	return rc;
}

int client_post_submit(struct client *c, const char *envelope, size_t env_len,
		       const char *artifact_name, const uint8_t *artifact, size_t art_len,
		       struct client_reply *r)
{
	curl_mime *mime = curl_mime_init(c->h);
	curl_mimepart *env = mime ? curl_mime_addpart(mime) : NULL;
	curl_mimepart *art = env ? curl_mime_addpart(mime) : NULL;
	int rc;

	if (!art || curl_mime_name(env, "envelope") != CURLE_OK ||
	    curl_mime_data(env, envelope, env_len) != CURLE_OK ||
	    curl_mime_type(env, "application/json") != CURLE_OK ||
	    curl_mime_name(art, "artifact") != CURLE_OK ||
	    curl_mime_filename(art, artifact_name) != CURLE_OK ||
	    curl_mime_data(art, (const char *)artifact, art_len) != CURLE_OK ||
	    curl_mime_type(art, "application/octet-stream") != CURLE_OK) {
		curl_mime_free(mime);
		return cli_error(c->cmd, CLI_FAIL, "out of memory");
	}
	curl_easy_setopt(c->h, CURLOPT_MIMEPOST, mime);
	rc = perform(c, "/v1/submit", CLIENT_ANSWER_MAX, r);
	curl_easy_setopt(c->h, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(mime);
	return rc;
}

static const char *field(json_t *obj, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v ? v : dflt;
}

/* "  file program rule: message" for each policy violation. */
static void print_violations(const char *cmd, json_t *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(v, i, x) {
		fprintf(stderr, "l3af-tlog %s:   %s %s %s: %s\n", cmd,
			field(x, "file", "?"), field(x, "program", "-"), field(x, "rule", "?"),
			field(x, "message", ""));
	}
}

int client_check(const char *cmd, const struct client_reply *r)
{
	json_t *j, *e;
	const char *code = NULL, *msg = NULL;
	int exit_code = r->status == 502 || r->status == 503 || r->status == 504 ? CLI_UNREACHABLE
										 : CLI_FAIL;

	if (r->status >= 200 && r->status < 300)
		return CLI_OK;
	j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
	e = json_object_get(j, "error");
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	if (code)
		cli_error(cmd, exit_code, "the log refused it: HTTP %ld %s: %s", r->status, code,
			  msg ? msg : "");
	else
		cli_error(cmd, exit_code, "the log answered HTTP %ld: %.200s", r->status,
			  r->len ? r->body : "(no body)");
	if (json_is_array(json_object_get(j, "violations")))
		print_violations(cmd, json_object_get(j, "violations"));
	json_decref(j);
	return exit_code;
}

json_t *client_json(const char *cmd, const struct client_reply *r)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(j)) {
		json_decref(j);
		cli_error(cmd, CLI_FAIL, "the log's answer is not a JSON object: %s", jerr.text);
		return NULL;
	}
	return j;
}

/* GET /checkpoint: its first two lines. */
static int checkpoint_head(struct client *c, char origin[static TLOG_ORIGIN_MAX + 1],
			   uint64_t *size)
{
	struct client_reply r;
	int rc = client_get(c, "/checkpoint", SIGNER_NOTE_MAX, &r);
	size_t pos = 0, l1 = 0, l2 = 0;
	const char *o, *s;

	if (rc == CLI_OK)
		rc = client_check(c->cmd, &r);
	if (rc != CLI_OK) {
		client_reply_clear(&r);
		return rc;
	}
	o = l3af_next_line(r.body, r.len, &pos, &l1);
	s = o ? l3af_next_line(r.body, r.len, &pos, &l2) : NULL;
	if (!s || l1 == 0 || l1 > TLOG_ORIGIN_MAX ||
	    l3af_parse_u64(s, l2, UINT64_MAX >> 1, size) != L3AF_OK)
		rc = cli_error(c->cmd, CLI_FAIL, "%s/checkpoint is not a checkpoint",
			       c->base);
	else {
		memcpy(origin, o, l1);
		origin[l1] = '\0';
	}
	client_reply_clear(&r);
	return rc;
}

int client_origin(struct client *c, char origin[static TLOG_ORIGIN_MAX + 1])
{
	uint64_t size;

	return checkpoint_head(c, origin, &size);
}

int client_size(struct client *c, uint64_t *size)
{
	char origin[TLOG_ORIGIN_MAX + 1];

	return checkpoint_head(c, origin, size);
}
