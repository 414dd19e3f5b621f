/*
 * node_policy.c - the node policy: a JSON object of what this node accepts
 * (docs/verifier.md "Node policy"). Strict: duplicate keys, unknown keys and
 * wrong types are refused.
 */
#include <string.h>

#include "verify_internal.h"

static const char *const default_denied[] = {
	"bpf_probe_write_user", "bpf_override_return", "bpf_send_signal",
	"bpf_send_signal_thread",
};

void lv_node_defaults(struct lv_node *n)
{
	memset(n, 0, sizeof(*n));
	n->allow_tail_calls = n->allow_user_binaries = n->allow_native_images = true;
	n->allowed_types = json_array();
	n->denied_kfuncs = json_array();
	n->denied_helpers = json_array();
	for (size_t i = 0; n->denied_helpers && i < sizeof(default_denied) / sizeof(*default_denied);
	     i++)
		json_array_append_new(n->denied_helpers, json_string(default_denied[i]));
}

void lv_node_clear(struct lv_node *n)
{
	json_decref(n->allowed_types);
	json_decref(n->denied_helpers);
	json_decref(n->denied_kfuncs);
	l3af_free(n->pins);
	l3af_free(n->revoked);
	l3af_free(n->yanked);
	memset(n, 0, sizeof(*n));
}

static enum l3af_status str_list(json_t *v, const char *key, bool ints_too, json_t **slot,
				 struct l3af_err *err)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v))
		return l3af_fail(err, L3AF_E_INVALID, "node policy: %s: not an array", key);
	if (json_array_size(v) > LV_LIST_MAX)
		return l3af_fail(err, L3AF_E_LIMIT, "node policy: %s: over %d items", key,
				 LV_LIST_MAX);
	json_array_foreach(v, i, item)
		if (!json_is_string(item) && !(ints_too && json_is_integer(item)))
			return l3af_fail(err, L3AF_E_INVALID, "node policy: %s[%zu]: not a %s", key,
					 i, ints_too ? "name or helper ID" : "string");
	json_decref(*slot);
	*slot = json_incref(v);
	return L3AF_OK;
}

