/*
 * write.c - the write side's core: start-up (admin root, lookup index
 * catch-up, publishers), the sequencer, and tickets. The publishers in
 * memory are in publishers.c, the refusals (api_refuse*) in respond.c.
 *
 * Admission (submit.c, admin_api.c) runs under w->lock: the uniqueness and
 * replay checks, the key set a package is checked under, and the
 * tlog_seq_submit that fixes the entry's place in the log all happen in one
 * critical section, so sequencer order (= index order) agrees with the
 * decisions. Each accepted entry gets a ticket on the pending list; the
 * sequencer's callback marks it done; the request thread then waits for its
 * ticket to be indexed: the first waiter that finds completed tickets at the
 * head of the list writes all of them to index.db in one transaction
 * ("flush") and wakes the others. An entry stays on the pending list until
 * it is in the index, so a resubmission always finds it in one or the other.
 *
 * A request thread blocks while its entry is committed (one group commit,
 * a few ms); the server gets API_DEFAULT_WRITE_THREADS threads for that
 * (docs/api.md "Limits").
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CATCHUP_CHUNK 1000

bool api_write_broken(struct api_write *w)
{
	return w->index_broken || w->log_broken;
}

/* ---- waiting for a publisher's key set ---- */

static void flush(struct api_write *w);

/* Wait on cv for a wake-up or 50 ms, whichever comes first: the timeout is
 * only a safety net (entries complete in list order and their flush wakes
 * the waiters). */
static void wait_a_little(pthread_cond_t *cv, pthread_mutex_t *lock)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cv, lock, &ts);
}

enum l3af_status api_write_wait_pub(struct api_write *w, const char *publisher)
{
	struct api_pub *p;

	while ((p = api_write_pub(w, publisher)) && !p->index_known) {
		if (w->log_broken)
			return L3AF_E_IO;
		if (w->head && w->head->done) {
			flush(w); /* whoever queued it may be gone */
			continue;
		}
		wait_a_little(&w->cv, &w->lock);
	}
	return w->log_broken ? L3AF_E_IO : L3AF_OK;
}

/* ---- tickets ---- */

static void ticket_unref(struct api_ticket *t)
{
	if (--t->refs)
		return;
	if (t->has_parsed)
		signer_entry_clear(&t->parsed);
	l3af_free(t->prev_pub);
	pthread_cond_destroy(&t->cv);
	l3af_free(t->entry);
	l3af_free(t);
}

static void on_done(void *ctx, enum l3af_status rc, uint64_t index)
{
	struct api_ticket *t = ctx;
	struct api_write *w = t->w;

	pthread_mutex_lock(&w->lock);
	t->rc = rc;
	t->index = index;
	t->done = true;
	/* only this entry's waiters: one of them flushes (no herd per entry) */
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&w->lock);
}

enum l3af_status api_write_enqueue(struct api_write *w, const struct api_ticket *tmpl,
				   const char *entry, size_t len, struct api_ticket **out,
				   struct l3af_err *err)
{
	struct api_ticket *t = l3af_calloc(1, sizeof(*t));
	enum l3af_status rc;

	if (!t)
		return l3af_fail(err, L3AF_E_NOMEM, "submit: out of memory");
	*t = *tmpl;
	t->next = NULL;
	t->refs = 2; /* the pending list and the caller */
	t->has_parsed = false;
	t->has_prev_pub = false;
	t->prev_pub = NULL;
	tlog_hash_leaf((const uint8_t *)entry, len, t->leaf);
	pthread_cond_init(&t->cv, NULL);
	t->done = t->flushed = false;
	t->t0_ns = l3af_now_ns();
	t->entry = l3af_malloc(len);
	if (!t->entry) {
		pthread_cond_destroy(&t->cv);
		l3af_free(t);
		return l3af_fail(err, L3AF_E_NOMEM, "submit: out of memory");
	}
	memcpy(t->entry, entry, len);
	t->len = len;
	t->w = w;
	rc = tlog_seq_submit(w->seq, (const uint8_t *)entry, len, on_done, t, err);
	if (rc == L3AF_E_IO && !w->log_broken) {
		w->log_broken = true;
		api_diag(w->s, "log: %s; writes are refused until a restart", err->msg);
	}
	if (rc != L3AF_OK) {
		pthread_cond_destroy(&t->cv);
		l3af_free(t->entry);
		l3af_free(t);
		return rc;
	}
	if (w->tail)
		w->tail->next = t;
	else
		w->head = t;
	w->tail = t;
	*out = t;
	return L3AF_OK;
}

