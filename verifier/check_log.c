/*
 * check_log.c - the log side of a check: the checkpoint's signatures
 * (c2sp.org/signed-note, tlog-cosignature), the witness quorum
 * (c2sp.org/tlog-policy), freshness, and consistency with the checkpoint
 * this node accepted before (RFC 9162 2.1.4.2), with fork evidence.
 */
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

/* Clock skew allowed between a witness and this node, seconds. */
#define LV_FUTURE_SKEW_S 300

#define PROOF_JSON_MAX (16u << 10)

static int64_t now_of(const struct l3af_verify_config *cfg)
{
	return cfg->now ? cfg->now : l3af_wall_s();
}

/* signer_note_open says which failure it was only in its message: a note
 * with no line from a known key, or a known key's line that fails. */
static bool no_known_key(const struct l3af_err *e)
{
	return strstr(e->msg, "no signature from a known key") != NULL;
}

static enum l3af_status signature_failure(const struct l3af_verify_config *cfg,
					  const char *note, size_t len,
					  const struct l3af_err *e, struct l3af_verify_result *r)
{
	struct l3af_err e2 = { 0 };
	enum l3af_status rc;

	if (no_known_key(e))
		return lv_deny(r, "log_key_unknown",
			       "the checkpoint carries no signature by a key of the trust policy");
	rc = signer_note_open(note, len, cfg->trust.logs, cfg->trust.nlogs, NULL, &e2);
	if (rc == L3AF_OK || (rc == L3AF_E_VERIFY && no_known_key(&e2)))
		return lv_deny(r, "witness_signature",
			       "a trusted witness's cosignature does not verify: %s", e->msg);
	return lv_deny(r, "log_signature", "a trusted log key's signature does not verify: %s",
		       e->msg);
}

static enum l3af_status checkpoint_facts(const struct l3af_verify_config *cfg, struct lv_log *lg,
					 const struct signer_note_result *nr,
					 struct l3af_verify_result *r)
{
	size_t nlogs = cfg->trust.nlogs;
	uint64_t wmask = nr->verified_mask >> nlogs, newest = 0;
	enum l3af_status rc = L3AF_OK;

	for (size_t i = 0; i < cfg->trust.nwitnesses; i++)
		if ((wmask >> i) & 1) {
			lg->witnesses++;
			if (nr->time[nlogs + i] > newest)
				newest = nr->time[nlogs + i];
			lg->has_age = true;
		}
	if (lg->has_age) {
		int64_t now = now_of(cfg);

		lg->age = now > 0 && (uint64_t)now > newest ? (uint64_t)now - newest : 0;
	}
	lg->quorum_ok = lv_trust_quorum(&cfg->trust, wmask);
	if (!lg->quorum_ok)
		rc = lv_deny(r, "quorum",
			     "%u trusted witness(es) cosigned checkpoint %llu; the policy's quorum "
			     "is not met", lg->witnesses, (unsigned long long)lg->cp.size);
	if (rc == L3AF_OK && lg->has_age && newest > (uint64_t)now_of(cfg) + LV_FUTURE_SKEW_S)
		/* A cosignature from the future would make a checkpoint look
		 * fresh for ever (a witness's clock, or a witness key misused). */
		rc = lv_deny(r, "checkpoint_future",
			     "a trusted cosignature is dated %llu s ahead of this node's clock "
			     "(%d s allowed)", (unsigned long long)(newest - (uint64_t)now_of(cfg)),
			     LV_FUTURE_SKEW_S);
	if (rc == L3AF_OK && cfg->node.max_age) {
		if (!lg->has_age)
			rc = lv_deny(r, "checkpoint_age_unknown",
				     "checkpoint age unknown: no timestamped cosignature by a trusted "
				     "witness, and the node policy sets max_checkpoint_age %llu s",
				     (unsigned long long)cfg->node.max_age);
		else if (lg->age > cfg->node.max_age)
			rc = lv_undecided(r, "checkpoint_stale",
					  "checkpoint is %llu s old (newest trusted cosignature); "
					  "the node policy allows %llu s: fetch a fresher bundle",
					  (unsigned long long)lg->age,
					  (unsigned long long)cfg->node.max_age);
	}
	if (rc == L3AF_OK)
		rc = lv_set(r, "witnesses", json_integer(lg->witnesses));
	if (rc == L3AF_OK)
		rc = lv_set(r, "checkpoint_age",
			    lg->has_age ? json_integer((json_int_t)lg->age) : json_null());
	return rc;
}

