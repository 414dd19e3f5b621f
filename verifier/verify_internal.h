/*
 * verify_internal.h - shared by the verifier/ .c files only; not part of
 * libl3af-verify's interface (nothing here is exported).
 */
#ifndef L3AF_VERIFY_INTERNAL_H
#define L3AF_VERIFY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ebpf.h"
#include "l3af.h"
#include "l3af_verify.h"
#include "signer.h"
#include "tlog.h"

/* ---- trust policy (c2sp.org/tlog-policy), trust_policy.c --------------- */
#define LV_POLICY_MAX 32            /* logs, witnesses, groups (spec: >= 32) */
#define LV_POLICY_NAME_MAX 255
#define LV_POLICY_TEXT_MAX (64u << 10)
#define LV_QUORUM_NONE (-1000)

struct lv_group {
	char name[LV_POLICY_NAME_MAX + 1];
	unsigned k;
	size_t n;
	int members[LV_POLICY_MAX];  /* >= 0: witness i; < 0: group -(m + 1) */
};

struct lv_trust {
	size_t nlogs;
	struct signer_vkey logs[LV_POLICY_MAX];
	size_t nwitnesses;
	char wnames[LV_POLICY_MAX][LV_POLICY_NAME_MAX + 1];
	struct signer_vkey witnesses[LV_POLICY_MAX];
	size_t ngroups;
	struct lv_group groups[LV_POLICY_MAX];
	int quorum;                  /* witness, group as in members, or LV_QUORUM_NONE */
	/* Our extension (docs/verifier.md "Admin keys"): `admin <name> <base64
	 * DER SPKI>` and `admin-threshold <k>` lines. admin.nadmins 0: none
	 * configured; admin.origin is filled per check with the log's origin. */
	struct signer_admin_root admin;
	char anames[SIGNER_SET_KEYS_MAX][LV_POLICY_NAME_MAX + 1];
	bool has_admin_threshold;
};

enum l3af_status lv_trust_parse(const char *text, size_t len, bool allow_none,
				struct lv_trust *out, struct l3af_err *err) L3AF_MUST_CHECK;
/* Is the quorum met by the witnesses in mask (bit i: witnesses[i] cosigned)? */
bool lv_trust_quorum(const struct lv_trust *t, uint64_t mask);

/* ---- node policy (JSON), node_policy.c --------------------------------- */
#define LV_NODE_POLICY_MAX (64u << 10)
#define LV_LIST_MAX 1024

struct lv_match {          /* a revoked or yanked artifact */
	bool has_sha256, has_index, has_platform;
	uint8_t sha256[32];
	uint64_t index;
	char name[SIGNER_PKG_NAME_MAX + 1];
	char version[SIGNER_VERSION_MAX + 1];
	char platform[SIGNER_PLATFORM_MAX + 1];
	char reason[128];
};

struct lv_pin {
	char name[SIGNER_PKG_NAME_MAX + 1];
	char platform[SIGNER_PLATFORM_MAX + 1]; /* "" = any platform */
	char version[SIGNER_VERSION_MAX + 1];
};

struct lv_node {
	uint64_t max_age;          /* seconds; 0 = no limit */
	json_t *allowed_types;     /* array of strings; empty = any */
	json_t *denied_helpers;    /* array of strings or integers */
	json_t *denied_kfuncs;     /* array of strings */
	bool allow_tail_calls, allow_user_binaries, allow_native_images;
	size_t npins, nrevoked, nyanked;
	struct lv_pin *pins;
	struct lv_match *revoked, *yanked;
};

void lv_node_defaults(struct lv_node *n);
enum l3af_status lv_node_parse(const char *json, size_t len, struct lv_node *out,
			       struct l3af_err *err) L3AF_MUST_CHECK;
void lv_node_clear(struct lv_node *n);

/* The verified answer extract writes into the directory (file_check.c reads
 * it); a package file of that name is refused by the check (reserved_name). */
#define LV_VERIFIED_NAME ".l3af-verified.json"

/* ---- config and result ------------------------------------------------- */
struct l3af_verify_config {
	bool has_trust, allow_none;
	struct lv_trust trust;
	struct lv_node node;
	char *state_dir;
	int64_t now;
	long timeout_ms;
};

struct lv_reason {
	char code[40];
	char *msg;
	bool undecided;            /* could not decide, rather than deny */
};

struct l3af_verify_result {
	enum l3af_verify_verdict verdict;
	size_t nreasons;
	struct lv_reason *reasons;
	json_t *doc;               /* the JSON answer being built */
	char *json;                /* its text, once finished */
	struct ebpf_pkg *pkg;      /* the verified package (allow only) */
	json_t *manifest;          /* the entry's files array (borrowed into doc) */
};

struct l3af_verify_result *lv_result_new(void);
/* Add a reason; returns L3AF_OK or L3AF_E_NOMEM. */
enum l3af_status lv_deny(struct l3af_verify_result *r, const char *code, const char *fmt, ...)
	L3AF_PRINTF(3, 4);
enum l3af_status lv_undecided(struct l3af_verify_result *r, const char *code, const char *fmt,
			      ...) L3AF_PRINTF(3, 4);
/* Set the verdict from the reasons and render the JSON. */
enum l3af_status lv_result_finish(struct l3af_verify_result *r, struct l3af_err *err)
	L3AF_MUST_CHECK;
/* doc[key] = value (value reference stolen; NULL is a no-memory failure). */
enum l3af_status lv_set(struct l3af_verify_result *r, const char *key, json_t *value);