/* Index the completed tickets at the head of the pending list in one
 * transaction and release them. Lock held. */
static void flush(struct api_write *w)
{
	struct api_ticket *t, *end = w->head;
	struct l3af_err err = {0};
	enum l3af_status rc = L3AF_OK;
	uint64_t upto = 0;

	while (end && end->done)
		end = end->next;
	if (end == w->head)
		return;
	if (!w->index_broken)
		rc = api_index_begin(w->ix, &err);
	for (t = w->head; t != end && rc == L3AF_OK && !w->index_broken; t = t->next) {
		struct signer_entry e = {0};
		if (t->rc != L3AF_OK)
			continue;
		if (t->has_parsed) /* built by this server: no need to parse the bytes */
			rc = api_index_add(w->ix, t->index, &t->parsed, &err);
		else if ((rc = signer_entry_parse(t->entry, t->len, &e, &err)) == L3AF_OK)
			rc = api_index_add(w->ix, t->index, &e, &err);
		signer_entry_clear(&e);
		if (t->index + 1 > upto)
			upto = t->index + 1;
		if (rc != L3AF_OK)
			api_index_rollback(w->ix);
	}
	if (rc == L3AF_OK && !w->index_broken)
		rc = api_index_commit(w->ix, upto, &err);
	if (rc != L3AF_OK && !w->index_broken) {
		/* The log has the entries; the index is rebuilt at the next start. */
		w->index_broken = true;
		api_diag(w->s, "index.db: %s; writes are refused until a restart", err.msg);
	}
	while (w->head != end) {
		t = w->head;
		w->head = t->next;
		if (t->rc != L3AF_OK && !w->log_broken) {
			w->log_broken = true;
			api_diag(w->s, "log: an append failed (%s); writes are refused until a "
				 "restart", l3af_status_name(t->rc));
		}
		if (t->kind == SIGNER_ENTRY_PUBLISHER_KEYS && t->rc != L3AF_OK)
			api_pub_undo(w, t);
		if (t->kind == SIGNER_ENTRY_PUBLISHER_KEYS && t->rc == L3AF_OK) {
			/* its publisher's key set now has a real index */
			for (size_t i = 0; i < w->npubs; i++) {
				struct api_pub *p = &w->pubs[i];
				if (!p->index_known && !memcmp(t->leaf, p->leaf, 32)) {
					p->index = t->index;
					p->index_known = true;
					p->gen = ++w->gen;
				}
			}
		}
		if (t->rc == L3AF_OK)
			api_metrics_integrated(w->s->metrics, l3af_now_ns() - t->t0_ns);
		t->flushed = true;
		pthread_cond_broadcast(&t->cv);
		ticket_unref(t);
	}
	if (!w->head)
		w->tail = NULL;
	api_metrics_published(w->s->metrics);
	pthread_cond_broadcast(&w->cv);
}

enum l3af_status api_write_wait(struct api_write *w, struct api_ticket *t, uint64_t *index,
				struct l3af_err *err)
{
	enum l3af_status rc;

	while (!t->flushed) {
		if (t->done && w->head && w->head->done) {
			flush(w);
		} else {
			/* woken by on_done(t) or by the flush of t */
			wait_a_little(&t->cv, &w->lock);
		}
	}
	rc = t->rc;
	*index = t->index;
	if (rc != L3AF_OK)
		rc = l3af_fail(err, rc, "the log refused the entry (%s)", l3af_status_name(rc));
	ticket_unref(t);
	return rc;
}

/* ---- start-up ---- */

