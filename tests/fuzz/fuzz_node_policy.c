/*
 * fuzz_node_policy.c - the verifier's node policy parser (JSON,
 * lv_node_parse in verifier/node_policy.c) on any bytes. Properties: never
 * crashes, never leaks (every path ends in lv_node_clear); an accepted
 * policy is within its limits (lists of at most LV_LIST_MAX items, every
 * string NUL-terminated inside its field, the JSON lists arrays), parsing
 * is deterministic, and a refusal says why and leaves nothing allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check_match(const struct lv_match *m)
{
	if (!TERMINATED(m->name) || !TERMINATED(m->version) || !TERMINATED(m->platform) ||
	    !TERMINATED(m->reason))
		abort();
	if (!m->has_sha256 && !m->has_index && !m->name[0])
		abort(); /* a match names something */
}

static void check_node(const struct lv_node *n)
{
	if (!json_is_array(n->allowed_types) || !json_is_array(n->denied_helpers) ||
	    !json_is_array(n->denied_kfuncs))
		abort();
	if (n->npins > LV_LIST_MAX || n->nrevoked > LV_LIST_MAX || n->nyanked > LV_LIST_MAX ||
	    json_array_size(n->allowed_types) > LV_LIST_MAX ||
	    json_array_size(n->denied_helpers) > LV_LIST_MAX ||
	    json_array_size(n->denied_kfuncs) > LV_LIST_MAX)
		abort();
	if ((n->npins && !n->pins) || (n->nrevoked && !n->revoked) || (n->nyanked && !n->yanked))
		abort();
	for (size_t i = 0; i < n->npins; i++)
		if (!TERMINATED(n->pins[i].name) || !TERMINATED(n->pins[i].platform) ||
		    !TERMINATED(n->pins[i].version) || !n->pins[i].name[0])
			abort();
	for (size_t i = 0; i < n->nrevoked; i++)
		check_match(&n->revoked[i]);
	for (size_t i = 0; i < n->nyanked; i++)
		check_match(&n->yanked[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_node a, b;
	struct l3af_err e1 = { 0 }, e2 = { 0 };
	enum l3af_status r1 = lv_node_parse((const char *)data, size, &a, &e1);
	enum l3af_status r2 = lv_node_parse((const char *)data, size, &b, &e2);

	if (r1 != r2)
		abort();
	if (r1 != L3AF_OK) {
		if (!e1.msg[0] || a.allowed_types || a.pins || a.revoked || a.yanked)
			abort();
		return 0;
	}
	check_node(&a);
	if (a.max_age != b.max_age || a.npins != b.npins || a.nrevoked != b.nrevoked ||
	    a.nyanked != b.nyanked || a.allow_tail_calls != b.allow_tail_calls ||
	    a.allow_user_binaries != b.allow_user_binaries ||
	    a.allow_native_images != b.allow_native_images ||
	    !json_equal(a.denied_helpers, b.denied_helpers) ||
	    (a.npins && memcmp(a.pins, b.pins, a.npins * sizeof(*a.pins))) ||
	    (a.nrevoked && memcmp(a.revoked, b.revoked, a.nrevoked * sizeof(*a.revoked))))
		abort();
	lv_node_clear(&a);
	lv_node_clear(&b);
	return 0;
}
