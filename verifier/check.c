/*
 * check.c - l3af_verify_check: one verification, every check run, every
 * failure reported (docs/verifier.md "What a check proves").
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

/* Percent-encode every byte but RFC 3986's unreserved ones ("linux/amd64"
 * is "linux%2Famd64"; the server decodes query values). */
static bool url_escape(const char *in, char *out, size_t cap)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (n + 4 > cap)
			return false;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hexd[c >> 4];
			out[n++] = hexd[c & 15];
		}
	}
	out[n] = '\0';
	return true;
}

/* Online: GET <log>/v1/bundle/sha256/<hex>?name=&version=&platform= (the
 * package entry of that artifact for this request, docs/api.md). *stop
 * when there is nothing more to check. */
static enum l3af_status fetch_bundle(const struct l3af_verify_config *cfg,
				     const struct l3af_verify_request *req, struct lv_log *lg,
				     size_t *len, struct l3af_verify_result *r, bool *stop,
				     struct l3af_err *err)
{
	char url[2048], hex[65], qn[3 * SIGNER_PKG_NAME_MAX + 1];
	char qv[3 * SIGNER_VERSION_MAX + 1], qp[3 * SIGNER_PLATFORM_MAX + 1];
	uint8_t h[32];
	long http = 0;
	struct l3af_err e = { 0 };
	enum l3af_status rc = l3af_sha256(req->artifact, req->artifact_len, h);

	*stop = true;
	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "sha256 of the artifact failed");
	memcpy(lg->artifact_sha256, h, sizeof(h));
	lg->has_artifact_sha256 = true;
	lv_hex32(h, hex);
	if (lv_online_ready(&e) != L3AF_OK)
		return lv_undecided(r, "online_unavailable", "%s", e.msg);
	if (!url_escape(req->name, qn, sizeof(qn)) || !url_escape(req->version, qv, sizeof(qv)) ||
	    !url_escape(req->platform, qp, sizeof(qp)))
		return lv_deny(r, "not_logged", "the request's name, version or platform is too "
			       "long to be a logged package's");
	if ((size_t)snprintf(url, sizeof(url), "%s/v1/bundle/sha256/%s?name=%s&version=%s&platform=%s",
			     req->log_url, hex, qn, qv, qp) >= sizeof(url))
		return l3af_fail(err, L3AF_E_INVALID, "log URL too long");
	rc = lv_http_get(url, TLOG_PROOF_TEXT_MAX, cfg->timeout_ms, &http, &lg->fetched_bundle, len,
			 &e);
	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	if (rc != L3AF_OK)
		return lv_undecided(r, "log_unreachable", "the log did not answer: %s", e.msg);
	if (http == 404)
		return lv_deny(r, "not_logged", "the log has no package entry %s %s (%s) for artifact "
			       "sha256 %s", req->name, req->version, req->platform, hex);
	if (http != 200)
		return lv_undecided(r, "log_answer", "the log answered HTTP %ld for the bundle", http);
	*stop = false;
	return L3AF_OK;
}

/* What needs no state: fetch (online), parse, the checkpoint's signatures
 * and quorum, inclusion; online, the consistency proof the state will need
 * (lv_prefetch_consistency). Runs before STATE/lock is taken, so no fetch
 * holds the lock. *stop when there is nothing more to check. */
static enum l3af_status prepare(const struct l3af_verify_config *cfg,
				const struct l3af_verify_request *req, struct lv_log *lg,
				struct l3af_verify_result *r, bool *stop, struct l3af_err *err)
{
	const char *text = req->bundle;
	size_t len = req->bundle_len;
	struct l3af_err e = { 0 };
	enum l3af_status rc;

	*stop = false;
	rc = lv_set(r, "request", json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", req->name, "version",
					    req->version, "platform", req->platform, "file",
					    req->file_name, "mode", req->bundle ? "offline" : "online"));
	if (rc == L3AF_OK && !req->bundle) {
		rc = fetch_bundle(cfg, req, lg, &len, r, stop, err);
		text = lg->fetched_bundle;
	}
	if (rc != L3AF_OK || *stop)
		return rc;
	rc = tlog_bundle_parse(text, len, lg->b, &e);
	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	*stop = rc != L3AF_OK;
	if (rc != L3AF_OK)
		return req->bundle ? lv_deny(r, "bundle", "the bundle is malformed: %s", e.msg)
				   : lv_undecided(r, "log_answer", "the log's bundle is malformed: %s",
						  e.msg);
	lg->bundle_ok = true;
	rc = lv_check_checkpoint(cfg, lg, r, err);
	if (rc == L3AF_OK && lg->cp_ok) {
		if (tlog_bundle_verify(lg->b, &lg->cp, &e) == L3AF_OK)
			lg->included = true;
		else
			rc = lv_deny(r, "inclusion", "%s", e.msg);
	}
	if (rc == L3AF_OK && lg->cp_ok && lg->quorum_ok && lg->included)
		rc = lv_prefetch_consistency(cfg, req, lg, err);
	return rc;
}

