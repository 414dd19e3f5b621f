/*
 * api_internal.h - shared by the files of l3af_api's server: the server
 * core (server.c: routing, start and stop; respond.c: responses; listen.c,
 * watchdog.c: connections), the write side (write.c, publishers.c, post.c,
 * submit.c, admit.c, admin_api.c), the lookup index (index.c), the v1
 * queries (query.c, proof_cache.c) and /metrics (metrics.c). Grouped by the
 * file that defines each declaration. Not installed; not for the CLI.
 */
#ifndef L3AF_API_INTERNAL_H
#define L3AF_API_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "api.h"
#include "ebpf.h"
#include "signer.h"

#define API_DIAG_LINE_MAX 600
#define API_ENVELOPE_MAX (1u << 20)           /* envelope part / admin body */
#define API_DEFAULT_MAX_ARTIFACT (64ull << 20)
#define API_DEFAULT_MAX_BATCH 4096u
#define API_DEFAULT_MAX_PENDING 65536u
#define API_DEFAULT_WRITE_THREADS 64u         /* thread pool when data_dir is set */
#define API_LOOKUP_MAX 1000                    /* rows in one lookup answer */
#define API_MULTIPART_SLACK (64u * 1024)       /* multipart framing over the parts */
#define API_ARTIFACT_MEM_MAX (256u * 1024)     /* artifacts up to this stay in memory */
#define API_PROOF_CACHE_SLOTS 512u             /* tile trees in the proof cache (~8 MiB) */
#define API_DEFAULT_MAX_UPLOADS 64u            /* POST /v1/submit in progress at once */
#define API_DEFAULT_MAX_SPOOL (1ull << 30)     /* bytes spooled in DIR/tmp, all uploads */
#define API_CANDIDATES_MAX 8u                  /* publishers tried for one envelope */

/* Response header sets (respond.c). */
struct body_kind {
	const char *type;
	const char *cache;
};
extern const struct body_kind API_KIND_JSON, API_KIND_TEXT;

/* One open connection, as the slow-header watchdog sees it. */
struct conn {
	struct conn *prev, *next;
	int fd;
	bool cut;                        /* the watchdog already shut it down */
	_Atomic uint64_t idle_since_ns;  /* 0 while a request is being answered */
};

struct api_write;  /* write side state (submit.c, admin_api.c, index.c) */
struct api_metrics; /* counters (metrics.c) */
struct api_proof_cache; /* proof_cache.c */

#define API_KEYS_CACHE_SLOTS 8u /* key-set entries kept for bundles (query.c) */
struct api_keys_slot {
	uint64_t index;
	uint8_t *bytes; /* NULL: empty */
	size_t len;
};

struct api_server {
	struct tlog *log;                /* borrowed */
	struct MHD_Daemon *mhd;
	struct api_config cfg;           /* defaults filled in; listen unused */
	uint64_t timeout_ns;
	uint16_t port;
	struct api_write *w;             /* NULL: read-only server */
	struct api_metrics *metrics;
	struct api_proof_cache *proofs;  /* tile trees for v1 proofs (thread safe) */
	pthread_mutex_t keys_lock;       /* guards keys_cache, keys_next */
	struct api_keys_slot keys_cache[API_KEYS_CACHE_SLOTS];
	unsigned keys_next;
	/* lock guards everything below */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn *conns;
	bool stopping;
	bool watchdog_running;
	pthread_t watchdog;
	bool starting;                   /* collect MHD's first message in start_msg */
	char start_msg[API_DIAG_LINE_MAX];
};

/* ---- server.c: diagnostics (routing, start and stop are api.h's) ---- */
void api_diag(struct api_server *s, const char *fmt, ...) L3AF_PRINTF(2, 3);

/* ---- respond.c: responses ---- */
/* The status of the response this thread queued last (server.c counts it
 * for /metrics and resets it to 0). */
extern _Thread_local unsigned api_last_status;
/* Queue a body allocated with l3af_malloc (freed by MHD). */
enum MHD_Result api_send_owned(struct MHD_Connection *c, unsigned status,
			       const struct body_kind *kind, void *body, size_t len);
enum MHD_Result api_send_copy(struct MHD_Connection *c, unsigned status,
			      const struct body_kind *kind, const char *body, size_t len,
			      const char *allow);
