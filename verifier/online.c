/*
 * online.c - HTTP GET for online mode (libcurl): a timeout for the whole
 * request, a size cap (CURLOPT_MAXFILESIZE for answers that declare their
 * length, and a write-callback cap for those that do not), TLS peer and
 * host verification on, no redirects, http and https only.
 */
#include <pthread.h>
#include <string.h>

#include <curl/curl.h>

#include "verify_internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_start(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	char *buf;
	size_t len, cap, max;
	bool over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		b = l3af_realloc(s->buf, cap);
		if (!b)
			return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, ptr, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

enum l3af_status lv_http_get(const char *url, size_t max, long timeout_ms, long *http,
			     char **body, size_t *len, struct l3af_err *err)
{
	struct sink s = { .max = max };
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	enum l3af_status rc = L3AF_OK;

	*http = 0;
	*body = NULL;
	*len = 0;
	pthread_once(&curl_once, curl_start);
	if (curl_init_rc != CURLE_OK)
		return l3af_fail(err, L3AF_E_IO, "libcurl did not start");
	c = curl_easy_init();
	if (!c)
		return l3af_fail(err, L3AF_E_NOMEM, "libcurl: no memory");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "l3af-verify/1");
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
	curl_easy_cleanup(c);
	if (s.over || cc == CURLE_FILESIZE_EXCEEDED)
		rc = l3af_fail(err, L3AF_E_IO, "GET %s: answer over %zu bytes", url, max);
	else if (cc != CURLE_OK)
		rc = l3af_fail(err, cc == CURLE_OUT_OF_MEMORY ? L3AF_E_NOMEM : L3AF_E_IO,
			       "GET %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
	if (rc != L3AF_OK) {
		l3af_free(s.buf);
		*http = 0;
		return rc;
	}
	if (!s.buf) {
		s.buf = l3af_malloc(1);
		if (!s.buf)
			return l3af_fail(err, L3AF_E_NOMEM, "no memory");
		s.buf[0] = '\0';
	}
	*body = s.buf;
	*len = s.len;
	return L3AF_OK;
}
