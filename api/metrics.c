/*
 * metrics.c - GET /metrics in the Prometheus text format 0.0.4:
 *
 *   l3af_requests_total{route,status}      answers, by route label and status
 *   l3af_entries_total                     entries in the published tree
 *   l3af_tree_size                         the same, as a gauge
 *   l3af_integration_seconds               histogram: submission -> published
 *                                          and indexed (write routes)
 *   l3af_checkpoint_age_seconds            since this server last published
 *                                          an entry (or started)
 *   l3af_submissions_refused_total{code}   refusals of POST /v1/submit, /v1/admin
 *
 * Label sets are bounded: routes are a fixed list, codes come from the
 * code's own strings, statuses are at most 600 values.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <stdio.h>
#include <string.h>

#define REQ_SLOTS 256
#define CODE_SLOTS 48
static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(BUCKETS) / sizeof(BUCKETS[0]))

struct api_metrics {
	pthread_mutex_t lock;
	struct {
		const char *route;
		unsigned status;
		uint64_t n;
	} req[REQ_SLOTS];
	size_t nreq;
	struct {
		const char *code; /* static strings */
		uint64_t n;
	} refused[CODE_SLOTS];
	size_t nrefused;
	uint64_t bucket[NBUCKETS + 1];
	double sum;
	uint64_t count;
	uint64_t published_ns;
};

static const char *const ROUTES[] = {"/checkpoint", "/tile/", "/healthz", "/metrics",
				     "/v1/submit", "/v1/admin", "/v1/bundle/", "/v1/entry/",
				     "/v1/lookup", "/v1/publishers/", "/v1/proof/"};

const char *api_route_label(const char *url)
{
	for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
		size_t n = strlen(ROUTES[i]);
		bool prefix = ROUTES[i][n - 1] == '/';
		if (!strncmp(url, ROUTES[i], n) && (prefix || url[n] == '\0'))
			return ROUTES[i];
	}
	return "other";
}

enum l3af_status api_metrics_new(struct api_metrics **out, struct l3af_err *err)
{
	struct api_metrics *m = l3af_calloc(1, sizeof(*m));

	if (!m)
		return l3af_fail(err, L3AF_E_NOMEM, "metrics: out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->published_ns = l3af_now_ns();
	*out = m;
	return L3AF_OK;
}

void api_metrics_free(struct api_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	l3af_free(m);
}

void api_metrics_request(struct api_metrics *m, const char *route, unsigned status)
{
	size_t i;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nreq; i++)
		if (m->req[i].route == route && m->req[i].status == status)
			break;
	if (i == m->nreq && i < REQ_SLOTS) {
		m->req[i].route = route;
		m->req[i].status = status;
		m->nreq++;
	}
	if (i < REQ_SLOTS)
		m->req[i].n++;
	pthread_mutex_unlock(&m->lock);
}

void api_metrics_refused(struct api_metrics *m, const char *code)
{
	size_t i;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nrefused; i++)
		if (!strcmp(m->refused[i].code, code))
			break;
	if (i == m->nrefused && i < CODE_SLOTS) {
		m->refused[i].code = code;
		m->nrefused++;
	}
	if (i < CODE_SLOTS)
		m->refused[i].n++;
	pthread_mutex_unlock(&m->lock);
}

void api_metrics_integrated(struct api_metrics *m, uint64_t ns)
{
	double sec = (double)ns / 1e9;
	size_t b = 0;

	pthread_mutex_lock(&m->lock);
	while (b < NBUCKETS && sec > BUCKETS[b])
		b++;
	m->bucket[b]++;
	m->sum += sec;
	m->count++;
	pthread_mutex_unlock(&m->lock);
}

void api_metrics_published(struct api_metrics *m)
{
	pthread_mutex_lock(&m->lock);
	m->published_ns = l3af_now_ns();
	pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer. */
struct buf {
	char *p;
	size_t n, cap;
	bool failed;
};

static void put(struct buf *b, const char *fmt, ...) L3AF_PRINTF(2, 3);
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		if (b->failed)
			return;
		va_start(ap, fmt);
		k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (k < 0) {
			b->failed = true;
			return;
		}
		if (b->p && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
		char *np = l3af_realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void render(struct api_metrics *m, struct buf *b, uint64_t size)
{
	uint64_t cum = 0;

	put(b, "# HELP l3af_requests_total HTTP answers by route and status.\n"
	       "# TYPE l3af_requests_total counter\n");
	for (size_t i = 0; i < m->nreq; i++)
		put(b, "l3af_requests_total{route=\"%s\",status=\"%u\"} %llu\n", m->req[i].route,
		    m->req[i].status, (unsigned long long)m->req[i].n);
	put(b, "# HELP l3af_entries_total Entries in the published tree.\n"
	       "# TYPE l3af_entries_total counter\nl3af_entries_total %llu\n"
	       "# HELP l3af_tree_size Size of the latest published checkpoint.\n"
	       "# TYPE l3af_tree_size gauge\nl3af_tree_size %llu\n",
	    (unsigned long long)size, (unsigned long long)size);
	put(b, "# HELP l3af_integration_seconds From an accepted submission to its entry "
	       "published and indexed.\n# TYPE l3af_integration_seconds histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += m->bucket[i];
		put(b, "l3af_integration_seconds_bucket{le=\"%g\"} %llu\n", BUCKETS[i],
		    (unsigned long long)cum);
	}
	cum += m->bucket[NBUCKETS];
	put(b, "l3af_integration_seconds_bucket{le=\"+Inf\"} %llu\n"
	       "l3af_integration_seconds_sum %.6f\nl3af_integration_seconds_count %llu\n",
	    (unsigned long long)cum, m->sum, (unsigned long long)m->count);
	put(b, "# HELP l3af_checkpoint_age_seconds Seconds since this server last published "
	       "entries (or started).\n# TYPE l3af_checkpoint_age_seconds gauge\n"
	       "l3af_checkpoint_age_seconds %.3f\n",
	    (double)(l3af_now_ns() - m->published_ns) / 1e9);
	put(b, "# HELP l3af_submissions_refused_total Refused write requests by error code.\n"
	       "# TYPE l3af_submissions_refused_total counter\n");
	for (size_t i = 0; i < m->nrefused; i++)
		put(b, "l3af_submissions_refused_total{code=\"%s\"} %llu\n", m->refused[i].code,
		    (unsigned long long)m->refused[i].n);
}

enum MHD_Result api_serve_metrics(struct api_server *s, struct MHD_Connection *c,
				  const char *url)
{
	static const struct body_kind kind = {"text/plain; version=0.0.4; charset=utf-8",
					      "no-store"};
	struct buf b = {0};
	uint64_t size = tlog_size(s->log);

	pthread_mutex_lock(&s->metrics->lock);
	render(s->metrics, &b, size);
	pthread_mutex_unlock(&s->metrics->lock);
	if (b.failed) {
		l3af_free(b.p);
		return api_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				      "out of memory", NULL);
	}
	return api_send_owned(c, MHD_HTTP_OK, &kind, b.p, b.n);
}
