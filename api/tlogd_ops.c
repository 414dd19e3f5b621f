/*
 * tlogd_ops.c - l3af-tlogd's structured logs and its static export thread.
 *
 * Logs: one line per event on stderr, written with one write(2) under a
 * mutex so that lines from server threads never interleave. Text is logfmt
 * (ts=2025-01-02T03:04:05.678Z level=info msg="..." key=value, values quoted
 * when they hold a space, '"', '=' or '\'); JSON is one compact object per
 * line built with jansson.
 *
 * Export: tlog_export is incremental (immutable tiles already present are
 * skipped, the checkpoint is replaced atomically and written last), so the
 * thread simply re-runs it whenever tlog_size changed since the last
 * successful run, at most every interval.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlogd_internal.h"

#define LOG_LINE_MAX 8192

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum tlogd_log_format log_format = TLOGD_LOG_TEXT;

void tlogd_log_set_format(enum tlogd_log_format format)
{
	log_format = format;
}

static void timestamp(char buf[static 64])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000L);
}

/* Append to buf[LOG_LINE_MAX] at *pos, truncating (never overflowing). */
static void put(char *buf, size_t *pos, const char *s, size_t n)
{
	size_t room = *pos < LOG_LINE_MAX - 2 ? LOG_LINE_MAX - 2 - *pos : 0;

	if (n > room)
		n = room;
	memcpy(buf + *pos, s, n);
	*pos += n;
}

static void put_value(char *buf, size_t *pos, const char *v)
{
	bool quote = v[0] == '\0' || strpbrk(v, " \"=\\") != NULL;

	for (const char *p = v; *p && !quote; p++)
		quote = (unsigned char)*p < 0x20 || *p == 0x7f;
	if (!quote) {
		put(buf, pos, v, strlen(v));
		return;
	}
	put(buf, pos, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(buf, pos, esc, 2);
		} else if (*p == '\n') {
			put(buf, pos, "\\n", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			put(buf, pos, esc, 4);
		} else {
			put(buf, pos, (const char *)p, 1);
		}
	}
	put(buf, pos, "\"", 1);
}

static size_t format_text(char *buf, const char *ts, const char *level, const char *msg,
			  const struct tlogd_field *fields, size_t n)
{
	size_t pos = 0;
	char num[24];

	put(buf, &pos, "ts=", 3);
	put(buf, &pos, ts, strlen(ts));
	put(buf, &pos, " level=", 7);
	put(buf, &pos, level, strlen(level));
	put(buf, &pos, " msg=", 5);
	put_value(buf, &pos, msg);
	for (size_t i = 0; i < n; i++) {
		put(buf, &pos, " ", 1);
		put(buf, &pos, fields[i].key, strlen(fields[i].key));
		put(buf, &pos, "=", 1);
		if (fields[i].str) {
			put_value(buf, &pos, fields[i].str);
		} else {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)fields[i].num);
			put(buf, &pos, num, strlen(num));
		}
	}
	buf[pos++] = '\n';
	return pos;
}

/* JSON numbers above 2^53 are not exact in every reader: those go as strings. */
static json_t *json_value(const struct tlogd_field *f)
{
	char num[24];

	if (f->str)
		return json_string(f->str);
	if (f->num <= (UINT64_C(1) << 53))
		return json_integer((json_int_t)f->num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)f->num);
	return json_string(num);
}

static size_t format_json(char *buf, const char *ts, const char *level, const char *msg,
			  const struct tlogd_field *fields, size_t n)
{
	json_t *o = json_object();
	char *text;
	size_t len = 0;

	if (!o)
		return 0;
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "msg", json_string(msg));
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, fields[i].key, json_value(&fields[i]));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!text)
		return 0;
	len = strlen(text);
	if (len <= LOG_LINE_MAX - 1) {
		memcpy(buf, text, len);
		buf[len++] = '\n';
	} else {
		len = 0; /* never a broken JSON line */
	}
	free(text);
	return len;
}

