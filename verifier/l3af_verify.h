/*
 * l3af_verify.h - libl3af-verify: what an agent (L3AF's l3afd) runs before it
 * loads an eBPF package. The one public header of the verifier; the CLI
 * l3af-verify is a thin main over it. Contracts: docs/verifier.md.
 *
 * A check proves that the artifact bytes are the ones a package entry in a
 * transparency log names, that the entry is in the log under a checkpoint
 * signed by a trusted log key and cosigned by the witness quorum of a
 * c2sp.org/tlog-policy file, that the publisher's key set in force signed
 * it, that the log is consistent with what this node saw before (a state
 * directory), and that the archive and its programs meet the node policy.
 * Every failing check is reported, not just the first.
 *
 * Conventions: functions return enum l3af_verify_status (0 = ok) and take a
 * caller buffer err[L3AF_VERIFY_ERR_BYTES] (may be NULL) that receives a
 * message on failure. A verdict is not a status: a check that ran returns
 * L3AF_VERIFY_OK and its result says allow, deny or undecided. The library
 * never prints and never exits.
 *
 * Thread safety: a config is read-only once set up; any number of threads
 * may run l3af_verify_check on one config at once. Updates of the state
 * directory are serialised by a lock file (STATE/lock, flock), also between
 * processes. Results are owned by their caller; distinct results may be used
 * concurrently.
 */
#ifndef L3AF_VERIFY_H
#define L3AF_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(L3AF_VERIFY_BUILDING) && defined(__GNUC__)
#define L3AF_VERIFY_API __attribute__((visibility("default")))
#else
#define L3AF_VERIFY_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define L3AF_VERIFY_ERR_BYTES 512

enum l3af_verify_status {
	L3AF_VERIFY_OK = 0,
	L3AF_VERIFY_E_CONFIG = 1,   /* bad argument, policy or state directory */
	L3AF_VERIFY_E_IO = 2,       /* a file could not be read or written */
	L3AF_VERIFY_E_NOMEM = 3,
	L3AF_VERIFY_E_REFUSED = 4,  /* extract: the result does not allow */
	L3AF_VERIFY_E_INTERNAL = 5,
};

/* Verdicts; the values are l3af-verify's exit codes. */
enum l3af_verify_verdict {
	L3AF_VERIFY_ALLOW = 0,
	L3AF_VERIFY_DENY = 1,
	L3AF_VERIFY_UNDECIDED = 3,  /* could not decide: log unreachable, no fresh checkpoint */
};

/* Trust configuration and node policy (opaque). */
struct l3af_verify_config;

L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_config_new(struct l3af_verify_config **out, char *err);
/* NULL is fine. */
L3AF_VERIFY_API void l3af_verify_config_free(struct l3af_verify_config *cfg);
/* The trust policy, c2sp.org/tlog-policy text (log, witness, group, quorum
 * lines). "quorum none" is refused unless allow_no_witnesses was set first
 * (a development flag). Required before a check. */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_config_trust_policy(struct l3af_verify_config *cfg, const char *text, size_t len,
				char *err);
/* The node policy, a JSON object (docs/verifier.md). Optional: without it,
 * the defaults apply. */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_config_node_policy(struct l3af_verify_config *cfg, const char *json, size_t len,
			       char *err);
/* The state directory (created 0700 if missing; must be owned by this user
 * and not writable by group or others). Required before a check. */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_config_state_dir(struct l3af_verify_config *cfg, const char *dir, char *err);
/* Development only: accept "quorum none" policies. */
L3AF_VERIFY_API void l3af_verify_config_allow_no_witnesses(struct l3af_verify_config *cfg,
							   bool allow);
/* Fix "now" (POSIX seconds) for checkpoint age; 0 = the wall clock (tests). */
L3AF_VERIFY_API void l3af_verify_config_set_time(struct l3af_verify_config *cfg, int64_t now);
/* Online mode: per-request timeout in milliseconds (default 10000). */
L3AF_VERIFY_API void l3af_verify_config_set_timeout(struct l3af_verify_config *cfg,
						    long timeout_ms);