static enum l3af_status read_entry(struct tlog *log, uint64_t i, struct signer_entry *e,
				   uint8_t **bytes, size_t *len, struct l3af_err *err)
{
	enum l3af_status rc = tlog_entry_read(log, i, bytes, len, err);

	if (rc == L3AF_OK)
		rc = signer_entry_parse(*bytes, *len, e, err);
	if (rc != L3AF_OK)
		l3af_err_prefix(err, "entry %llu", (unsigned long long)i);
	return rc;
}

static enum l3af_status load_root(struct api_write *w, struct l3af_err *err)
{
	struct signer_entry e = {0};
	uint8_t *bytes = NULL;
	size_t len = 0;
	enum l3af_status rc;

	if (tlog_size(w->s->log) == 0)
		return L3AF_OK; /* writes answer 503 "no admin root" */
	rc = read_entry(w->s->log, 0, &e, &bytes, &len, err);
	if (rc == L3AF_OK && e.kind != SIGNER_ENTRY_ADMIN_ROOT)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "entry 0 of the log is a %s entry, not admin.root",
			       signer_entry_kind_name(e.kind));
	if (rc == L3AF_OK && strcmp(e.root.origin, tlog_origin(w->s->log)) != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "entry 0 (admin.root) names origin '%s', the log is '%s'",
			       e.root.origin, tlog_origin(w->s->log));
	if (rc == L3AF_OK) {
		w->root = e.root;
		w->has_root = true;
	} else if (rc == L3AF_E_INVALID) {
		rc = L3AF_E_CORRUPT;
	}
	signer_entry_clear(&e);
	l3af_free(bytes);
	return rc;
}

/* Index entries [indexed_size, log size) in chunks. */
static enum l3af_status catch_up(struct api_write *w, struct l3af_err *err)
{
	uint64_t size = tlog_size(w->s->log), i = api_index_size(w->ix), skipped = 0;
	enum l3af_status rc = L3AF_OK;

	while (rc == L3AF_OK && i < size) {
		uint64_t end = size - i > CATCHUP_CHUNK ? i + CATCHUP_CHUNK : size;
		rc = api_index_begin(w->ix, err);
		for (; rc == L3AF_OK && i < end; i++) {
			struct signer_entry e = {0};
			struct l3af_err perr = {0};
			uint8_t *bytes = NULL;
			size_t len = 0;
			rc = tlog_entry_read(w->s->log, i, &bytes, &len, err);
			if (rc == L3AF_OK && signer_entry_parse(bytes, len, &e, &perr) != L3AF_OK) {
				/* Not an entry this service writes (e.g. appended by
				 * `l3af-tlog bench append`): nothing to look up. The
				 * index is lookup data only; monitors judge entries. */
				if (++skipped <= 3)
					api_diag(w->s, "entry %llu is not a v1 entry, not indexed: %s",
						 (unsigned long long)i, perr.msg);
				signer_entry_clear(&e);
				l3af_free(bytes);
				continue;
			}
			if (rc == L3AF_OK)
				rc = api_index_add(w->ix, i, &e, err);
			signer_entry_clear(&e);
			l3af_free(bytes);
			if (rc != L3AF_OK)
				api_index_rollback(w->ix);
		}
		if (rc == L3AF_OK)
			rc = api_index_commit(w->ix, end, err);
	}
	if (skipped > 3)
		api_diag(w->s, "%llu entries in all are not v1 entries and were not indexed",
			 (unsigned long long)skipped);
	return rc;
}

static enum l3af_status load_pub(void *ctx, uint64_t index, struct l3af_err *err)
{
	struct api_write *w = ctx;
	struct signer_entry e = {0};
	uint8_t *bytes = NULL;
	size_t len = 0;
	enum l3af_status rc = read_entry(w->s->log, index, &e, &bytes, &len, err);

	if (rc == L3AF_OK && e.kind != SIGNER_ENTRY_PUBLISHER_KEYS)
		rc = l3af_fail(err, L3AF_E_CORRUPT, "index.db: entry %llu is not publisher.keys",
			       (unsigned long long)index);
	if (rc == L3AF_OK) {
		uint8_t leaf[32];
		tlog_hash_leaf(bytes, len, leaf);
		rc = api_pub_set(w, &e.keyset, leaf, true, index, err);
	}
	signer_entry_clear(&e);
	l3af_free(bytes);
	return rc;
}