void tlogd_log(const char *level, const char *msg, const struct tlogd_field *fields, size_t n)
{
	char buf[LOG_LINE_MAX], ts[64];
	size_t len;

	timestamp(ts);
	len = log_format == TLOGD_LOG_JSON ? format_json(buf, ts, level, msg, fields, n)
					   : format_text(buf, ts, level, msg, fields, n);
	if (len == 0) /* out of memory or an oversized line: say so in text */
		len = format_text(buf, ts, "error", "log line dropped", NULL, 0);
	pthread_mutex_lock(&log_mu);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(2, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	pthread_mutex_unlock(&log_mu);
}

/* ---- export thread --------------------------------------------------------- */

struct tlogd_exporter {
	struct tlog *log;
	char *dir;
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint64_t exported; /* tree size of the last successful export */
	bool have_exported;
};

static enum l3af_status export_now(struct tlogd_exporter *ex, struct l3af_err *err)
{
	uint64_t size = tlog_size(ex->log);
	enum l3af_status rc = tlog_export(ex->log, ex->dir, err);

	/* The export covers at least `size` (it reads the checkpoint after). */
	if (rc == L3AF_OK) {
		ex->exported = size;
		ex->have_exported = true;
	}
	return rc;
}

static void *export_main(void *arg)
{
	struct tlogd_exporter *ex = arg;
	char last_err[sizeof(((struct l3af_err *)0)->msg)] = "";

	pthread_mutex_lock(&ex->mu);
	while (!ex->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ex->interval_ms / 1000;
		until.tv_nsec += (long)(ex->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!ex->stop && pthread_cond_timedwait(&ex->cv, &ex->mu, &until) != ETIMEDOUT)
			;
		if (ex->stop)
			break;
		if (ex->have_exported && tlog_size(ex->log) == ex->exported)
			continue;
		pthread_mutex_unlock(&ex->mu);
		struct l3af_err err = {0};
		if (export_now(ex, &err) != L3AF_OK) {
			/* Log a failure once until it changes or clears. */
			if (strcmp(err.msg, last_err) != 0)
				TLOGD_LOG("error", "export failed", TLOGD_S("dir", ex->dir),
					  TLOGD_S("error", err.msg));
			snprintf(last_err, sizeof(last_err), "%s", err.msg);
		} else if (last_err[0]) {
			TLOGD_LOG("info", "export recovered", TLOGD_S("dir", ex->dir),
				  TLOGD_U("size", ex->exported));
			last_err[0] = '\0';
		}
		pthread_mutex_lock(&ex->mu);
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

static void exporter_free(struct tlogd_exporter *ex)
{
	pthread_cond_destroy(&ex->cv);
	pthread_mutex_destroy(&ex->mu);
	l3af_free(ex->dir);
	l3af_free(ex);
}

enum l3af_status tlogd_export_start(struct tlog *log, const char *dir, unsigned interval_ms,
				    struct tlogd_exporter **out, struct l3af_err *err)
{
	struct tlogd_exporter *ex = l3af_calloc(1, sizeof(*ex));
	pthread_condattr_t ca;
	enum l3af_status rc;

	if (!ex)
		return l3af_fail(err, L3AF_E_NOMEM, "out of memory");
	ex->log = log;
	ex->interval_ms = interval_ms;
	ex->dir = l3af_malloc(strlen(dir) + 1);
	if (!ex->dir) {
		l3af_free(ex);
		return l3af_fail(err, L3AF_E_NOMEM, "out of memory");
	}
	strcpy(ex->dir, dir);
	pthread_mutex_init(&ex->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = export_now(ex, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "export to %s", dir);
		exporter_free(ex);
		return rc;
	}
	if (pthread_create(&ex->thread, NULL, export_main, ex) != 0) {
		exporter_free(ex);
		return l3af_fail(err, L3AF_E_NOMEM, "cannot start the export thread");
	}
	*out = ex;
	return L3AF_OK;
}

enum l3af_status tlogd_export_stop(struct tlogd_exporter *ex, struct l3af_err *err)
{
	enum l3af_status rc;

	if (!ex)
		return L3AF_OK;
	pthread_mutex_lock(&ex->mu);
	ex->stop = true;
	pthread_cond_signal(&ex->cv);
	pthread_mutex_unlock(&ex->mu);
	pthread_join(ex->thread, NULL);
	rc = export_now(ex, err);
	if (rc != L3AF_OK)
		l3af_err_prefix(err, "final export to %s", ex->dir);
	exporter_free(ex);
	return rc;
}
