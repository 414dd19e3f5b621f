/*
 * httputil.h - a small libcurl client for the api tests (header-only,
 * static): one request, its status, body and the headers the tests check.
 * Include after testutil.h.
 */
#ifndef L3AF_TESTS_HTTPUTIL_H
#define L3AF_TESTS_HTTPUTIL_H

#include <curl/curl.h>
#include <strings.h>

struct reply {
	CURLcode curl;      /* CURLE_OK unless the transfer itself failed */
	long status;
	uint8_t *body;      /* NUL-terminated copy (free with reply_free) */
	size_t len;
	char ctype[128];    /* Content-Type */
	char cache[128];    /* Cache-Control */
	char allow[64];     /* Allow */
	char conn[64];      /* Connection */
	long content_length; /* Content-Length, -1 if absent */
	long new_conns;     /* connections curl had to open for this request */
};

static inline void reply_free(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static inline size_t hu_on_body(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	uint8_t *nb = realloc(r->body, r->len + size * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, p, size * n);
	r->body = nb;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* Copy the value of header `name` from one raw header line, if it is that. */
static inline void hu_header_value(const char *line, size_t len, const char *name, char *out,
				   size_t cap)
{
	size_t nlen = strlen(name), v;

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return;
	v = nlen + 1;
	while (v < len && line[v] == ' ')
		v++;
	while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, cap, "%.*s", (int)(len - v), line + v);
}

static inline size_t hu_on_header(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	char cl[32] = "";

	hu_header_value(p, size * n, "Content-Type", r->ctype, sizeof(r->ctype));
	hu_header_value(p, size * n, "Cache-Control", r->cache, sizeof(r->cache));
	hu_header_value(p, size * n, "Allow", r->allow, sizeof(r->allow));
	hu_header_value(p, size * n, "Connection", r->conn, sizeof(r->conn));
	hu_header_value(p, size * n, "Content-Length", cl, sizeof(cl));
	if (cl[0])
		r->content_length = strtol(cl, NULL, 10);
	return size * n;
}

/*
 * method path [body] on handle h (which keeps its connection between calls)
 * against base ("http://127.0.0.1:PORT"). The path is sent as is: curl's
 * dot-segment squashing is off so that "/tile/entries/../000" reaches the
 * server verbatim.
 */
static inline void http_do(CURL *h, const char *base, const char *method, const char *path,
			   const char *body, struct reply *r)
{
	char url[512];

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hu_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hu_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L); /* resets NOBODY and POST */
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	r->curl = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->new_conns);
}

static inline void http_get(CURL *h, const char *base, const char *path, struct reply *r)
{
	http_do(h, base, "GET", path, NULL, r);
}

#endif