static void remove_index_files(const char *dir)
{
	static const char *const names[] = {"index.db", "index.db-wal", "index.db-shm"};
	char path[4200];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

static enum l3af_status open_index(struct api_write *w, struct l3af_err *err)
{
	enum l3af_status rc = api_index_open(w->dir, &w->ix, err);

	if (rc == L3AF_OK && api_index_size(w->ix) > tlog_size(w->s->log)) {
		/* Ahead of the log: not this log's index. Rebuild. */
		api_diag(w->s, "index.db is ahead of the log; rebuilding it");
		api_index_close(w->ix);
		w->ix = NULL;
		remove_index_files(w->dir);
		rc = api_index_open(w->dir, &w->ix, err);
	}
	return rc;
}

static enum l3af_status write_new(struct api_server *s, struct api_write **out,
				  struct l3af_err *err)
{
	struct api_write *w = l3af_calloc(1, sizeof(*w));

	if (!w)
		return l3af_fail(err, L3AF_E_NOMEM, "server: out of memory");
	w->s = s;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	*out = w;
	if (asprintf(&w->dir, "%s", s->cfg.data_dir) < 0 ||
	    asprintf(&w->tmp, "%s/tmp", s->cfg.data_dir) < 0) {
		w->dir = w->tmp = NULL;
		return l3af_fail(err, L3AF_E_NOMEM, "server: out of memory");
	}
	w->max_artifact = s->cfg.max_artifact_bytes ? s->cfg.max_artifact_bytes
						    : API_DEFAULT_MAX_ARTIFACT;
	w->max_uploads = s->cfg.max_uploads ? s->cfg.max_uploads : API_DEFAULT_MAX_UPLOADS;
	w->max_spool = s->cfg.max_spool_bytes ? s->cfg.max_spool_bytes : API_DEFAULT_MAX_SPOOL;
	w->policy = s->cfg.policy;
	if (!w->policy) {
		w->own_policy = ebpf_policy_default();
		if (!w->own_policy)
			return l3af_fail(err, L3AF_E_NOMEM, "server: out of memory");
		w->policy = w->own_policy;
	}
	if (mkdir(w->tmp, 0700) != 0 && errno != EEXIST)
		return l3af_fail(err, L3AF_E_IO, "mkdir %s: %s", w->tmp, strerror(errno));
	return L3AF_OK;
}

enum l3af_status api_write_start(struct api_server *s, struct l3af_err *err)
{
	struct api_write *w = NULL;
	enum l3af_status rc = write_new(s, &w, err);

	s->w = w;
	if (rc == L3AF_OK)
		rc = load_root(w, err);
	if (rc == L3AF_OK)
		rc = open_index(w, err);
	if (rc == L3AF_OK)
		rc = catch_up(w, err);
	if (rc == L3AF_OK)
		rc = api_index_publishers(w->ix, load_pub, w, err);
	if (rc == L3AF_OK)
		rc = tlog_seq_start(s->log, s->cfg.max_batch ? s->cfg.max_batch : API_DEFAULT_MAX_BATCH,
				    s->cfg.max_pending ? s->cfg.max_pending
						       : API_DEFAULT_MAX_PENDING,
				    &w->seq, err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "server: data directory %s", s->cfg.data_dir);
		api_write_stop(w);
		s->w = NULL;
	}
	return rc;
}

void api_write_stop(struct api_write *w)
{
	if (!w)
		return;
	/* Every acknowledged entry is durable before this returns; entries
	 * whose clients are gone are committed too (and indexed at the next
	 * start's catch-up). */
	tlog_seq_stop(w->seq);
	pthread_mutex_lock(&w->lock);
	flush(w);
	while (w->head) { /* failed entries (the sequencer refused them) */
		struct api_ticket *t = w->head;
		w->head = t->next;
		ticket_unref(t);
	}
	pthread_mutex_unlock(&w->lock);
	api_index_close(w->ix);
	ebpf_policy_free(w->own_policy);
	l3af_free(w->pubs);
	free(w->dir);
	free(w->tmp);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	l3af_free(w);
}

struct api_index *api_write_index(struct api_write *w)
{
	return w->ix;
}
