/*
 * online.c - HTTP GET for online mode (libcurl): a timeout for the whole
 * request, a size cap (CURLOPT_MAXFILESIZE for answers that declare their
 * length, and a write-callback cap for those that do not), TLS peer and
 * host verification on, no redirects, http and https only.
 *
 * libcurl (and the TLS, Kerberos, LDAP, ... libraries it needs) is loaded
 * with dlopen on the first online request, not linked: an offline check
 * does not pay for loading ~35 shared objects at process start. Only the
 * few functions below are used, through a table.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "verify_internal.h"

#define LV_CURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode cc);
	curl_version_info_data *(*version_info)(CURLversion v);
} lc;

/* CURLOPT_PROTOCOLS_STR (only http and https) appeared in libcurl 7.85.0;
 * an older one would ignore the restriction, so it is refused. */
#define LV_CURL_MIN 0x075500
#define LV_CURL_MIN_TEXT "7.85.0"


static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static char curl_load_error[256];

/* dlsym returns void *; a union turns it into a function pointer without
 * the object-to-function pointer cast ISO C leaves undefined. */
typedef void (*lv_fn)(void);

static lv_fn sym(void *lib, const char *name)
{
	union {
		void *obj;
		lv_fn fn;
	} u = { .obj = dlsym(lib, name) };

	return u.obj ? u.fn : NULL;
}

static void curl_start(void)
{
	void *lib = dlopen(LV_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	bool ok = lib != NULL;

	if (!ok) {
		const char *e = dlerror();

		snprintf(curl_load_error, sizeof(curl_load_error), "%s", e ? e : LV_CURL_SONAME);
		return;
	}
#define LV_SYM(field, name)                                \
	do {                                               \
		lv_fn f_ = sym(lib, name);                 \
		ok = ok && f_ != NULL;                     \
		lc.field = (__typeof__(lc.field))f_;       \
	} while (0)
	LV_SYM(global_init, "curl_global_init");
	LV_SYM(easy_init, "curl_easy_init");
	LV_SYM(easy_setopt, "curl_easy_setopt");
	LV_SYM(easy_perform, "curl_easy_perform");
	LV_SYM(easy_getinfo, "curl_easy_getinfo");
	LV_SYM(easy_cleanup, "curl_easy_cleanup");
	LV_SYM(easy_strerror, "curl_easy_strerror");
	LV_SYM(version_info, "curl_version_info");
#undef LV_SYM
	if (!ok) {
		snprintf(curl_load_error, sizeof(curl_load_error), "%s lacks a curl_easy function",
			 LV_CURL_SONAME);
		return; /* the library stays loaded: dlclose while another thread waits is moot */
	}
	const curl_version_info_data *v = lc.version_info(CURLVERSION_NOW);
	if (!v || v->version_num < LV_CURL_MIN) {
		snprintf(curl_load_error, sizeof(curl_load_error),
			 "libcurl %s is older than %s (no CURLOPT_PROTOCOLS_STR: it could not be "
			 "limited to http and https)", v && v->version ? v->version : "?",
			 LV_CURL_MIN_TEXT);
		return;
	}
	curl_init_rc = lc.global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc != CURLE_OK)
		snprintf(curl_load_error, sizeof(curl_load_error), "curl_global_init failed");
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

enum l3af_status lv_online_ready(struct l3af_err *err)
{
	pthread_once(&curl_once, curl_start);
	if (curl_init_rc != CURLE_OK)
		return l3af_fail(err, L3AF_E_IO, "online mode needs %s, %s or later: %s",
				 LV_CURL_SONAME, LV_CURL_MIN_TEXT, curl_load_error);
	return L3AF_OK;
}

enum l3af_status lv_http_get(const char *url, size_t max, long timeout_ms, long *http,
			     char **body, size_t *len, struct l3af_err *err)
{
	struct sink s = { .max = max };
	const char *bad_opt = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	enum l3af_status rc = L3AF_OK;

	*http = 0;
	*body = NULL;
	*len = 0;
	rc = lv_online_ready(err);
	if (rc != L3AF_OK)
		return rc;
	c = lc.easy_init();
	if (!c)
		return l3af_fail(err, L3AF_E_NOMEM, "libcurl: no memory");
	/* Every option must take: a libcurl that ignores one (the protocol
	 * list, TLS verification, a cap) is not used. */
#define LV_OPT(opt, val)                                                              \
	do {                                                                          \
		if (cc == CURLE_OK && (cc = lc.easy_setopt(c, opt, val)) != CURLE_OK) \
			bad_opt = #opt;                                               \
	} while (0)
	cc = CURLE_OK;
	LV_OPT(CURLOPT_URL, url);
	LV_OPT(CURLOPT_PROTOCOLS_STR, "http,https");
	LV_OPT(CURLOPT_FOLLOWLOCATION, 0L);
	LV_OPT(CURLOPT_SSL_VERIFYPEER, 1L);
	LV_OPT(CURLOPT_SSL_VERIFYHOST, 2L);
	LV_OPT(CURLOPT_TIMEOUT_MS, timeout_ms);
	LV_OPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	LV_OPT(CURLOPT_NOSIGNAL, 1L);
	LV_OPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	LV_OPT(CURLOPT_WRITEFUNCTION, on_data);
	LV_OPT(CURLOPT_WRITEDATA, &s);
	LV_OPT(CURLOPT_ERRORBUFFER, ebuf);
	LV_OPT(CURLOPT_USERAGENT, "l3af-verify/1");
#undef LV_OPT
	if (bad_opt) {
		lc.easy_cleanup(c);
		return l3af_fail(err, cc == CURLE_OUT_OF_MEMORY ? L3AF_E_NOMEM : L3AF_E_IO,
				 "libcurl refused %s: %s", bad_opt, lc.easy_strerror(cc));
	}
	cc = lc.easy_perform(c);
	if (cc == CURLE_OK)
		lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, http);
	lc.easy_cleanup(c);
	if (s.over || cc == CURLE_FILESIZE_EXCEEDED)
		rc = l3af_fail(err, L3AF_E_IO, "GET %s: answer over %zu bytes", url, max);
	else if (cc != CURLE_OK)
		rc = l3af_fail(err, cc == CURLE_OUT_OF_MEMORY ? L3AF_E_NOMEM : L3AF_E_IO,
			       "GET %s: %s", url, ebuf[0] ? ebuf : lc.easy_strerror(cc));
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