/* ---- state directory, state.c ------------------------------------------ */
enum l3af_status lv_state_prepare(const char *dir, struct l3af_err *err) L3AF_MUST_CHECK;
/* Exclusive lock on DIR/lock; *fd to pass to lv_state_unlock. */
enum l3af_status lv_state_lock(const char *dir, int *fd, struct l3af_err *err) L3AF_MUST_CHECK;
void lv_state_unlock(int fd);
/* The checkpoint last accepted for origin: *found false if none. note is a
 * new NUL-terminated copy (l3af_free). */
enum l3af_status lv_state_checkpoint_get(const char *dir, const char *origin, bool *found,
					 struct tlog_checkpoint *cp, char **note,
					 struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status lv_state_checkpoint_put(const char *dir, const struct tlog_checkpoint *cp,
					 const char *note, size_t note_len,
					 struct l3af_err *err) L3AF_MUST_CHECK;
/* The highest version accepted for (name, platform), "" if none. */
enum l3af_status lv_state_version_get(const char *dir, const char *name, const char *platform,
				      char out[static SIGNER_VERSION_MAX + 1],
				      struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status lv_state_version_put(const char *dir, const char *name, const char *platform,
				      const char *version, struct l3af_err *err) L3AF_MUST_CHECK;
/* Write STATE/evidence/<kind>-....json (kind "fork" or "inconsistent");
 * *path_out (may be NULL) receives a new string naming it (l3af_free). */
enum l3af_status lv_state_evidence(const char *dir, const char *kind, const char *origin,
				   const char *stored_note,
				   const char *received_note, size_t received_len,
				   const uint8_t (*proof)[TLOG_HASH_BYTES], size_t nproof,
				   const char *why, char **path_out,
				   struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- the checks -------------------------------------------------------- */
/* What the checkpoint and log checks established (check_log.c). */
struct lv_log {
	struct tlog_bundle *b;     /* heap: large */
	bool bundle_ok;            /* parsed */
	bool cp_ok;                /* signed by a trusted log key, origin = key name */
	bool quorum_ok;
	bool included;             /* tlog_bundle_verify passed */
	struct tlog_checkpoint cp;
	size_t cp_note_len;        /* the note: b->proof.checkpoint[0..cp_note_len) */
	unsigned witnesses;        /* distinct trusted witnesses that verified */
	bool has_age;
	uint64_t age;
	bool has_artifact_sha256;  /* artifact_sha256 computed (once per check) */
	uint8_t artifact_sha256[32];
	bool highest_known;        /* highest read from the state (under the lock) */
	char highest[SIGNER_VERSION_MAX + 1];
	char *fetched_bundle;      /* online: the text b points into */
	char *fetched_consistency; /* online: the proof JSON */
	size_t fetched_consistency_len;
	bool proof_tried;          /* online: a proof small..big was fetched before the lock */
	bool proof_failed;         /* ... and the fetch failed (proof_error says why) */
	uint64_t proof_small, proof_big;
	char proof_error[L3AF_ERR_MSG_BYTES];
};

enum l3af_status lv_check_checkpoint(const struct l3af_verify_config *cfg, struct lv_log *lg,
				     struct l3af_verify_result *r, struct l3af_err *err)
	L3AF_MUST_CHECK;
/* Online, before STATE/lock: peek at the stored checkpoint (files are
 * replaced atomically) and fetch the consistency proof it will need, so
 * that no fetch holds the lock. lv_check_consistency then uses it if the
 * stored size did not change meanwhile. */
enum l3af_status lv_prefetch_consistency(const struct l3af_verify_config *cfg,
					 const struct l3af_verify_request *req, struct lv_log *lg,
					 struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status lv_check_consistency(const struct l3af_verify_config *cfg,
				      const struct l3af_verify_request *req, struct lv_log *lg,
				      struct l3af_verify_result *r, struct l3af_err *err)
	L3AF_MUST_CHECK;
/* With admin keys in the trust policy: the key-set entry ks (the one the
 * package names) carries an admin request that verifies under them (no
 * time window: see check_keyset.c) for the log's origin, and its action and
 * params are the entry's; else deny keyset_authorisation. */
enum l3af_status lv_check_keyset_request(const struct l3af_verify_config *cfg,
					 const struct lv_log *lg, const struct signer_entry *ks,
					 struct l3af_verify_result *r,
					 struct l3af_err *err) L3AF_MUST_CHECK;
/* Package entry, artifact, archive and node policy (check_pkg.c). */
enum l3af_status lv_check_package(const struct l3af_verify_config *cfg,
				  const struct l3af_verify_request *req, struct lv_log *lg,
				  struct signer_entry *entry, struct l3af_verify_result *r,
				  struct l3af_err *err) L3AF_MUST_CHECK;
/* Node policy on the entry's recorded facts (check_facts.c). */
enum l3af_status lv_check_facts(const struct lv_node *n, const struct signer_package *pkg,
				struct l3af_verify_result *r) L3AF_MUST_CHECK;
enum l3af_status lv_check_revocation(const struct lv_node *n, const struct signer_package *pkg,
				     uint64_t index, struct l3af_verify_result *r) L3AF_MUST_CHECK;

/* ---- online mode, online.c --------------------------------------------- */
/* Load libcurl.so.4 once; L3AF_E_IO if it is missing or older than 7.85. */
enum l3af_status lv_online_ready(struct l3af_err *err) L3AF_MUST_CHECK;
/* GET url into a new NUL-terminated buffer of at most max bytes. *http
 * receives the status (0 if no answer). L3AF_E_IO: no answer, a transport
 * error, a timeout or over max. */
enum l3af_status lv_http_get(const char *url, size_t max, long timeout_ms, long *http,
			     char **body, size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;

/* Hex of 32 bytes into out[65]. */
void lv_hex32(const uint8_t in[static 32], char out[static 65]);
/* Copy status into a public error buffer, mapping the code. */
enum l3af_verify_status lv_status(enum l3af_status rc, const struct l3af_err *e, char *err);

#endif
