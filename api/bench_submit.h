/*
 * bench_submit.h - shared by the files of l3af-tlog bench submit:
 * bench_submit.c (the server, the clients, the report) and bench_prepare.c
 * (the packages and the in-process admission baseline).
 */
#ifndef L3AF_BENCH_SUBMIT_H
#define L3AF_BENCH_SUBMIT_H

#include <limits.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "client.h"

/* One signed package, in memory. */
struct bench_pkg {
	char *env;
	size_t env_len;
	uint8_t *art;
	size_t art_len;
};

struct bench {
	char work[256], data[300], exe_dir[PATH_MAX], url[64];
	unsigned port;
	pid_t server;
	struct signer_privkey *key;     /* the publisher's */
	const char *name, *artifact;    /* package name, artifact name */
	struct bench_pkg *pkgs;
	size_t npkgs;
	_Atomic size_t next;            /* next package a client takes */
	uint64_t deadline_ns;
};

struct bench_result {
	double seconds, p50_ms, p99_ms, inproc_per_s;
	uint64_t admitted, existing, failed;
	unsigned inproc_threads;
};

/* Make the publisher key and n distinct signed packages of object. */
int bench_prepare(struct bench *b, const char *object, unsigned n, const char *name,
		  const char *artifact, const char *platform);
/* The admission work on every package, on all cores, for >= 2 s. */
int bench_inprocess(struct bench *b, struct bench_result *res);
void bench_free(struct bench *b);

#endif
