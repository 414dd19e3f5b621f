/*
 * check_keyset.c - who may sign, checked against the node's own admin keys
 * rather than the log alone (docs/verifier.md "Admin keys"). A
 * publisher.keys entry carries `request`, the admin DSSE envelope that
 * authorised it (docs/formats.md section 7). With admin keys in the trust
 * policy, that request must verify under them with their threshold, be for
 * this log's origin, and say exactly what the entry says: action
 * publisher.register for version 1 and publisher.update above it, the same
 * publisher, version, namespaces, threshold and keys.
 *
 * The request's validity window is not compared with this node's clock: the
 * log admitted the request inside its window (at most 15 minutes long),
 * at a time the agent cannot know; the entry may be years old. The
 * window's length is still checked (signer_admin_request_open_logged).
 */
#include <stdio.h>
#include <string.h>

#include "signer_internal.h"
#include "verify_internal.h"

static bool same_key(const struct signer_pubkey *a, const struct signer_pubkey *b)
{
	return a->alg == b->alg && !strcmp(a->id, b->id) && a->spki_len == b->spki_len &&
	       !memcmp(a->spki, b->spki, a->spki_len);
}

/* Which field of the request differs from the entry, or NULL. */
static const char *params_differ(const struct signer_admin_request *q,
				 const struct signer_keyset *ks)
{
	const struct signer_keyset *p = &q->params;

	if (strcmp(q->action, ks->version == 1 ? "publisher.register" : "publisher.update"))
		return "action";
	if (strcmp(p->publisher, ks->publisher))
		return "publisher";
	if (p->version != ks->version)
		return "version";
	if (p->threshold != ks->threshold)
		return "threshold";
	if (p->nnamespaces != ks->nnamespaces)
		return "namespaces";
	for (size_t i = 0; i < p->nnamespaces; i++)
		if (strcmp(p->namespaces[i], ks->namespaces[i]))
			return "namespaces";
	if (p->nkeys != ks->nkeys)
		return "keys";
	for (size_t i = 0; i < p->nkeys; i++)
		if (!same_key(&p->keys[i], &ks->keys[i]))
			return "keys";
	return NULL;
}

enum l3af_status lv_check_keyset_request(const struct l3af_verify_config *cfg,
					 const struct lv_log *lg, const struct signer_entry *ks,
					 struct l3af_verify_result *r, struct l3af_err *err)
{
	struct signer_admin_root root;
	struct signer_admin_request q;
	struct l3af_err e = { 0 };
	const char *field;
	char *text;
	enum l3af_status rc;

	if (cfg->trust.admin.nadmins == 0)
		return L3AF_OK; /* not configured: monitors are the check */
	if (!lg->cp_ok)
		/* the origin is unknown, and the checkpoint is denied already */
		return lv_deny(r, "keyset_authorisation",
			       "key set %llu: not checked against the admin keys (no trusted "
			       "checkpoint names the log's origin)",
			       (unsigned long long)lg->b->keys_index);
	root = cfg->trust.admin;
	snprintf(root.origin, sizeof(root.origin), "%s", lg->cp.origin);
	if (!ks->request)
		return lv_deny(r, "keyset_authorisation", "key set %llu carries no admin request",
			       (unsigned long long)lg->b->keys_index);
	text = json_dumps(ks->request, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return l3af_fail(err, L3AF_E_NOMEM, "no memory");
	memset(&q, 0, sizeof(q));
	rc = signer_admin_request_open_logged(text, strlen(text), &root, &q, &e);
	free(text);
	if (rc == L3AF_E_NOMEM)
		return l3af_fail(err, rc, "%s", e.msg);
	if (rc != L3AF_OK)
		return lv_deny(r, "keyset_authorisation",
			       "key set %llu (publisher %s, version %llu): its admin request does not "
			       "verify under the trust policy's admin keys (threshold %u): %s",
			       (unsigned long long)lg->b->keys_index, ks->keyset.publisher,
			       (unsigned long long)ks->keyset.version, root.threshold, e.msg);
	field = params_differ(&q, &ks->keyset);
	if (field)
		return lv_deny(r, "keyset_authorisation",
			       "key set %llu (publisher %s, version %llu): the admin request's %s "
			       "is not the entry's", (unsigned long long)lg->b->keys_index,
			       ks->keyset.publisher, (unsigned long long)ks->keyset.version, field);
	return L3AF_OK;
}
