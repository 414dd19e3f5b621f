/*
 * vfixture.h - a real log for the verifier tests, built in process: a log
 * made by tlog_create and filled with tlog_append (entry 0 admin.root, 1
 * acme's publisher.keys, 2 beta's publisher.keys, then package entries made
 * from real archives (ebpf_pkg_create over BPF objects compiled by clang)
 * with real DSSE envelopes), real witness keys, bundles made with
 * tlog_prove_inclusion + tlog_checkpoint_get + tlog_bundle_format.
 */
#ifndef L3AF_VFIXTURE_H
#define L3AF_VFIXTURE_H

#include "testutil.h"

#include <jansson.h>

#include "ebpf.h"
#include "signer.h"

#define VFX_ORIGIN "verify.example/log"
#define VFX_NWITNESS 3
#define VFX_NOW ((uint64_t)1800000000)

struct vfx {
	char *dir;                          /* temporary root */
	char logdir[600];
	struct tlog *log;
	char logvkey[SIGNER_VKEY_TEXT_MAX];
	struct signer_vkey logvk;
	struct signer_privkey *admin, *acme, *beta;
	struct signer_key *witness[VFX_NWITNESS];
	char wvkey[VFX_NWITNESS][SIGNER_VKEY_TEXT_MAX];
	uint64_t acme_keys, beta_keys;      /* indices of the key sets */
};

/* A package to make. Fields left NULL/0 take the defaults: name
 * "ratelimiting", version "1.0.0", platform linux/amd64, object
 * tc_count.bpf.o, publisher acme signed by acme's key. */
struct vfx_spec {
	const char *name, *version, *platform, *object, *publisher;
	struct signer_privkey *signer;      /* default: acme */
	uint64_t keys_index;                /* default: acme_keys */
	bool exe;                           /* add a 0755 user-space script */
	bool drop_readme_from_archive;      /* archive lacks a manifest file */
	bool extra_in_archive;              /* archive has a file the manifest lacks */
	bool reserved;                      /* the package holds .l3af-verified.json */
	const char *objects_file;           /* recorded facts name this file instead */
	const uint8_t *art;                 /* artifact bytes instead of the archive */
	size_t art_len;
};

struct vfx_pkg {
	uint64_t index;
	uint8_t *art;                       /* artifact bytes (malloc) */
	size_t art_len;
	char name[80], version[64], platform[64], file[300];
};

void vfx_init(struct vfx *f);
/* Append a publisher.keys entry (version 1, namespace ns, key's public
 * half) authorised by an admin request signed by f->admin; the request
 * may differ from the entry: req_origin (its origin) and req_ns (its
 * namespace) when not NULL. Returns its index. */
uint64_t vfx_keyset(struct vfx *f, const char *publisher, const char *ns,
		    struct signer_privkey *key, uint8_t nonce, const char *req_origin,
		    const char *req_ns);
void vfx_free(struct vfx *f);
/* Build, append and describe a package. */
void vfx_package(struct vfx *f, const struct vfx_spec *spec, struct vfx_pkg *out);
void vfx_pkg_free(struct vfx_pkg *p);
/* The bundle (malloc'd text) for entry index against the log's current
 * checkpoint, cosigned by witness i at times[i] for each i with times[i] != 0. */
char *vfx_bundle(struct vfx *f, uint64_t index, const uint64_t times[VFX_NWITNESS]);
/* A trust policy: the log, the three witnesses (w0, w1, w2), then tail
 * (e.g. "group g 2 w0 w1 w2\nquorum g\n"). malloc'd. */
char *vfx_policy(const struct vfx *f, const char *tail);
/* Consistency proof JSON between two sizes of the log (malloc'd). */
char *vfx_consistency(struct vfx *f, uint64_t old, uint64_t new);
/* Append n filler entries. */
void vfx_fill(struct vfx *f, unsigned n);
/* Close and re-open the log (to copy its directory). */
void vfx_close(struct vfx *f);
void vfx_open(struct vfx *f);
/* A tar.gz with one top-level l3af_<name>/ folder and, after the normal
 * files, one crafted entry: kind 's' symlink, 'u' setuid file, 'd' a
 * "../" path. *len receives its size; malloc'd. */
uint8_t *vfx_crafted_archive(const char *name, char kind, size_t *len);
/* Write data to dir/name (mode 0644). */
void vfx_write(const char *dir, const char *name, const void *data, size_t len);

#endif
