/*
 * config.c - the public configuration handle: trust policy, node policy,
 * state directory and a few knobs.
 */
#include <stdio.h>
#include <string.h>

#include "verify_internal.h"

enum l3af_verify_status l3af_verify_config_new(struct l3af_verify_config **out, char *err)
{
	struct l3af_verify_config *c;

	if (!out)
		return lv_status(L3AF_E_INVALID, NULL, err);
	*out = NULL;
	c = l3af_calloc(1, sizeof(*c));
	if (!c)
		return lv_status(L3AF_E_NOMEM, NULL, err);
	lv_node_defaults(&c->node);
	if (!c->node.allowed_types || !c->node.denied_helpers || !c->node.denied_kfuncs) {
		l3af_verify_config_free(c);
		return lv_status(L3AF_E_NOMEM, NULL, err);
	}
	c->timeout_ms = 10000;
	*out = c;
	return L3AF_VERIFY_OK;
}

void l3af_verify_config_free(struct l3af_verify_config *cfg)
{
	if (!cfg)
		return;
	lv_node_clear(&cfg->node);
	l3af_free(cfg->state_dir);
	l3af_free(cfg);
}

enum l3af_verify_status l3af_verify_config_trust_policy(struct l3af_verify_config *cfg,
							const char *text, size_t len, char *err)
{
	struct l3af_err e = { 0 };
	struct lv_trust *t;
	enum l3af_status rc;

	if (!cfg || (!text && len))
		return lv_status(L3AF_E_INVALID, NULL, err);
	t = l3af_malloc(sizeof(*t));
	if (!t)
		return lv_status(L3AF_E_NOMEM, NULL, err);
	rc = lv_trust_parse(text ? text : "", len, cfg->allow_none, t, &e);
	if (rc == L3AF_OK) {
		cfg->trust = *t;
		cfg->has_trust = true;
	}
	l3af_free(t);
	return lv_status(rc, &e, err);
}

enum l3af_verify_status l3af_verify_config_node_policy(struct l3af_verify_config *cfg,
						       const char *json, size_t len, char *err)
{
	struct l3af_err e = { 0 };
	struct lv_node n;
	enum l3af_status rc;

	if (!cfg || !json)
		return lv_status(L3AF_E_INVALID, NULL, err);
	rc = lv_node_parse(json, len, &n, &e);
	if (rc == L3AF_OK) {
		lv_node_clear(&cfg->node);
		cfg->node = n;
	}
	return lv_status(rc, &e, err);
}

enum l3af_verify_status l3af_verify_config_state_dir(struct l3af_verify_config *cfg,
						     const char *dir, char *err)
{
	struct l3af_err e = { 0 };
	enum l3af_status rc;
	char *copy;

	if (!cfg || !dir || !dir[0])
		return lv_status(L3AF_E_INVALID, NULL, err);
	rc = lv_state_prepare(dir, &e);
	if (rc != L3AF_OK)
		return lv_status(rc == L3AF_E_IO ? L3AF_E_INVALID : rc, &e, err);
	copy = l3af_malloc(strlen(dir) + 1);
	if (!copy)
		return lv_status(L3AF_E_NOMEM, NULL, err);
	memcpy(copy, dir, strlen(dir) + 1);
	l3af_free(cfg->state_dir);
	cfg->state_dir = copy;
	return L3AF_VERIFY_OK;
}

void l3af_verify_config_allow_no_witnesses(struct l3af_verify_config *cfg, bool allow)
{
	if (cfg)
		cfg->allow_none = allow;
}

void l3af_verify_config_set_time(struct l3af_verify_config *cfg, int64_t now)
{
	if (cfg)
		cfg->now = now;
}

void l3af_verify_config_set_timeout(struct l3af_verify_config *cfg, long timeout_ms)
{
	if (cfg && timeout_ms > 0)
		cfg->timeout_ms = timeout_ms;
}