enum l3af_status lv_check_checkpoint(const struct l3af_verify_config *cfg, struct lv_log *lg,
				     struct l3af_verify_result *r, struct l3af_err *err)
{
	struct signer_vkey keys[2 * LV_POLICY_MAX];
	const struct lv_trust *t = &cfg->trust;
	const char *note = lg->b->proof.checkpoint;
	size_t len = lg->b->proof.checkpoint_len, n = 0;
	struct signer_note_result nr;
	struct l3af_err e = { 0 };
	enum l3af_status rc;
	bool origin_ok = false;

	memcpy(keys, t->logs, t->nlogs * sizeof(*keys));
	n = t->nlogs;
	memcpy(keys + n, t->witnesses, t->nwitnesses * sizeof(*keys));
	n += t->nwitnesses;
	rc = signer_note_open(note, len, keys, n, &nr, &e);
	if (rc == L3AF_E_VERIFY)
		return signature_failure(cfg, note, len, &e, r);
	if (rc == L3AF_E_INVALID || rc == L3AF_E_LIMIT)
		return lv_deny(r, "checkpoint", "the checkpoint note is malformed: %s", e.msg);
	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "checkpoint: %s", e.msg);
	if ((nr.verified_mask & ((UINT64_C(1) << t->nlogs) - 1)) == 0)
		return lv_deny(r, "log_key_unknown",
			       "no trusted log key signed the checkpoint (only witnesses did)");
	if (tlog_checkpoint_parse(note, nr.text_len, &lg->cp, &e) != L3AF_OK)
		return lv_deny(r, "checkpoint", "the checkpoint body is malformed: %s", e.msg);
	for (size_t i = 0; i < t->nlogs; i++)
		if (((nr.verified_mask >> i) & 1) && !strcmp(t->logs[i].name, lg->cp.origin))
			origin_ok = true;
	if (!origin_ok)
		return lv_deny(r, "origin",
			       "checkpoint origin '%s' is not the name of the log key that signed it",
			       lg->cp.origin);
	lg->cp_ok = true;
	lg->cp_note_len = len;
	rc = lv_set(r, "log_origin", json_string(lg->cp.origin));
	if (rc == L3AF_OK)
		rc = lv_set(r, "tree_size", json_integer((json_int_t)lg->cp.size));
	if (rc == L3AF_OK)
		rc = checkpoint_facts(cfg, lg, &nr, r);
	return rc == L3AF_OK ? L3AF_OK : l3af_fail(err, rc, "result: no memory");
}

/* {"new":B,"old":A,"proof":["<b64>",...]} as GET /v1/proof/consistency answers. */
static enum l3af_status proof_parse(const char *text, size_t len, uint64_t old, uint64_t new,
				    uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES], size_t *n,
				    char *why, size_t whycap)
{
	json_error_t jerr;
	json_t *root = len <= PROOF_JSON_MAX ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)
					     : NULL;
	json_t *jo = json_object_get(root, "old"), *jn = json_object_get(root, "new");
	json_t *jp = json_object_get(root, "proof"), *h;
	size_t i, outlen;
	enum l3af_status rc = L3AF_E_INVALID;

	*n = 0;
	if (!json_is_object(root) || json_object_size(root) != 3 || !json_is_integer(jo) ||
	    !json_is_integer(jn) || !json_is_array(jp) || json_array_size(jp) > TLOG_PROOF_MAX) {
		snprintf(why, whycap, "not a consistency proof object");
		goto out;
	}
	if ((uint64_t)json_integer_value(jo) != old || (uint64_t)json_integer_value(jn) != new) {
		snprintf(why, whycap, "proof is for sizes %lld..%lld, not %llu..%llu",
			 (long long)json_integer_value(jo), (long long)json_integer_value(jn),
			 (unsigned long long)old, (unsigned long long)new);
		goto out;
	}
	json_array_foreach(jp, i, h) {
		if (!json_is_string(h) ||
		    l3af_base64_decode(proof[i], TLOG_HASH_BYTES, &outlen, json_string_value(h),
				       json_string_length(h)) != L3AF_OK ||
		    outlen != TLOG_HASH_BYTES) {
			snprintf(why, whycap, "proof hash %zu is not base64 of 32 bytes", i);
			goto out;
		}
	}
	*n = json_array_size(jp);
	rc = L3AF_OK;
