/*
 * watchdog.c - the slow-client watchdog of the HTTP server (moved from
 * server.c): every connection is tracked (struct conn, in s->conns under
 * s->lock) from libmicrohttpd's STARTED to its CLOSED notification; a thread
 * shuts down any connection that has not delivered a complete request header
 * within timeout_s of opening or of its last response. libmicrohttpd's own
 * timeout only fires on silence, so it would let a client that sends one
 * byte a second hold a connection forever.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- connection tracking (the slow-header watchdog's view) ----------------- */

struct conn *api_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

uint64_t api_now_nonzero(void)
{
	uint64_t t = l3af_now_ns();

	return t ? t : 1;
}

static void conn_track(struct api_server *s, struct MHD_Connection *c, void **slot)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct conn *k;

	if (!info)
		return;
	k = l3af_calloc(1, sizeof(*k));
	if (!k) {
		/* Untracked connections could hold a slot forever: refuse. */
		api_diag(s, "connection refused: out of memory");
		shutdown(info->connect_fd, SHUT_RDWR);
		return;
	}
	k->fd = info->connect_fd;
	atomic_store(&k->idle_since_ns, api_now_nonzero());
	pthread_mutex_lock(&s->lock);
	k->next = s->conns;
	if (s->conns)
		s->conns->prev = k;
	s->conns = k;
	pthread_mutex_unlock(&s->lock);
	*slot = k;
}

/* MHD calls CLOSED before it closes the socket, so while k is in the list
 * (under the lock) its fd is still this connection's. */
void api_conn_untrack(struct api_server *s, struct conn *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&s->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&s->lock);
	l3af_free(k);
}

void api_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode what)
{
	struct api_server *s = cls;

	if (what == MHD_CONNECTION_NOTIFY_STARTED) {
		conn_track(s, c, socket_context);
		return;
	}
	api_conn_untrack(s, *socket_context);
	*socket_context = NULL;
}

/* Shut down connections idle past the deadline; caller holds s->lock. */
static void cut_late(struct api_server *s, uint64_t now)
{
	for (struct conn *k = s->conns; k; k = k->next) {
		uint64_t since = atomic_load(&k->idle_since_ns);
		/* since > now: the connection went idle after we read the clock */
		if (since == 0 || k->cut || since >= now || now - since <= s->timeout_ns)
			continue;
		/* MHD sees end of stream and closes the connection itself. */
		shutdown(k->fd, SHUT_RDWR);
		k->cut = true;
	}
}

static void *watchdog_main(void *arg)
{
	struct api_server *s = arg;
	uint64_t tick = s->timeout_ns / 4;

	if (tick > 1000000000ull)
		tick = 1000000000ull;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec at;
		cut_late(s, l3af_now_ns());
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += (time_t)(tick / 1000000000ull);
		at.tv_nsec += (long)(tick % 1000000000ull);
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &at);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

enum l3af_status api_watchdog_start(struct api_server *s, struct l3af_err *err)
{
	int e = pthread_create(&s->watchdog, NULL, watchdog_main, s);

	if (e != 0)
		return l3af_fail(err, L3AF_E_IO, "server: start watchdog thread: %s", strerror(e));
	s->watchdog_running = true;
	return L3AF_OK;
}