/* The rest, under STATE/lock: read the state, decide, write. */
static enum l3af_status run(const struct l3af_verify_config *cfg,
			    const struct l3af_verify_request *req, struct lv_log *lg,
			    struct signer_entry *entry, struct l3af_verify_result *r,
			    struct l3af_err *err)
{
	enum l3af_status rc = lv_check_package(cfg, req, lg, entry, r, err);

	if (rc == L3AF_OK && lg->cp_ok && lg->quorum_ok && lg->included)
		rc = lv_check_consistency(cfg, req, lg, r, err);
	/* versions.json changes only for a higher version: when the check read
	 * it (under this lock) and this one is not higher, nothing to write. */
	if (rc == L3AF_OK && r->nreasons == 0 &&
	    !(lg->highest_known && lg->highest[0] &&
	      signer_version_cmp(entry->pkg.version, lg->highest) <= 0))
		rc = lv_state_version_put(cfg->state_dir, entry->pkg.name, entry->pkg.platform,
					  entry->pkg.version, err);
	return rc;
}

static const char *request_problem(const struct l3af_verify_config *cfg,
				   const struct l3af_verify_request *req)
{
	if (!cfg || !req)
		return "no config or request";
	if (!cfg->has_trust)
		return "no trust policy set";
	if (!cfg->state_dir)
		return "no state directory set";
	if (!req->name || !req->version || !req->platform || !req->file_name)
		return "name, version, platform and file name are required";
	if (!req->artifact && req->artifact_len)
		return "no artifact bytes";
	if (!req->bundle == !req->log_url)
		return "give a bundle (offline) or a log URL (online), one of them";
	if (req->log_url && strncmp(req->log_url, "http://", 7) && strncmp(req->log_url, "https://", 8))
		return "the log URL must start with http:// or https://";
	if (req->consistency && !req->bundle)
		return "a consistency proof file is for offline mode; online mode fetches one";
	return NULL;
}

enum l3af_verify_status l3af_verify_check(const struct l3af_verify_config *cfg,
					  const struct l3af_verify_request *req,
					  struct l3af_verify_result **out, char *errbuf)
{
	struct l3af_err e = { 0 };
	struct lv_log lg;
	struct signer_entry entry;
	struct l3af_verify_result *r = NULL;
	const char *problem = request_problem(cfg, req);
	enum l3af_status rc;
	bool stop = false;
	int lock = -1;

	if (out)
		*out = NULL;
	if (!out || problem) {
		if (errbuf)
			snprintf(errbuf, L3AF_VERIFY_ERR_BYTES, "%s",
				 problem ? problem : "no result pointer");
		return L3AF_VERIFY_E_CONFIG;
	}
	memset(&lg, 0, sizeof(lg));
	memset(&entry, 0, sizeof(entry));
	/* Not zeroed: 330 KiB of arrays that tlog_bundle_parse fills as far as
	 * its lengths say (calloc's memset was 5% of a check). */
	lg.b = l3af_malloc(sizeof(*lg.b));
	r = lv_result_new();
	if (!lg.b || !r) {
		rc = l3af_fail(&e, L3AF_E_NOMEM, "no memory");
		goto out;
	}
	memset(&lg.b->proof, 0, offsetof(struct tlog_proof_text, extra));
	lg.b->proof.checkpoint = NULL;
	lg.b->proof.checkpoint_len = 0;
	lg.b->entry_len = lg.b->keys_entry_len = lg.b->nkproof = 0;
	lg.b->has_keys = false;
	lg.b->keys_index = 0;
	rc = prepare(cfg, req, &lg, r, &stop, &e);
	if (rc == L3AF_OK && !stop) {
		rc = lv_state_lock(cfg->state_dir, &lock, &e);
		if (rc == L3AF_OK)
			rc = run(cfg, req, &lg, &entry, r, &e);
		lv_state_unlock(lock);
	}
	if (rc == L3AF_OK)
		rc = lv_result_finish(r, &e);
out:
	signer_entry_clear(&entry);
	l3af_free(lg.b);
	l3af_free(lg.fetched_bundle);
	l3af_free(lg.fetched_consistency);
	if (rc != L3AF_OK) {
		l3af_verify_result_free(r);
		return lv_status(rc == L3AF_E_VERIFY ? L3AF_E_INTERNAL : rc, &e, errbuf);
	}
	*out = r;
	return L3AF_VERIFY_OK;
}