out:
	json_decref(root);
	return rc;
}

enum l3af_status lv_prefetch_consistency(const struct l3af_verify_config *cfg,
					 const struct l3af_verify_request *req, struct lv_log *lg,
					 struct l3af_err *err)
{
	struct tlog_checkpoint old;
	struct l3af_err e = { 0 };
	char url[2048], *stored = NULL;
	bool found = false;
	long http = 0;

	(void)err;
	if (!req->log_url)
		return L3AF_OK;
	/* A damaged state is reported under the lock; nothing to fetch then. */
	if (lv_state_checkpoint_get(cfg->state_dir, lg->cp.origin, &found, &old, &stored, &e) !=
	    L3AF_OK || !found || old.size == lg->cp.size) {
		l3af_free(stored);
		return L3AF_OK;
	}
	l3af_free(stored);
	lg->proof_tried = true;
	lg->proof_small = old.size < lg->cp.size ? old.size : lg->cp.size;
	lg->proof_big = old.size < lg->cp.size ? lg->cp.size : old.size;
	snprintf(url, sizeof(url), "%s/v1/proof/consistency?old=%llu&new=%llu", req->log_url,
		 (unsigned long long)lg->proof_small, (unsigned long long)lg->proof_big);
	if (lv_http_get(url, PROOF_JSON_MAX, cfg->timeout_ms, &http, &lg->fetched_consistency,
			&lg->fetched_consistency_len, &e) != L3AF_OK || http != 200) {
		lg->proof_failed = true;
		snprintf(lg->proof_error, sizeof(lg->proof_error), "%s",
			 e.msg[0] ? e.msg : "HTTP error");
		l3af_free(lg->fetched_consistency);
		lg->fetched_consistency = NULL;
	}
	return L3AF_OK;
}

/* The consistency proof between the stored and the received sizes: given
 * (offline) or fetched before the lock (online). *text NULL if there is
 * none. */
static enum l3af_status proof_source(const struct l3af_verify_request *req, struct lv_log *lg,
				     uint64_t old, uint64_t new, const char **text, size_t *len,
				     struct l3af_verify_result *r, bool *stop)
{
	*text = NULL;
	*stop = false;
	if (req->consistency) {
		*text = req->consistency;
		*len = req->consistency_len;
		return L3AF_OK;
	}
	if (!req->log_url)
		return L3AF_OK;
	*stop = true;
	if (!lg->proof_tried || lg->proof_small != old || lg->proof_big != new)
		return lv_undecided(r, "consistency_unproven",
				    "this node's stored checkpoint changed during the check "
				    "(another check accepted one): retry");
	if (lg->proof_failed)
		return lv_undecided(r, "log_unreachable",
				    "could not fetch a consistency proof %llu..%llu from the log: %s",
				    (unsigned long long)old, (unsigned long long)new,
				    lg->proof_error);
	*stop = false;
	*text = lg->fetched_consistency;
	*len = lg->fetched_consistency_len;
	return L3AF_OK;
}

/* Deny with code "fork" (two roots for one size) or "inconsistent" (a
 * proof that does not verify), keeping both signed checkpoints as evidence. */