/* {"error":{"code","message"}}; extra (may be NULL) is a JSON object whose
 * members are added at the top level (e.g. "violations"). */
enum MHD_Result api_send_error(struct MHD_Connection *c, unsigned status, const char *code,
			       const char *message, const char *allow);
enum MHD_Result api_send_error_json(struct MHD_Connection *c, unsigned status,
				    const char *code, const char *message,
				    struct json_t *extra);
/* A failed library call: 400/404/503/500 by status (500s go to diag). */
enum MHD_Result api_send_failure(struct api_server *s, struct MHD_Connection *c,
				 const char *url, enum l3af_status rc,
				 const struct l3af_err *err);
/* Compact, sorted JSON document (consumes v). */
enum MHD_Result api_send_json(struct MHD_Connection *c, unsigned status, struct json_t *v);

/* ---- listen.c: listen addresses ---- */
struct sockaddr_storage;
/* "HOST:PORT" / "[V6]:PORT" resolved for bind; *port_out its port. */
enum l3af_status api_listen_resolve(const char *text, struct sockaddr_storage *addr,
				    uint16_t *port_out, struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- watchdog.c: connection tracking and the slow-client watchdog ---- */
/* The tracked connection of c (MHD's socket context), or NULL. */
struct conn *api_conn_of(struct MHD_Connection *c);
/* l3af_now_ns, never 0 (0 marks "a request is being answered"). */
uint64_t api_now_nonzero(void);
/* MHD_OPTION_NOTIFY_CONNECTION: track on STARTED, untrack on CLOSED. */
void api_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode what);
void api_conn_untrack(struct api_server *s, struct conn *k);
/* Start the watchdog thread (stopped by api_server_stop via s->stopping). */
enum l3af_status api_watchdog_start(struct api_server *s, struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- metrics.c ---- */
enum l3af_status api_metrics_new(struct api_metrics **out, struct l3af_err *err);
void api_metrics_free(struct api_metrics *m);
void api_metrics_request(struct api_metrics *m, const char *route, unsigned status);
void api_metrics_refused(struct api_metrics *m, const char *code);
void api_metrics_integrated(struct api_metrics *m, uint64_t ns);
void api_metrics_published(struct api_metrics *m);
enum MHD_Result api_serve_metrics(struct api_server *s, struct MHD_Connection *c,
				  const char *url);
/* The route label of a URL (bounded set, for metrics). */
const char *api_route_label(const char *url);

/* ---- query.c (GET /v1/...) ---- */
enum MHD_Result api_serve_v1_get(struct api_server *s, struct MHD_Connection *c,
				 const char *url);
/* A bundle for entry `index` against the latest checkpoint (l3af_malloc'd). */
enum l3af_status api_bundle_for(struct api_server *s, uint64_t index, char **out,
				size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;
/* The same when the caller knows the entry: keys is the package entry's
 * keys_index, or API_KEYS_NONE for an entry that is not a package
 * (api_bundle_for parses the entry to find out: API_KEYS_UNKNOWN). */
#define API_KEYS_UNKNOWN UINT64_MAX
#define API_KEYS_NONE (UINT64_MAX - 1)
enum l3af_status api_bundle_for_keys(struct api_server *s, uint64_t index, uint64_t keys,
				     char **out, size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;
/* The same when the caller also has the entry's bytes (known, the bytes
 * logged at index: a new entry the server just built), not read again. */
enum l3af_status api_bundle_for_entry(struct api_server *s, uint64_t index, uint64_t keys,
				      const uint8_t *known, size_t known_len, char **out,
				      size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- proof_cache.c: inclusion proofs through a bounded tile-tree cache ---- */
enum l3af_status api_proof_cache_new(struct api_proof_cache **out,
				     struct l3af_err *err) L3AF_MUST_CHECK;
void api_proof_cache_free(struct api_proof_cache *c);
void api_proof_cache_stats(struct api_proof_cache *c, uint64_t *hits, uint64_t *misses);
/* tlog_prove_inclusion's answer (same checks), from s->proofs. */
enum l3af_status api_prove_inclusion(struct api_server *s, uint64_t index, uint64_t size,
				     uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
				     struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- index.c: the lookup index DIR/index.db ---- */
struct api_index;
struct api_pkg_row {
	uint64_t index;
	char name[SIGNER_PKG_NAME_MAX + 1];
	char version[SIGNER_VERSION_MAX + 1];
	char platform[SIGNER_PLATFORM_MAX + 1];
	char publisher[SIGNER_PUBLISHER_MAX + 1];
	char artifact[SIGNER_SUBJECT_NAME_MAX + 1];
	char sha256[65];
};
enum l3af_status api_index_open(const char *dir, struct api_index **out,
				struct l3af_err *err) L3AF_MUST_CHECK;
void api_index_close(struct api_index *ix);
uint64_t api_index_size(struct api_index *ix);
/* Add entries [from .. from+n) (parsed e[i], bytes for leaf hashes) in one
 * transaction; indexed_size becomes max(indexed_size, upto). */
enum l3af_status api_index_begin(struct api_index *ix, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status api_index_add(struct api_index *ix, uint64_t index,
			       const struct signer_entry *e, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status api_index_commit(struct api_index *ix, uint64_t upto,
				  struct l3af_err *err) L3AF_MUST_CHECK;
void api_index_rollback(struct api_index *ix);
/* Lookups: fill rows[0..max), *n found. by: "name" (a, b, c = name, version,
 * platform; b/c may be NULL), "sha256" (a = hex), "program" (a = hex). */
enum l3af_status api_index_lookup(struct api_index *ix, const char *by, const char *a,
				  const char *b, const char *c, struct api_pkg_row *rows,
				  size_t max, size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;
/* Publisher id -> index of its current key-set entry; E_NOTFOUND. */
enum l3af_status api_index_publisher(struct api_index *ix, const char *id, uint64_t *index,
				     struct l3af_err *err) L3AF_MUST_CHECK;
/* Every publisher's current key-set index, via cb. */
enum l3af_status api_index_publishers(struct api_index *ix,
				      enum l3af_status (*cb)(void *ctx, uint64_t index,
							     struct l3af_err *err),
				      void *ctx, struct l3af_err *err) L3AF_MUST_CHECK;
/* Has nonce (32 hex) been used (and not expired before now)? */
enum l3af_status api_index_nonce_used(struct api_index *ix, const char *nonce_hex,
				      int64_t now, bool *used,
				      struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- the write side: shared state (write.c, publishers.c; users submit.c,
 * admin_api.c, post.c) ---- */

/* One entry on its way through the sequencer into the index. */
struct api_ticket {
	struct api_ticket *next;   /* pending list, in submission (= index) order */
	struct api_write *w;
	unsigned refs;             /* the pending list and each waiter */
	bool done, flushed;
	enum l3af_status rc;
	uint64_t index;
	uint64_t t0_ns;            /* when submitted (integration time) */
	uint8_t *entry;
	size_t len;
	enum signer_entry_kind kind;
	/* package key (kind package) or admin nonce (publisher.keys) */
	char name[SIGNER_PKG_NAME_MAX + 1];
	char version[SIGNER_VERSION_MAX + 1];
	char platform[SIGNER_PLATFORM_MAX + 1];
	char sha256[65];
	char nonce[33];
	/* kind package: the entry as parsed (built by the server from the
	 * checked submission), indexed without re-parsing the bytes */
	bool has_parsed;
	struct signer_entry parsed;
	pthread_cond_t cv;         /* its waiters: done, then flushed */
	/* kind publisher.keys: the publisher's state before this entry was
	 * queued, restored if the log refuses it (has_prev false: a
	 * registration, dropped) */
	bool has_prev_pub;
	struct api_pub *prev_pub;  /* l3af_malloc'd copy, or NULL */
	uint8_t leaf[32];          /* leaf hash of this entry */
};

/* A publisher's key set in force for new packages. index_known is false
 * while the entry of this version is queued but not yet indexed: packages
 * of that publisher wait for it (so keys_index is always a real index). */
struct api_pub {
	struct signer_keyset ks;
	uint64_t index;
	bool index_known;
	uint8_t leaf[32];          /* leaf hash of the current version's entry */
	uint64_t gen;              /* changes with every change of this entry */
};

struct api_write {
	struct api_server *s;
	char *dir;
	char *tmp;                 /* DIR/tmp */
	const struct ebpf_policy *policy;
	struct ebpf_policy *own_policy;
	uint64_t max_artifact;
	struct tlog_seq *seq;
	struct api_index *ix;
	/* lock guards everything below (and the admission decisions) */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool has_root;
	struct signer_admin_root root;
	struct api_pub *pubs;
	size_t npubs, cap;
	struct api_ticket *head, *tail;
	bool index_broken;
	bool log_broken;           /* the sequencer refused an entry (sticky) */
	uint64_t gen;              /* last api_pub.gen handed out */
	/* uploads (post.c), atomics outside the lock */
	unsigned max_uploads;
	uint64_t max_spool;
	_Atomic unsigned uploads;
	_Atomic uint64_t spooled;
};

/* ---- write.c: start-up, the sequencer, tickets ---- */
enum l3af_status api_write_start(struct api_server *s, struct l3af_err *err) L3AF_MUST_CHECK;
/* Stop the sequencer (after MHD stopped) and free; NULL-safe. */
void api_write_stop(struct api_write *w);
struct api_index *api_write_index(struct api_write *w);
/* Lock held: queue entry bytes (copied) as a new ticket (kind and key
 * fields from tmpl) and put it on the pending list. */
enum l3af_status api_write_enqueue(struct api_write *w, const struct api_ticket *tmpl,
				   const char *entry, size_t len, struct api_ticket **out,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* Lock held: wait until t is indexed (flushing completed entries), then
 * drop the caller's reference. rc and index of the entry. */
enum l3af_status api_write_wait(struct api_write *w, struct api_ticket *t, uint64_t *index,
				struct l3af_err *err) L3AF_MUST_CHECK;
/* Lock held: wait until p's key set entry is indexed. L3AF_E_IO if the log
 * refuses writes (its entry failed, or an earlier one did). */
enum l3af_status api_write_wait_pub(struct api_write *w, const char *publisher) L3AF_MUST_CHECK;
/* Any write refused because writes are broken: the generic refusal (503). */
bool api_write_broken(struct api_write *w);

/* ---- publishers.c: publishers in memory (lock held) ---- */
struct api_pub *api_write_pub(struct api_write *w, const char *publisher);
/* Lock held: room for one more publisher (call before queueing a
 * registration, so that api_write_pub_set cannot fail after it). */
enum l3af_status api_write_pub_reserve(struct api_write *w, struct l3af_err *err) L3AF_MUST_CHECK;
/* Lock held: the key set ks (entry just queued as ticket t) is in force for
 * new packages; t remembers the previous state for a refusal by the log.
 * Needs api_write_pub_reserve first for a new publisher. */
enum l3af_status api_write_pub_set(struct api_write *w, struct api_ticket *t,
				   const struct signer_keyset *ks,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* Lock held: ks (publisher ks->publisher) is in force, its entry's leaf hash
 * leaf; known: at index (start-up), else queued. Adds a new publisher. */
enum l3af_status api_pub_set(struct api_write *w, const struct signer_keyset *ks,
			     const uint8_t leaf[32], bool known, uint64_t index,
			     struct l3af_err *err) L3AF_MUST_CHECK;
/* Lock held: the log refused publisher.keys ticket t; undo its key set
 * (write.c's flush). */
void api_pub_undo(struct api_write *w, struct api_ticket *t);

/* ---- respond.c: refusals of the write side ---- */
/* A refusal of a POST (counted in l3af_submissions_refused_total). */
enum MHD_Result api_refuse(struct api_server *s, struct MHD_Connection *c, unsigned status,
			   const char *code, const char *message, struct json_t *extra);
/* 503 busy with Retry-After: 1. */
enum MHD_Result api_refuse_busy(struct api_server *s, struct MHD_Connection *c,
				const char *message);

/* ---- post.c: per-request state of a POST ---- */
struct api_post;
/* First call of a POST to /v1/submit or /v1/admin: checks the headers and
 * either answers (*post stays NULL) or creates *post. */
enum MHD_Result api_post_begin(struct api_server *s, struct MHD_Connection *c,
			       const char *url, struct api_post **post);
enum MHD_Result api_post_data(struct api_server *s, struct api_post *p, const char *data,
			      size_t *size);
enum MHD_Result api_post_finish(struct api_server *s, struct MHD_Connection *c,
				struct api_post *p);
void api_post_free(struct api_post *p);

/* ---- admin_api.c: POST /v1/admin with the whole body ---- */
enum MHD_Result api_admin_finish(struct api_server *s, struct MHD_Connection *c,
				 const char *body, size_t len);

/* ---- admit.c: the admission work without HTTP or storage ---- */

/* A refusal decided while checking: HTTP status, error code, message. */
struct api_verdict {
	unsigned status;
	const char *code;
	struct l3af_err err;
};
bool api_verdict_refuse(struct api_verdict *v, unsigned status, const char *code,
			const char *fmt, ...) L3AF_PRINTF(4, 5);

/* One submission while it is checked (zero it first; api_admission_clear).
 * Order (docs/api.md "Which refusal"): api_admit_parse, then for a key set
 * api_admit_sign (authentication), api_admit_subject, api_admit_package,
 * api_admit_verify (the complete signer_package_verify), api_admit_entry. */
struct api_admission {
	struct json_t *env, *files, *objects, *violations;
	struct signer_statement st;     /* from the verified payload */
	bool have_st;
	struct ebpf_pkg *pkg;
	struct ebpf_object **objs;
	size_t nobjs;
	struct signer_package cand;     /* json members borrowed from above */
	/* before authentication: the package name of the (unverified)
	 * payload, "" if it does not decode (standard base64) or parse;
	 * computed by api_admit_hint only when needed (an unnamed signature,
	 * or to word a refusal) */
	char hint[SIGNER_PKG_NAME_MAX + 1];
	bool hint_done;
	bool empty_keyid;               /* a signature without keyid */
	/* submit.c: the key set it was authenticated under (a copy) */
	struct signer_keyset *ks;
	uint64_t gen;
	bool authenticated;
	struct api_verdict early;       /* refusal found while authenticating */
};
void api_admission_clear(struct api_admission *u);
/* The envelope JSON (strict), artifact name, hint. false: *v says. */
bool api_admit_parse(struct api_admission *u, const char *envelope, size_t envelope_len,
		     const char *artifact_name, struct api_verdict *v);
/* u->hint from the envelope's payload (once; after api_admit_parse). */
void api_admit_hint(struct api_admission *u);
/* DSSE under ks (threshold, keys), payloadType, then (once) the statement
 * and predicate from the verified payload, and the namespace. */
bool api_admit_sign(struct api_admission *u, const struct signer_keyset *ks,
		    uint64_t keys_index, struct api_verdict *v);
/* sha256(art) and the artifact name against the statement's subject. */
bool api_admit_subject(struct api_admission *u, const uint8_t *art, uint64_t art_size,
		       struct api_verdict *v);
/* The archive, its ELF objects, manifest and policy (violations in u). */
bool api_admit_package(struct api_admission *u, const struct ebpf_policy *policy,
		       const uint8_t *art, uint64_t art_size, struct api_verdict *v);
/* signer_package_verify under ks (publisher and keys_index set in u->cand). */
bool api_admit_verify(struct api_admission *u, const struct signer_keyset *ks,
		      uint64_t keys_index, struct api_verdict *v);
/* The entry bytes (l3af_malloc'd) and, if parsed is not NULL, their parsed
 * form (owned: signer_entry_clear). */
bool api_admit_entry(struct api_admission *u, char **entry, size_t *len,
		     struct signer_entry *parsed, struct api_verdict *v);
/* All of them, as one submission under a known key set (the bench baseline). */
bool api_admit(struct api_admission *u, const struct ebpf_policy *policy,
	       const struct signer_keyset *ks, uint64_t keys_index, const char *envelope,
	       size_t envelope_len, const uint8_t *art, uint64_t art_size,
	       const char *artifact_name, char **entry, size_t *len, struct api_verdict *v);

/* ---- submit.c: under the write lock (publisher choice, uniqueness, queueing) ---- */
/* Authentication (parse, publisher choice, signature) of u; run
 * by post.c as soon as the envelope part is complete, before any byte of
 * the artifact is kept. false: u->early says why. */
bool api_submit_auth(struct api_server *s, struct api_admission *u, const char *envelope,
		     size_t envelope_len, const char *artifact_name);

/* The package checks of a complete submission; the artifact is
 * artifact_mem (not NULL) or else in the file artifact_fd. */
enum MHD_Result api_submit_finish(struct api_server *s, struct MHD_Connection *c,
				  struct api_admission *u, const char *envelope, size_t envelope_len,
				  const uint8_t *artifact_mem, int artifact_fd,
				  uint64_t artifact_size, const char *artifact_name);

#endif
