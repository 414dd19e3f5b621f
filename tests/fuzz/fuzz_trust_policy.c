/*
 * fuzz_trust_policy.c - the verifier's trust policy parser
 * (c2sp.org/tlog-policy, lv_trust_parse in verifier/trust_policy.c) on any
 * bytes. Properties: never crashes, never leaks; a policy accepted without
 * the development flag is accepted identically with it; an accepted policy
 * is well formed (1..32 logs, names NUL-terminated, group members refer to
 * witnesses or to earlier groups, 1 <= k <= n, the quorum a defined name or
 * none only with the flag); quorum evaluation is monotonic (more cosigners
 * never lose a met quorum) and "quorum none" is always met.
 */
#include <stdlib.h>
#include <string.h>

#include "verify_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_well_formed(const struct lv_trust *t, bool allow_none)
{
	if (t->nlogs == 0 || t->nlogs > LV_POLICY_MAX || t->nwitnesses > LV_POLICY_MAX ||
	    t->ngroups > LV_POLICY_MAX)
		abort();
	for (size_t i = 0; i < t->nwitnesses; i++)
		if (memchr(t->wnames[i], '\0', sizeof(t->wnames[i])) == NULL || !t->wnames[i][0])
			abort();
	for (size_t g = 0; g < t->ngroups; g++) {
		const struct lv_group *gr = &t->groups[g];

		if (!memchr(gr->name, '\0', sizeof(gr->name)) || gr->n == 0 ||
		    gr->n > LV_POLICY_MAX || gr->k == 0 || gr->k > gr->n)
			abort();
		for (size_t m = 0; m < gr->n; m++) {
			int v = gr->members[m];

			if (v >= 0 ? (size_t)v >= t->nwitnesses : (size_t)(-v - 1) >= g)
				abort();
		}
	}
	if (t->quorum == LV_QUORUM_NONE) {
		if (!allow_none || !lv_trust_quorum(t, 0))
			abort();
	} else if (t->quorum >= 0 ? (size_t)t->quorum >= t->nwitnesses
				  : (size_t)(-t->quorum - 1) >= t->ngroups) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lv_trust strict, lax; /* 70 KiB each: not on the stack */
	struct l3af_err e1 = { 0 }, e2 = { 0 };
	const char *text = (const char *)data;
	enum l3af_status r1 = lv_trust_parse(text, size, false, &strict, &e1);
	enum l3af_status r2 = lv_trust_parse(text, size, true, &lax, &e2);
	uint64_t all, mask;

	if (r1 == L3AF_OK && (r2 != L3AF_OK || memcmp(&strict, &lax, sizeof(strict)) != 0))
		abort();
	if (r1 != L3AF_OK && !e1.msg[0])
		abort();
	if (r2 != L3AF_OK)
		return 0;
	check_well_formed(&lax, true);
	all = lax.nwitnesses == 64 ? UINT64_MAX : (UINT64_C(1) << lax.nwitnesses) - 1;
	/* a few masks taken from the input, each then grown to all witnesses */
	for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
		memcpy(&mask, data + i, sizeof(mask));
		mask &= all;
		if (lv_trust_quorum(&lax, mask) && !lv_trust_quorum(&lax, all))
			abort();
	}
	if (lv_trust_quorum(&lax, 0) && lax.quorum != LV_QUORUM_NONE)
		abort(); /* k >= 1 everywhere: nobody cosigning cannot meet a quorum */
	return 0;
}