static enum l3af_status fork_found(const struct l3af_verify_config *cfg, const char *code,
				   struct lv_log *lg, const char *stored_note,
				   const uint8_t (*proof)[TLOG_HASH_BYTES], size_t n, const char *why,
				   struct l3af_verify_result *r, struct l3af_err *err)
{
	char *path = NULL;
	enum l3af_status rc;

	rc = lv_state_evidence(cfg->state_dir, code, lg->cp.origin, stored_note,
			       lg->b->proof.checkpoint,
			       lg->cp_note_len, proof, n, why, &path, err);
	if (rc != L3AF_OK)
		return rc;
	rc = lv_deny(r, code, "%s; evidence written to %s", why, path ? path : "STATE/evidence");
	if (rc == L3AF_OK && path)
		rc = lv_set(r, "evidence", json_string(path));
	l3af_free(path);
	return rc;
}

enum l3af_status lv_check_consistency(const struct l3af_verify_config *cfg,
				      const struct l3af_verify_request *req, struct lv_log *lg,
				      struct l3af_verify_result *r, struct l3af_err *err)
{
	struct tlog_checkpoint old;
	char *stored = NULL, why[256];
	bool found = false, stop = false;
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	size_t n = 0, plen = 0;
	const char *ptext = NULL;
	const struct tlog_checkpoint *small, *big;
	enum l3af_status rc;

	rc = lv_state_checkpoint_get(cfg->state_dir, lg->cp.origin, &found, &old, &stored, err);
	if (rc != L3AF_OK)
		return rc;
	if (!found) /* trust on first use of this origin: the quorum vouches for it */
		goto store;
	if (old.size == lg->cp.size) {
		if (memcmp(old.root, lg->cp.root, TLOG_HASH_BYTES) != 0)
			rc = fork_found(cfg, "fork", lg, stored, NULL, 0,
					"two different roots for one tree size (a fork)", r, err);
		goto out;
	}
	small = old.size < lg->cp.size ? &old : &lg->cp;
	big = old.size < lg->cp.size ? &lg->cp : &old;
	rc = proof_source(req, lg, small->size, big->size, &ptext, &plen, r, &stop);
	if (rc != L3AF_OK || stop)
		goto out;
	if (!ptext) {
		if (lg->cp.size < old.size)
			rc = lv_deny(r, "rollback",
				     "checkpoint %llu is smaller than the %llu this node accepted, "
				     "and no consistency proof shows it is a prefix",
				     (unsigned long long)lg->cp.size, (unsigned long long)old.size);
		else
			rc = lv_undecided(r, "consistency_unproven",
					  "checkpoint %llu is newer than the %llu this node accepted; "
					  "give a consistency proof (or verify online)",
					  (unsigned long long)lg->cp.size,
					  (unsigned long long)old.size);
		goto out;
	}
	if (proof_parse(ptext, plen, small->size, big->size, proof, &n, why, sizeof(why)) !=
	    L3AF_OK) {
		rc = req->bundle ? lv_deny(r, "consistency_proof", "consistency proof: %s", why)
				 : lv_undecided(r, "log_answer", "the log's consistency proof: %s",
						why);
		goto out;
	}
	if (tlog_consistency_verify(small->size, big->size, small->root, big->root,
				    (const uint8_t(*)[TLOG_HASH_BYTES])proof, n, NULL) != L3AF_OK) {
		snprintf(why, sizeof(why),
			 "checkpoint %llu is not consistent with checkpoint %llu this node accepted",
			 (unsigned long long)lg->cp.size, (unsigned long long)old.size);
		rc = fork_found(cfg, "inconsistent", lg, stored,
				(const uint8_t(*)[TLOG_HASH_BYTES])proof, n, why, r, err);
		goto out;
	}
	if (lg->cp.size < old.size) /* an older bundle, proven a prefix: keep the newer */
		goto out;
store:
	rc = lv_state_checkpoint_put(cfg->state_dir, &lg->cp, lg->b->proof.checkpoint,
				     lg->cp_note_len, err);
out:
	l3af_free(stored);
	return rc;
}
