/*
 * sequencer.c - group commit. Submitters queue entries and wait (or get a
 * callback); one thread takes everything queued, up to max_batch, appends it
 * in one durable transaction (tlog_append) and then completes each entry.
 * While a batch commits the next one gathers, so the commit rate adapts to
 * load: one entry per fsync when idle, thousands when busy.
 */
#include "tlog_internal.h"

#include <string.h>

struct seq_item {
	struct seq_item *next;
	tlog_seq_done_fn done;
	void *ctx;
	size_t len;
	uint8_t data[];
};

struct tlog_seq {
	struct tlog *log;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct seq_item *head, *tail;
	size_t pending, max_batch, max_pending;
	bool stopping;
	enum l3af_status failed; /* sticky after an I/O or corruption error */
	char failed_msg[L3AF_ERR_MSG_BYTES];
	uint64_t entries, batches;
	/* the batch being committed (sequencer thread only) */
	struct tlog_entry *batch;
	uint64_t *indices;
};

/* Detach up to max_batch items from the queue (lock held). */
static struct seq_item *take_batch(struct tlog_seq *s, size_t *n)
{
	struct seq_item *first = s->head, *last = s->head;
	size_t count = 1;

	while (count < s->max_batch && last->next) {
		last = last->next;
		count++;
	}
	s->head = last->next;
	if (!s->head)
		s->tail = NULL;
	last->next = NULL;
	s->pending -= count;
	*n = count;
	return first;
}

static void commit_batch(struct tlog_seq *s, struct seq_item *items, size_t n)
{
	struct l3af_err err = {0};
	enum l3af_status rc;
	size_t i = 0;

	for (struct seq_item *it = items; it; it = it->next, i++)
		s->batch[i] = (struct tlog_entry){.data = it->data, .len = it->len};
	rc = s->failed ? s->failed : tlog_append(s->log, s->batch, n, s->indices, &err);
	if (rc == L3AF_E_IO || rc == L3AF_E_CORRUPT || rc == L3AF_E_NOMEM) {
		pthread_mutex_lock(&s->lock);
		if (!s->failed) {
			s->failed = L3AF_E_IO;
			memcpy(s->failed_msg, err.msg, sizeof(s->failed_msg));
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (rc == L3AF_OK) {
		pthread_mutex_lock(&s->lock);
		s->entries += n;
		s->batches++;
		pthread_mutex_unlock(&s->lock);
	}
	i = 0;
	for (struct seq_item *it = items, *next; it; it = next, i++) {
		next = it->next;
		it->done(it->ctx, rc, rc == L3AF_OK ? s->indices[i] : 0);
		l3af_free(it);
	}
}

static void *seq_main(void *arg)
{
	struct tlog_seq *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->head)
			break;
		size_t n = 0;
		struct seq_item *items = take_batch(s, &n);
		pthread_mutex_unlock(&s->lock);
		commit_batch(s, items, n);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

enum l3af_status tlog_seq_start(struct tlog *log, size_t max_batch, size_t max_pending,
				struct tlog_seq **out, struct l3af_err *err)
{
	struct tlog_seq *s;

	if (!log->w)
		return l3af_fail(err, L3AF_E_INVALID, "sequencer: the log is not open for writing");
	if (max_batch == 0 || max_pending < max_batch)
		return l3af_fail(err, L3AF_E_INVALID, "sequencer: bad batch limits");
	s = l3af_calloc(1, sizeof(*s));
	if (!s)
		return l3af_fail(err, L3AF_E_NOMEM, "sequencer: out of memory");
	s->log = log;
	s->max_batch = max_batch;
	s->max_pending = max_pending;
	s->batch = l3af_calloc(max_batch, sizeof(*s->batch));
	s->indices = l3af_calloc(max_batch, sizeof(*s->indices));
	if (!s->batch || !s->indices) {
		l3af_free(s->batch), l3af_free(s->indices), l3af_free(s);
		return l3af_fail(err, L3AF_E_NOMEM, "sequencer: out of memory for %zu entries",
				 max_batch);
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	int e = pthread_create(&s->thread, NULL, seq_main, s);
	if (e != 0) {
		pthread_cond_destroy(&s->work);
		pthread_mutex_destroy(&s->lock);
		l3af_free(s->batch), l3af_free(s->indices), l3af_free(s);
		return l3af_fail(err, L3AF_E_IO, "sequencer: cannot start its thread: %s",
				 strerror(e));
	}
	*out = s;
	return L3AF_OK;
}

void tlog_seq_stop(struct tlog_seq *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->work);
	l3af_free(s->batch);
	l3af_free(s->indices);
	l3af_free(s);
}

enum l3af_status tlog_seq_submit(struct tlog_seq *s, const uint8_t *data, size_t len,
				 tlog_seq_done_fn done, void *ctx, struct l3af_err *err)
{
	struct seq_item *it;
	enum l3af_status rc = L3AF_OK;

	if (len == 0 || len > TLOG_ENTRY_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "entry of %zu bytes (1..%d allowed)", len,
				 TLOG_ENTRY_MAX);
	it = l3af_malloc(sizeof(*it) + len);
	if (!it)
		return l3af_fail(err, L3AF_E_NOMEM, "sequencer: out of memory");
	*it = (struct seq_item){.done = done, .ctx = ctx, .len = len};
	memcpy(it->data, data, len);
	pthread_mutex_lock(&s->lock);
	if (s->failed)
		rc = l3af_fail(err, L3AF_E_IO, "log is refusing appends after an error: %s",
			       s->failed_msg);
	else if (s->stopping)
		rc = l3af_fail(err, L3AF_E_BUSY, "log is shutting down");
	else if (s->pending >= s->max_pending)
		rc = l3af_fail(err, L3AF_E_BUSY, "append queue full (%zu entries)", s->pending);
	if (rc == L3AF_OK) {
		if (s->tail)
			s->tail->next = it;
		else
			s->head = it;
		s->tail = it;
		s->pending++;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc != L3AF_OK)
		l3af_free(it);
	return rc;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	enum l3af_status rc;
	uint64_t index;
};

static void wake(void *ctx, enum l3af_status rc, uint64_t index)
{
	struct waiter *w = ctx;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->rc = rc;
	w->index = index;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

enum l3af_status tlog_seq_append(struct tlog_seq *s, const uint8_t *data, size_t len,
				 uint64_t *index, struct l3af_err *err)
{
	struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	enum l3af_status rc = tlog_seq_submit(s, data, len, wake, &w, err);

	if (rc != L3AF_OK)
		return rc;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	if (w.rc != L3AF_OK) {
		pthread_mutex_lock(&s->lock);
		l3af_fail(err, w.rc, "append failed (%s)%s%s", l3af_status_name(w.rc),
			  s->failed_msg[0] ? ": " : "", s->failed_msg);
		pthread_mutex_unlock(&s->lock);
		return w.rc;
	}
	*index = w.index;
	return L3AF_OK;
}

void tlog_seq_stats(struct tlog_seq *s, uint64_t *entries, uint64_t *batches)
{
	pthread_mutex_lock(&s->lock);
	*entries = s->entries;
	*batches = s->batches;
	pthread_mutex_unlock(&s->lock);
}
