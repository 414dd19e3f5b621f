/*
 * vsuite.h - the shared fixture of the libl3af-verify tests (test_verify.c:
 * the log side; test_verify_pkg.c: the package side): one real log with the
 * packages every case needs (vfixture), a check() that runs one offline
 * verification through the public header, and expect().
 */
#ifndef L3AF_VSUITE_H
#define L3AF_VSUITE_H

#include "vfixture.h"

#include "l3af_verify.h"

extern struct vfx F;
extern struct vfx_pkg ok, old, helper, tail, exe, unknown_key, beta_key, outside_ns, wrong_pub,
	missing, extra, symlink_pkg, setuid_pkg, dotdot_pkg, objects_pkg, reserved_pkg,
	forged_ns_pkg, other_origin_pkg;
extern struct signer_privkey *stranger;
extern char *b1;                 /* bundle of ok at the early size s1 */
extern uint64_t s1;
extern char forkdir[600];

#define GOOD_TAIL "group g 2 w0 w1 w2\nquorum g\n"
extern const uint64_t two[VFX_NWITNESS];

struct call {
	const char *tail, *node, *bundle, *consistency, *state;
	const struct vfx_pkg *p;
	const char *name, *version, *platform, *file;
	const uint8_t *art;
	size_t art_len;
	bool dev;
};

/* One check with a fresh state directory unless c->state. */
struct l3af_verify_result *check(const struct call *c);
/* Assert the verdict (and, if code, that reason); frees res. */
void expect(struct l3af_verify_result *res, enum l3af_verify_verdict v, const char *code);
/* cmocka group setup / teardown: builds / frees the log and packages. */
int vsuite_setup(void **state);
int vsuite_teardown(void **state);

#endif
