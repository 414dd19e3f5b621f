/*
 * inspect_json.c - an inspected object as JSON (docs/policy-format.md,
 * "Inspection JSON").
 *
 * Security property: every string written here was checked at inspection
 * (UTF-8 file name, printable ASCII names and licence), so the JSON cannot
 * carry control bytes; any allocation failure is reported, never a partial
 * document.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ebpf.h"

/* ---- JSON (docs/policy-format.md, "Inspection JSON") ---------------------- */

static const char *const type_source_names[] = {
	[EBPF_TYPE_LIBBPF] = "libbpf", [EBPF_TYPE_PREFIX] = "prefix",
	[EBPF_TYPE_UNKNOWN] = "unknown",
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* json_object_set_new and json_array_append_new take NULL as failure and
 * return -1, so a chain of them reports any allocation failure at the end. */
static json_t *helpers_json(const struct ebpf_prog *p)
{
	json_t *a = json_array(), *h;
	char name[EBPF_HELPER_NAME_BYTES];
	int bad = !a;

	for (size_t i = 0; a && i < p->nhelpers; i++) {
		h = json_object();
		bad |= !h;
		bad |= json_object_set_new(h, "id", json_integer(p->helpers[i]));
		bad |= json_object_set_new(h, "name",
					   json_string(ebpf_helper_format(p->helpers[i], name)));
		bad |= json_array_append_new(a, h);
	}
	if (bad)
		json_decref(a);
	return bad ? NULL : a;
}

static json_t *kfuncs_json(const struct ebpf_prog *p)
{
	json_t *a = json_array();
	int bad = !a;

	for (size_t i = 0; a && i < p->nkfuncs; i++)
		bad |= json_array_append_new(a, json_string(p->kfuncs[i]));
	if (bad)
		json_decref(a);
	return bad ? NULL : a;
}

static json_t *prog_json(const struct ebpf_prog *p)
{
	char hex[2 * EBPF_SHA256_BYTES + 1];
	json_t *o = json_object();
	int bad = !o;

	l3af_hex_encode(hex, p->insns_sha256, EBPF_SHA256_BYTES);
	bad |= json_object_set_new(o, "name", json_string(p->name));
	bad |= json_object_set_new(o, "section", json_string(p->section));
	bad |= json_object_set_new(o, "prog_type", json_string(p->prog_type));
	bad |= json_object_set_new(o, "type_source",
				   json_string(type_source_names[p->type_source]));
	bad |= json_object_set_new(o, "attach_type", str_or_null(p->attach_type));
	bad |= json_object_set_new(o, "insn_cnt", json_integer(p->insn_cnt));
	bad |= json_object_set_new(o, "insns_sha256", json_string(hex));
	bad |= json_object_set_new(o, "helpers", helpers_json(p));
	bad |= json_object_set_new(o, "kfuncs", kfuncs_json(p));
	bad |= json_object_set_new(o, "tail_calls", json_integer(p->tail_calls));
	bad |= json_object_set_new(o, "core_relos", json_integer(p->core_relos));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

static json_t *map_json(const struct ebpf_map *m)
{
	json_t *o = json_object();
	int bad = !o;

	bad |= json_object_set_new(o, "name", json_string(m->name));
	bad |= json_object_set_new(o, "type", json_string(m->type));
	bad |= json_object_set_new(o, "key_size", json_integer(m->key_size));
	bad |= json_object_set_new(o, "value_size", json_integer(m->value_size));
	bad |= json_object_set_new(o, "max_entries", json_integer(m->max_entries));
	bad |= json_object_set_new(o, "pinning",
				   json_string(m->pinned_by_name ? "by_name" : "none"));
	bad |= json_object_set_new(o, "internal", json_boolean(m->internal));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

static json_t *object_json(const struct ebpf_object *obj)
{
	json_t *o = json_object(), *progs = json_array(), *maps = json_array();
	int bad = !o || !progs || !maps;

	for (size_t i = 0; progs && i < obj->nprogs; i++)
		bad |= json_array_append_new(progs, prog_json(&obj->progs[i]));
	for (size_t i = 0; maps && i < obj->nmaps; i++)
		bad |= json_array_append_new(maps, map_json(&obj->maps[i]));
	bad |= json_object_set_new(o, "programs", progs);
	bad |= json_object_set_new(o, "maps", maps);
	bad |= json_object_set_new(o, "file", json_string(obj->file));
	bad |= json_object_set_new(o, "license", str_or_null(obj->license));
	bad |= json_object_set_new(o, "gpl_compatible", json_boolean(obj->gpl_compatible));
	bad |= json_object_set_new(o, "btf", json_boolean(obj->btf));
	bad |= json_object_set_new(o, "core_relos", json_integer(obj->core_relos));
	if (bad)
		json_decref(o);
	return bad ? NULL : o;
}

json_t *ebpf_object_json(const struct ebpf_object *obj)
{
	return obj ? object_json(obj) : NULL;
}

enum l3af_status ebpf_object_to_json(const struct ebpf_object *obj, char **json,
				     struct l3af_err *err)
{
	json_t *root = NULL;
	char *text = NULL;
	enum l3af_status rc = L3AF_OK;
	size_t n;

	*json = NULL;
	root = object_json(obj);
	text = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		/* every string was checked at inspection (new_object,
		 * ebpf_text_ok), so only memory can be short here */
		rc = l3af_fail(err, L3AF_E_NOMEM, "%s: JSON: out of memory", obj->file);
		goto out;
	}
	n = strlen(text) + 1;
	*json = l3af_malloc(n);
	if (!*json) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "%s: JSON: out of memory", obj->file);
		goto out;
	}
	memcpy(*json, text, n);
out:
	free(text);
	json_decref(root);
	return rc;
}