/* One verification request. All pointers are borrowed for the call. Zero
 * the struct before filling it: fields may be added at the end. */
struct l3af_verify_request {
	const char *name;          /* package name the agent asked for */
	const char *version;
	const char *platform;      /* "os/arch[/distro]" */
	const char *file_name;     /* artifact file name, e.g. l3af_x.tar.gz */
	const uint8_t *artifact;   /* the artifact bytes */
	size_t artifact_len;
	const char *bundle;        /* offline: bundle text (docs/formats.md 8) */
	size_t bundle_len;
	const char *consistency;   /* optional: consistency proof JSON (offline) */
	size_t consistency_len;
	const char *log_url;       /* online (bundle NULL): the log's base URL */
};

/* A verification result (opaque). */
struct l3af_verify_result;

/* Run every check. L3AF_VERIFY_OK means the checks ran and *out holds the
 * verdict (which may be deny or undecided); anything else is a usage or
 * configuration error and *out is NULL. */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_check(const struct l3af_verify_config *cfg, const struct l3af_verify_request *req,
		  struct l3af_verify_result **out, char *err);
L3AF_VERIFY_API enum l3af_verify_verdict
l3af_verify_result_verdict(const struct l3af_verify_result *res);
/* The result as one compact JSON object (no newline), borrowed. */
L3AF_VERIFY_API const char *l3af_verify_result_json(const struct l3af_verify_result *res);
L3AF_VERIFY_API size_t l3af_verify_result_nreasons(const struct l3af_verify_result *res);
/* Reason i: returns its code ("artifact_digest", ...), *message its text;
 * NULL if i is out of range. Borrowed. */
L3AF_VERIFY_API const char *l3af_verify_result_reason(const struct l3af_verify_result *res,
						      size_t i, const char **message);
/* Does the result hold reason `code`? */
L3AF_VERIFY_API bool l3af_verify_result_has(const struct l3af_verify_result *res,
					    const char *code);
/* NULL is fine. */
L3AF_VERIFY_API void l3af_verify_result_free(struct l3af_verify_result *res);

/*
 * Unpack an allowed result's package into a new directory `dir` (refused if
 * it exists), mode 0700: exactly the manifest's files, from the verified
 * in-memory package (the archive is never read again), with the manifest's
 * modes, plus .l3af-verified.json (the verified manifest, mode 0400). The
 * directory appears complete or not at all (built beside it, then renamed
 * with RENAME_NOREPLACE). L3AF_VERIFY_E_REFUSED if res does not allow.
 */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_extract(const struct l3af_verify_result *res, const char *dir, char *err);

/*
 * Re-check one extracted file just before it is loaded or run: `path` is
 * relative to the extracted dir; the dir must be owned by this user with no
 * group/other access, .l3af-verified.json must be intact, and the file a
 * regular file (no symlink on the way), owned by this user, not writable by
 * group or others, with the manifest's size, mode and SHA-256. *out receives
 * allow or deny with reasons (L3AF_VERIFY_OK), as for a check.
 */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_file(const char *dir, const char *path, struct l3af_verify_result **out, char *err);

/*
 * l3af_verify_file, closing its check-then-use gap: on allow, *fd_out
 * receives the very descriptor whose bytes were hashed (read-only,
 * O_CLOEXEC, offset 0); the caller loads from it (read it whole and
 * bpf_object__open_mem, or open /proc/self/fd/N) and closes it. Whatever
 * happens to the path afterwards, the descriptor still names the checked
 * file, which is owned by this user and not writable by others. *fd_out is
 * -1 unless the verdict is allow. fd_out may be NULL (= l3af_verify_file).
 */
L3AF_VERIFY_API enum l3af_verify_status
l3af_verify_file_open(const char *dir, const char *path, struct l3af_verify_result **out,
		      int *fd_out, char *err);

#ifdef __cplusplus
}
#endif

#endif
