/*
 * trust_policy.c - the trust policy: c2sp.org/tlog-policy ("Policy file
 * syntax and structure"): log, witness, group and quorum lines. Parsed with
 * init / line / finish; quorum evaluated over the witnesses that cosigned.
 */
#include <string.h>

#include "verify_internal.h"

#define MAX_TOKENS (LV_POLICY_MAX + 4)

struct tok {
	const char *s;
	size_t len;
};

/* "Structure": items separated by runs of space and tab only. */
static size_t tokenize(const char *line, size_t len, struct tok *t, size_t cap)
{
	size_t n = 0, i = 0;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (n == cap)
			return cap + 1;
		t[n].s = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		t[n].len = (size_t)(line + i - t[n].s);
		n++;
	}
	return n;
}

static bool tok_is(const struct tok *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->s, s, t->len) == 0;
}

/* Names are opaque octet strings ("Character set"). -1 if undefined. */
static int find_name(const struct lv_trust *p, const struct tok *t)
{
	for (size_t i = 0; i < p->nwitnesses; i++)
		if (strlen(p->wnames[i]) == t->len && !memcmp(p->wnames[i], t->s, t->len))
			return (int)i;
	for (size_t i = 0; i < p->ngroups; i++)
		if (strlen(p->groups[i].name) == t->len && !memcmp(p->groups[i].name, t->s, t->len))
			return -(int)i - 1;
	return LV_QUORUM_NONE - 1;
}

static enum l3af_status new_name(struct lv_trust *p, const struct tok *t,
				 char out[static LV_POLICY_NAME_MAX + 1], unsigned ln,
				 struct l3af_err *err)
{
	if (t->len > LV_POLICY_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "line %u: name over %d bytes", ln,
				 LV_POLICY_NAME_MAX);
	if (tok_is(t, "none"))
		return l3af_fail(err, L3AF_E_INVALID, "line %u: 'none' is predefined", ln);
	if (find_name(p, t) != LV_QUORUM_NONE - 1)
		return l3af_fail(err, L3AF_E_INVALID, "line %u: name '%.*s' already defined", ln,
				 (int)t->len, t->s);
	memcpy(out, t->s, t->len);
	out[t->len] = '\0';
	return L3AF_OK;
}

static enum l3af_status parse_key(const struct tok *t, uint8_t type, struct signer_vkey *out,
				  unsigned ln, struct l3af_err *err)
{
	enum l3af_status rc = signer_vkey_parse(t->s, t->len, out, err);

	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "line %u", ln);
		return rc;
	}
	if (out->type != type)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: key %s has type 0x%02x, a %s key must be 0x%02x", ln,
				 out->name, out->type, type == SIGNER_TYPE_ED25519 ? "log" : "witness",
				 type);
	return L3AF_OK;
}

/* "Two vkeys are considered duplicate if they wrap the same public key". */
static bool dup_key(const struct signer_vkey *keys, size_t n, const struct signer_vkey *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(keys[i].pub, k->pub, SIGNER_PUB_BYTES))
			return true;
	return false;
}

static enum l3af_status line_log(struct lv_trust *p, const struct tok *t, size_t n, unsigned ln,
				 struct l3af_err *err)
{
	struct signer_vkey k;
	enum l3af_status rc;