static enum l3af_status copy_str(json_t *obj, const char *key, const char *what, size_t i,
				 char *out, size_t cap, bool required, struct l3af_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			return l3af_fail(err, L3AF_E_INVALID, "node policy: %s[%zu]: %s missing",
					 what, i, key);
		out[0] = '\0';
		return L3AF_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return l3af_fail(err, L3AF_E_INVALID, "node policy: %s[%zu].%s: not a string of 1..%zu bytes",
				 what, i, key, cap - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return L3AF_OK;
}

/* Only the listed keys may appear in obj. */
static enum l3af_status only_keys(json_t *obj, const char *what, size_t i, const char *const *keys,
				  size_t nkeys, struct l3af_err *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return l3af_fail(err, L3AF_E_INVALID, "node policy: %s[%zu]: not an object", what, i);
	json_object_foreach(obj, k, v) {
		size_t j = 0;

		while (j < nkeys && strcmp(keys[j], k))
			j++;
		if (j == nkeys)
			return l3af_fail(err, L3AF_E_INVALID, "node policy: %s[%zu]: unknown key '%s'",
					 what, i, k);
	}
	return L3AF_OK;
}

static enum l3af_status parse_pins(json_t *v, struct lv_node *n, struct l3af_err *err)
{
	static const char *const keys[] = { "name", "platform", "version" };
	size_t i;
	json_t *o;
	enum l3af_status rc = L3AF_OK;

	if (!json_is_array(v) || json_array_size(v) > LV_LIST_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "node policy: pinned: not an array of <= %d",
				 LV_LIST_MAX);
	n->pins = l3af_calloc(json_array_size(v) + 1, sizeof(*n->pins));
	if (!n->pins)
		return l3af_fail(err, L3AF_E_NOMEM, "node policy: no memory");
	json_array_foreach(v, i, o) {
		struct lv_pin *p = &n->pins[i];

		rc = only_keys(o, "pinned", i, keys, 3, err);
		if (rc == L3AF_OK)
			rc = copy_str(o, "name", "pinned", i, p->name, sizeof(p->name), true, err);
		if (rc == L3AF_OK)
			rc = copy_str(o, "version", "pinned", i, p->version, sizeof(p->version), true,
				      err);
		if (rc == L3AF_OK)
			rc = copy_str(o, "platform", "pinned", i, p->platform, sizeof(p->platform),
				      false, err);
		if (rc != L3AF_OK)
			return rc;
		n->npins++;
	}
	return L3AF_OK;
}

static enum l3af_status parse_match(json_t *o, const char *what, size_t i, struct lv_match *m,
				    struct l3af_err *err)
{
	static const char *const keys[] = { "index", "name", "platform", "reason", "sha256",
					    "version" };
	json_t *v;
	enum l3af_status rc = only_keys(o, what, i, keys, 6, err);

	if (rc != L3AF_OK)
		return rc;
	if ((v = json_object_get(o, "sha256"))) {
		if (!json_is_string(v) || json_string_length(v) != 64 ||
		    l3af_hex_decode(m->sha256, 32, json_string_value(v), 64) != L3AF_OK)
			return l3af_fail(err, L3AF_E_INVALID,
					 "node policy: %s[%zu].sha256: not 64 lowercase hex digits",
					 what, i);
		m->has_sha256 = true;
	}
	if ((v = json_object_get(o, "index"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "node policy: %s[%zu].index: not an entry index", what, i);
		m->index = (uint64_t)json_integer_value(v);
		m->has_index = true;
	}
	rc = copy_str(o, "name", what, i, m->name, sizeof(m->name), false, err);
	if (rc == L3AF_OK)
		rc = copy_str(o, "version", what, i, m->version, sizeof(m->version), false, err);
	if (rc == L3AF_OK)
		rc = copy_str(o, "platform", what, i, m->platform, sizeof(m->platform), false, err);
	if (rc == L3AF_OK)
		rc = copy_str(o, "reason", what, i, m->reason, sizeof(m->reason), false, err);
	if (rc != L3AF_OK)
		return rc;
	m->has_platform = m->platform[0] != '\0';
	if (!m->has_sha256 && !m->has_index && !(m->name[0] && m->version[0]))
		return l3af_fail(err, L3AF_E_INVALID,
				 "node policy: %s[%zu]: give sha256, index, or name and version",
				 what, i);
	if ((m->name[0] != 0) != (m->version[0] != 0) || (m->has_platform && !m->name[0]))
		return l3af_fail(err, L3AF_E_INVALID,
				 "node policy: %s[%zu]: name and version go together (platform "
				 "only with them)", what, i);
	return L3AF_OK;
}

static enum l3af_status parse_matches(json_t *v, const char *what, struct lv_match **out,
				      size_t *n, struct l3af_err *err)
{
	size_t i;
	json_t *o;
	enum l3af_status rc;

	if (!json_is_array(v) || json_array_size(v) > LV_LIST_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "node policy: %s: not an array of <= %d",
				 what, LV_LIST_MAX);
	*out = l3af_calloc(json_array_size(v) + 1, sizeof(**out));
	if (!*out)
		return l3af_fail(err, L3AF_E_NOMEM, "node policy: no memory");
	json_array_foreach(v, i, o) {
		rc = parse_match(o, what, i, &(*out)[i], err);
		if (rc != L3AF_OK)
			return rc;
		(*n)++;
	}
	return L3AF_OK;
}

static enum l3af_status get_bool(json_t *v, const char *key, bool *out, struct l3af_err *err)
{
	if (!json_is_boolean(v))
		return l3af_fail(err, L3AF_E_INVALID, "node policy: %s: not true or false", key);
	*out = json_is_true(v);
	return L3AF_OK;
}

static enum l3af_status node_key(struct lv_node *n, const char *k, json_t *v,
				 struct l3af_err *err)
{
	if (!strcmp(k, "version")) {
		if (!json_is_integer(v) || json_integer_value(v) != 1)
			return l3af_fail(err, L3AF_E_INVALID, "node policy: version: must be 1");
		return L3AF_OK;
	}
	if (!strcmp(k, "max_checkpoint_age")) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return l3af_fail(err, L3AF_E_INVALID,
					 "node policy: max_checkpoint_age: not a number of seconds");
		n->max_age = (uint64_t)json_integer_value(v);
		return L3AF_OK;
	}
	if (!strcmp(k, "allowed_program_types"))
		return str_list(v, k, false, &n->allowed_types, err);
	if (!strcmp(k, "denied_helpers"))
		return str_list(v, k, true, &n->denied_helpers, err);
	if (!strcmp(k, "denied_kfuncs"))
		return str_list(v, k, false, &n->denied_kfuncs, err);
	if (!strcmp(k, "allow_tail_calls"))
		return get_bool(v, k, &n->allow_tail_calls, err);
	if (!strcmp(k, "allow_user_binaries"))
		return get_bool(v, k, &n->allow_user_binaries, err);
	if (!strcmp(k, "allow_native_images"))
		return get_bool(v, k, &n->allow_native_images, err);
	if (!strcmp(k, "pinned"))
		return parse_pins(v, n, err);
	if (!strcmp(k, "revoked"))
		return parse_matches(v, k, &n->revoked, &n->nrevoked, err);
	if (!strcmp(k, "yanked"))
		return parse_matches(v, k, &n->yanked, &n->nyanked, err);
	return l3af_fail(err, L3AF_E_INVALID, "node policy: unknown key '%s'", k);
}

enum l3af_status lv_node_parse(const char *json, size_t len, struct lv_node *out,
			       struct l3af_err *err)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *k;
	enum l3af_status rc = L3AF_OK;

	lv_node_defaults(out);
	if (!out->allowed_types || !out->denied_helpers || !out->denied_kfuncs) {
		lv_node_clear(out);
		return l3af_fail(err, L3AF_E_NOMEM, "node policy: no memory");
	}
	if (len > LV_NODE_POLICY_MAX) {
		lv_node_clear(out);
		return l3af_fail(err, L3AF_E_LIMIT, "node policy: over %u bytes", LV_NODE_POLICY_MAX);
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		lv_node_clear(out);
		return l3af_fail(err, L3AF_E_INVALID, "node policy: not a JSON object%s%s",
				 root ? "" : ": ", root ? "" : jerr.text);
	}
	json_object_foreach(root, k, v) {
		rc = node_key(out, k, v, err);
		if (rc != L3AF_OK)
			break;
	}
	json_decref(root);
	if (rc != L3AF_OK)
		lv_node_clear(out);
	return rc;
}
