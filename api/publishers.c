/*
 * publishers.c - the write side's publishers in memory (moved out of
 * write.c): each publisher's key set in force for new packages, set when a
 * publisher.keys entry is queued (or loaded at start-up), and undone when
 * the log refuses that entry. All under w->lock.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <string.h>

struct api_pub *api_write_pub(struct api_write *w, const char *publisher)
{
	for (size_t i = 0; i < w->npubs; i++)
		if (!strcmp(w->pubs[i].ks.publisher, publisher))
			return &w->pubs[i];
	return NULL;
}

enum l3af_status api_write_pub_reserve(struct api_write *w, struct l3af_err *err)
{
	if (w->npubs == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct api_pub *n = l3af_realloc(w->pubs, cap * sizeof(*n));
		if (!n)
			return l3af_fail(err, L3AF_E_NOMEM, "publishers: out of memory");
		w->pubs = n;
		w->cap = cap;
	}
	return L3AF_OK;
}

enum l3af_status api_pub_set(struct api_write *w, const struct signer_keyset *ks,
			     const uint8_t leaf[32], bool known, uint64_t index,
			     struct l3af_err *err)
{
	struct api_pub *p = api_write_pub(w, ks->publisher);

	if (!p) {
		if (api_write_pub_reserve(w, err) != L3AF_OK)
			return err->code;
		p = &w->pubs[w->npubs++];
	}
	p->ks = *ks;
	p->index = index;
	p->index_known = known;
	p->gen = ++w->gen;
	memcpy(p->leaf, leaf, 32);
	return L3AF_OK;
}

enum l3af_status api_write_pub_set(struct api_write *w, struct api_ticket *t,
				   const struct signer_keyset *ks, struct l3af_err *err)
{
	struct api_pub *cur = api_write_pub(w, ks->publisher);

	if (cur) {
		t->prev_pub = l3af_malloc(sizeof(*t->prev_pub));
		if (!t->prev_pub)
			return l3af_fail(err, L3AF_E_NOMEM, "publishers: out of memory");
		*t->prev_pub = *cur;
	}
	t->has_prev_pub = cur != NULL;
	return api_pub_set(w, ks, t->leaf, false, 0, err);
}

/* Lock held: the log refused publisher.keys ticket t. Undo its key set: the
 * publisher gets its state before t back (a registration is dropped); if a
 * later update is queued on top of t, that one's "before" becomes t's. */
void api_pub_undo(struct api_write *w, struct api_ticket *t)
{
	for (size_t i = 0; i < w->npubs; i++) {
		struct api_pub *p = &w->pubs[i];
		if (p->index_known || memcmp(p->leaf, t->leaf, 32) != 0)
			continue;
		if (t->has_prev_pub) {
			*p = *t->prev_pub;
			p->gen = ++w->gen;
		} else {
			w->pubs[i] = w->pubs[--w->npubs];
		}
		return;
	}
	for (struct api_ticket *u = t->next; u; u = u->next)
		if (u->kind == SIGNER_ENTRY_PUBLISHER_KEYS && u->has_prev_pub &&
		    !memcmp(u->prev_pub->leaf, t->leaf, 32)) {
			u->has_prev_pub = t->has_prev_pub;
			if (t->has_prev_pub)
				*u->prev_pub = *t->prev_pub;
			return;
		}
}