	if (n < 2 || n > 3)
		return l3af_fail(err, L3AF_E_INVALID, "line %u: want 'log <vkey> [<url>]'", ln);
	if (p->nlogs == LV_POLICY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: more than %d logs", ln, LV_POLICY_MAX);
	rc = parse_key(&t[1], SIGNER_TYPE_ED25519, &k, ln, err);
	if (rc != L3AF_OK)
		return rc;
	if (tlog_origin_check(k.name, NULL) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: log key name '%s' is not a log origin", ln, k.name);
	if (dup_key(p->logs, p->nlogs, &k))
		return l3af_fail(err, L3AF_E_INVALID, "line %u: duplicate log key", ln);
	p->logs[p->nlogs++] = k;
	return L3AF_OK;
}

static enum l3af_status line_witness(struct lv_trust *p, const struct tok *t, size_t n,
				     unsigned ln, struct l3af_err *err)
{
	struct signer_vkey k;
	enum l3af_status rc;

	if (n < 3 || n > 4)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: want 'witness <name> <vkey> [<url>]'", ln);
	if (p->nwitnesses == LV_POLICY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: more than %d witnesses", ln,
				 LV_POLICY_MAX);
	rc = new_name(p, &t[1], p->wnames[p->nwitnesses], ln, err);
	if (rc == L3AF_OK)
		rc = parse_key(&t[2], SIGNER_TYPE_COSIG_V1, &k, ln, err);
	if (rc != L3AF_OK)
		return rc;
	if (dup_key(p->witnesses, p->nwitnesses, &k))
		return l3af_fail(err, L3AF_E_INVALID, "line %u: duplicate witness key", ln);
	p->witnesses[p->nwitnesses++] = k;
	return L3AF_OK;
}

static enum l3af_status line_group(struct lv_trust *p, const struct tok *t, size_t n,
				   unsigned ln, struct l3af_err *err)
{
	struct lv_group *g;
	uint64_t k = 0;
	enum l3af_status rc;

	if (n < 4)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: want 'group <name> all|any|<k> <name>...'", ln);
	if (p->ngroups == LV_POLICY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: more than %d groups", ln,
				 LV_POLICY_MAX);
	if (n - 3 > LV_POLICY_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: more than %d members", ln,
				 LV_POLICY_MAX);
	g = &p->groups[p->ngroups];
	memset(g, 0, sizeof(*g));
	rc = new_name(p, &t[1], g->name, ln, err);
	if (rc != L3AF_OK)
		return rc;
	g->n = n - 3;
	for (size_t i = 0; i < g->n; i++) {
		int m = find_name(p, &t[3 + i]);

		if (tok_is(&t[3 + i], "none"))
			return l3af_fail(err, L3AF_E_INVALID,
					 "line %u: 'none' is not a valid group member", ln);
		if (m == LV_QUORUM_NONE - 1)
			return l3af_fail(err, L3AF_E_INVALID,
					 "line %u: '%.*s' is not defined on a preceding line", ln,
					 (int)t[3 + i].len, t[3 + i].s);
		for (size_t j = 0; j < i; j++)
			if (g->members[j] == m)
				return l3af_fail(err, L3AF_E_INVALID,
						 "line %u: '%.*s' is listed twice", ln,
						 (int)t[3 + i].len, t[3 + i].s);
		g->members[i] = m;
	}
	if (tok_is(&t[2], "all"))
		k = g->n;
	else if (tok_is(&t[2], "any"))
		k = 1;
	else if (l3af_parse_u64(t[2].s, t[2].len, g->n, &k) != L3AF_OK || k == 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: threshold must be all, any or 1..%zu in decimal", ln, g->n);
	g->k = (unsigned)k;
	p->ngroups++;
	return L3AF_OK;
}

/* `admin <name> <base64 DER SPKI>`: our extension (docs/verifier.md). */
static enum l3af_status line_admin(struct lv_trust *p, const struct tok *t, size_t n,
				   unsigned ln, struct l3af_err *err)
{
	struct signer_admin_root *a = &p->admin;
	uint8_t der[SIGNER_SPKI_MAX];
	size_t len = 0;
	enum l3af_status rc;

	if (n != 3)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: want 'admin <name> <base64 DER SubjectPublicKeyInfo>'", ln);
	if (p->has_admin_threshold)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: admin lines come before admin-threshold", ln);
	if (a->nadmins == SIGNER_SET_KEYS_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: more than %u admin keys", ln,
				 SIGNER_SET_KEYS_MAX);
	if (t[1].len > LV_POLICY_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "line %u: name over %d bytes", ln,
				 LV_POLICY_NAME_MAX);
	for (size_t i = 0; i < a->nadmins; i++)
		if (strlen(p->anames[i]) == t[1].len && !memcmp(p->anames[i], t[1].s, t[1].len))
			return l3af_fail(err, L3AF_E_INVALID, "line %u: admin '%.*s' listed twice",
					 ln, (int)t[1].len, t[1].s);
	if (l3af_base64_decode(der, sizeof(der), &len, t[2].s, t[2].len) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID, "line %u: admin key is not base64 DER", ln);
	rc = signer_pubkey_from_spki(der, len, &a->admins[a->nadmins], err);
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "line %u", ln);
		return rc;
	}
	for (size_t i = 0; i < a->nadmins; i++)
		if (!strcmp(a->admins[i].id, a->admins[a->nadmins].id))
			return l3af_fail(err, L3AF_E_INVALID, "line %u: duplicate admin key", ln);
	memcpy(p->anames[a->nadmins], t[1].s, t[1].len);
	p->anames[a->nadmins][t[1].len] = '\0';
	a->nadmins++;
	return L3AF_OK;
}

static enum l3af_status line_admin_threshold(struct lv_trust *p, const struct tok *t, size_t n,
					     unsigned ln, struct l3af_err *err)
{
	uint64_t k = 0;

	if (n != 2 || p->has_admin_threshold || p->admin.nadmins == 0 ||
	    l3af_parse_u64(t[1].s, t[1].len, p->admin.nadmins, &k) != L3AF_OK || k == 0)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: want one 'admin-threshold <k>', 1 <= k <= the admin "
				 "lines before it", ln);
	p->admin.threshold = (unsigned)k;
	p->has_admin_threshold = true;
	return L3AF_OK;
}

static enum l3af_status policy_line(struct lv_trust *p, bool *has_quorum, bool allow_none,
				    const char *line, size_t len, unsigned ln,
				    struct l3af_err *err)
{
	struct tok t[MAX_TOKENS];
	size_t n;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return l3af_fail(err, L3AF_E_INVALID, "line %u: control byte 0x%02x", ln, c);
	}
	n = tokenize(line, len, t, MAX_TOKENS);
	if (n == 0 || t[0].s[0] == '#')
		return L3AF_OK;
	if (n > MAX_TOKENS)
		return l3af_fail(err, L3AF_E_LIMIT, "line %u: too many items", ln);
	if (*has_quorum)
		return l3af_fail(err, L3AF_E_INVALID,
				 "line %u: nothing may follow the quorum line", ln);
	if (tok_is(&t[0], "log"))
		return line_log(p, t, n, ln, err);
	if (tok_is(&t[0], "witness"))
		return line_witness(p, t, n, ln, err);
	if (tok_is(&t[0], "group"))
		return line_group(p, t, n, ln, err);
	if (tok_is(&t[0], "admin"))
		return line_admin(p, t, n, ln, err);
	if (tok_is(&t[0], "admin-threshold"))
		return line_admin_threshold(p, t, n, ln, err);
	if (tok_is(&t[0], "quorum")) {
		if (n != 2)
			return l3af_fail(err, L3AF_E_INVALID, "line %u: want 'quorum <name>'", ln);
		if (tok_is(&t[1], "none")) {
			if (!allow_none)
				return l3af_fail(err, L3AF_E_INVALID,
						 "line %u: 'quorum none' (no witnesses) is for "
						 "development only and needs the explicit flag", ln);
			p->quorum = LV_QUORUM_NONE;
		} else {
			p->quorum = find_name(p, &t[1]);
			if (p->quorum == LV_QUORUM_NONE - 1)
				return l3af_fail(err, L3AF_E_INVALID,
						 "line %u: quorum '%.*s' is not defined on a "
						 "preceding line", ln, (int)t[1].len, t[1].s);
		}
		*has_quorum = true;
		return L3AF_OK;
	}
	return l3af_fail(err, L3AF_E_INVALID, "line %u: unknown keyword '%.*s'", ln,
			 (int)t[0].len, t[0].s);
}

enum l3af_status lv_trust_parse(const char *text, size_t len, bool allow_none,
				struct lv_trust *out, struct l3af_err *err)
{
	struct lv_trust *p = out;
	size_t pos = 0, llen;
	const char *line;
	bool has_quorum = false;
	unsigned ln = 0;
	enum l3af_status rc;

	memset(p, 0, sizeof(*p));
	if (len > LV_POLICY_TEXT_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "trust policy: over %u bytes", LV_POLICY_TEXT_MAX);
	if (len > 0 && text[len - 1] != '\n')
		return l3af_fail(err, L3AF_E_INVALID, "trust policy: last line has no newline");
	while ((line = l3af_next_line(text, len, &pos, &llen))) {
		rc = policy_line(p, &has_quorum, allow_none, line, llen, ++ln, err);
		if (rc != L3AF_OK) {
			l3af_err_prefix(err, "trust policy");
			memset(p, 0, sizeof(*p));
			return rc;
		}
	}
	if (!has_quorum || p->nlogs == 0) {
		memset(p, 0, sizeof(*p));
		return l3af_fail(err, L3AF_E_INVALID, "trust policy: %s",
				 has_quorum ? "no log line (the verifier needs the log's key)"
					    : "no quorum line (exactly one is required)");
	}
	if (p->admin.nadmins > 1 && !p->has_admin_threshold) {
		/* A silent 1-of-n would let any one admin key (with a log
		 * that misbehaves) pass the pinning: make the choice explicit. */
		memset(p, 0, sizeof(*p));
		return l3af_fail(err, L3AF_E_INVALID, "trust policy: %s",
				 "several admin lines need an admin-threshold line");
	}
	if (p->admin.nadmins && !p->has_admin_threshold)
		p->admin.threshold = 1;
	return L3AF_OK;
}

bool lv_trust_quorum(const struct lv_trust *t, uint64_t mask)
{
	bool sat[LV_POLICY_MAX] = { false };

	if (t->quorum == LV_QUORUM_NONE)
		return true;
	/* Groups refer only to earlier names, so one pass in order suffices. */
	for (size_t g = 0; g < t->ngroups; g++) {
		unsigned have = 0;

		for (size_t i = 0; i < t->groups[g].n; i++) {
			int m = t->groups[g].members[i];

			if (m >= 0 ? (mask >> m) & 1 : sat[-m - 1])
				have++;
		}
		sat[g] = have >= t->groups[g].k;
	}
	return t->quorum >= 0 ? (mask >> t->quorum) & 1 : sat[-t->quorum - 1];
}
