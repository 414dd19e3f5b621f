/*
 * signer.h - keys and signed notes for l3af-tlog.
 *
 * Implements c2sp.org/signed-note v1.0.0 with Ed25519 (type 0x01) signatures
 * and c2sp.org/tlog-cosignature v1.0.1 timestamped Ed25519 cosignatures
 * (type 0x04), on libsodium. Private keys live in sodium_malloc'd memory that
 * is no-access except while signing, and every temporary that held secret
 * bytes is wiped.
 *
 * Text forms (signed-note section "Verifier keys", x/mod convention for the
 * private form):
 *   verifier key  <name>+<8 lowercase hex key ID>+<base64(type || pub)>
 *   private key   PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || seed32)>
 * Key ID = first 4 bytes (big endian) of SHA-256(name || 0x0A || type || pub).
 *
 * Thread safety: functions on distinct objects may run concurrently; a
 * struct signer_key may be used to sign from several threads at once (the
 * unlock/lock of its memory is reference counted under a mutex).
 */
#ifndef L3AF_SIGNER_H
#define L3AF_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l3af.h"

#define SIGNER_PUB_BYTES 32           /* Ed25519 public key */
#define SIGNER_SIG_BYTES 64           /* Ed25519 signature */
#define SIGNER_NAME_MAX 255           /* key name bytes, excluding NUL */
#define SIGNER_NOTE_MAX (1u << 20)    /* largest note accepted, bytes */
#define SIGNER_NOTE_SIGS_MAX 100      /* signature lines accepted (spec: >= 16) */
#define SIGNER_VKEY_TEXT_MAX 512      /* room for any verifier key text + NUL */
/* Room for any signature line signer_note_sign_line writes, with its NUL:
 * U+2014 and a space (4 bytes), name (<= 255), " ", base64 of <= 76 bytes
 * (104), "\n". */
#define SIGNER_NOTE_LINE_MAX 368

#define SIGNER_TYPE_ED25519 0x01      /* signed-note: Ed25519 */
#define SIGNER_TYPE_COSIG_V1 0x04     /* tlog-cosignature/v1: timestamped Ed25519 */

/* A public verifier key. For type 0x04 keys, signatures carry a timestamp. */
struct signer_vkey {
	char name[SIGNER_NAME_MAX + 1];
	uint32_t id;
	uint8_t type;
	uint8_t pub[SIGNER_PUB_BYTES];
};

/* A private Ed25519 key and its name (opaque; secret kept in guarded memory). */
struct signer_key;

/* Key ID per signed-note: SHA-256(name || "\n" || type || pub)[:4], big endian. */
uint32_t signer_key_id(const char *name, uint8_t type,
		       const uint8_t pub[static SIGNER_PUB_BYTES]);

/* Check a key name per signed-note: 1..255 bytes of valid UTF-8, no Unicode
 * white space, no '+', no control characters. */
enum l3af_status signer_name_check(const char *name,
				   struct l3af_err *err) L3AF_MUST_CHECK;

/* New random key named `name` with signature type `type` (0x01 for a log or
 * publisher, 0x04 for a witness). Free with signer_key_free. */
enum l3af_status signer_key_generate(const char *name, uint8_t type,
				     struct signer_key **out,
				     struct l3af_err *err) L3AF_MUST_CHECK;
/* Parse the private key text form (type 0x01 as in x/mod; type 0x04 is our
 * extension so that witness keys survive save/load; a trailing "\n" is
 * allowed). The text buffer is not wiped: the caller owns it. */
enum l3af_status signer_key_parse(const char *text, size_t len,
				  struct signer_key **out,
				  struct l3af_err *err) L3AF_MUST_CHECK;
/* Make a key from a 32-byte Ed25519 seed (tests, known-answer vectors). */
enum l3af_status signer_key_from_seed(const char *name, uint8_t type,
				      const uint8_t seed[static 32],
				      struct signer_key **out,
				      struct l3af_err *err) L3AF_MUST_CHECK;
/* Load a private key file (at most 1 KiB); refuses files that group or
 * others may access (mode & 077, as ssh does). L3AF_E_NOTFOUND if absent. */
enum l3af_status signer_key_load(const char *path, struct signer_key **out,
				 struct l3af_err *err) L3AF_MUST_CHECK;
/* Write the private key text (with a final newline) to a new file, mode
 * 0600, exclusive create, no symlink following; L3AF_E_EXISTS if the path
 * exists, even as a dangling symlink. */
enum l3af_status signer_key_save(const struct signer_key *key, const char *path,
				 struct l3af_err *err) L3AF_MUST_CHECK;
/* Wipe and free; NULL is fine. */
void signer_key_free(struct signer_key *key);
/* The public half (always succeeds). */
void signer_key_vkey(const struct signer_key *key, struct signer_vkey *out);
/* Borrowed pointer to the key name, valid while key lives. */
const char *signer_key_name(const struct signer_key *key);

/* Verifier key text: parse (splitting on the first two '+' only, checking the
 * ID against the key) and format (into buf[SIGNER_VKEY_TEXT_MAX]). */
enum l3af_status signer_vkey_parse(const char *text, size_t len,
				   struct signer_vkey *out,
				   struct l3af_err *err) L3AF_MUST_CHECK;
void signer_vkey_format(const struct signer_vkey *vkey,
			char buf[static SIGNER_VKEY_TEXT_MAX]);

/*
 * Sign note text (which must be valid note text: UTF-8, no control characters
 * but '\n', ends in '\n', no '\n\n' at the end) and return a new note: the
 * text, a blank line and one signature line. For a type 0x04 key the
 * signature is a tlog-cosignature/v1 over `time` (POSIX seconds, at most
 * 2^63-1); type 0x01 keys ignore `time`.
 * *note is NUL-terminated, owned by the caller (l3af_free).
 */
enum l3af_status signer_note_sign(const struct signer_key *key,
				  const char *text, size_t text_len,
				  uint64_t time, char **note, size_t *note_len,
				  struct l3af_err *err) L3AF_MUST_CHECK;
/* Produce just one signature line ("— name base64\n") over text, for adding
 * to an existing note (cosigning). line[] receives a NUL-terminated line. */
enum l3af_status signer_note_sign_line(const struct signer_key *key,
				       const char *text, size_t text_len,
				       uint64_t time, char *line, size_t cap,
				       struct l3af_err *err) L3AF_MUST_CHECK;

/* What signer_note_open found. */
struct signer_note_result {
	size_t text_len;               /* note text is note[0 .. text_len) */
	unsigned sig_lines;            /* signature lines present */
	unsigned verified;             /* known keys whose signature verified */
	/* verified_mask bit i: keys[i] verified; time[i]: cosignature time
	 * (0 for type 0x01) */
	uint64_t verified_mask;
	uint64_t time[64];
};

/*
 * Parse and verify a signed note against up to 64 known keys (types 0x01
 * and 0x04 only, else L3AF_E_INVALID), per signed-note "Signatures" and
 * tlog-cosignature "Format": signature lines from unknown (name, ID) pairs are
 * ignored; if any known key's signature fails the whole note is rejected
 * (L3AF_E_VERIFY); at least one known key must verify (else L3AF_E_VERIFY).
 * Malformed notes (bad UTF-8, control characters, no final newline, no
 * signature block, more than SIGNER_NOTE_SIGS_MAX lines, a bad line) are
 * L3AF_E_INVALID; a note over SIGNER_NOTE_MAX is L3AF_E_LIMIT. Nothing is
 * allocated, except a copy of the text to check a cosignature (0x04) over
 * text longer than 4 KiB (then L3AF_E_NOMEM is possible). `out` may be NULL;
 * it is filled only on success.
 */
enum l3af_status signer_note_open(const char *note, size_t len,
				  const struct signer_vkey *keys, size_t nkeys,
				  struct signer_note_result *out,
				  struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- Publisher keys, DSSE envelopes, in-toto statements ------------------
 * Publisher keys sign package statements. Two algorithms: Ed25519 (libsodium,
 * secret in guarded memory) and ECDSA P-256 with SHA-256 (OpenSSL 3 EVP, DER
 * signatures). Every publisher key has one ID: the lowercase hex SHA-256 of
 * its DER SubjectPublicKeyInfo. Private key files are unencrypted PKCS#8
 * PEM ("BEGIN PRIVATE KEY"), mode 0600. Contracts: docs/signer.md.
 */
enum signer_alg {
	SIGNER_ALG_ED25519 = 1,
	SIGNER_ALG_ECDSA_P256 = 2,
};

#define SIGNER_SPKI_MAX 91          /* P-256 SPKI, uncompressed point */
#define SIGNER_KEYID_BYTES 65       /* 64 lowercase hex + NUL */
#define SIGNER_PUBKEY_PEM_MAX 256   /* any public key PEM, with NUL */
#define SIGNER_DSSE_MAX (1u << 20)  /* largest envelope accepted or made */
#define SIGNER_DSSE_SIGS_MAX 16     /* signature entries in one envelope */
#define SIGNER_DSSE_KEYS_MAX 64     /* trusted keys for one verify */

#define SIGNER_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define SIGNER_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define SIGNER_PREDICATE_TYPE "https://l3af.io/attestation/ebpf-package/v1"
#define SIGNER_SUBJECT_NAME_MAX 255 /* subject name bytes, excluding NUL */
#define SIGNER_STATEMENT_MAX (1u << 19) /* statement JSON bytes (fits an envelope) */
#define SIGNER_PREDICATE_DEPTH_MAX 32   /* nesting of arrays/objects in predicate */

/* A publisher's public key (plain data; copy freely). spki is canonical DER:
 * it re-encodes to itself. */
struct signer_pubkey {
	enum signer_alg alg;
	char id[SIGNER_KEYID_BYTES];
	size_t spki_len;
	uint8_t spki[SIGNER_SPKI_MAX];
};

/* A publisher's private key (opaque). */
struct signer_privkey;

/* "ed25519", "ecdsa-p256", or "unknown". */
const char *signer_alg_name(enum signer_alg alg);

/* Public key from DER SubjectPublicKeyInfo (Ed25519 or P-256 named curve,
 * canonical encoding only) or from PEM "PUBLIC KEY" text (one block, nothing
 * after it but newlines). L3AF_E_INVALID on anything else. */
enum l3af_status signer_pubkey_from_spki(const uint8_t *der, size_t len,
					 struct signer_pubkey *out,
					 struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_pubkey_parse_pem(const char *text, size_t len,
					 struct signer_pubkey *out,
					 struct l3af_err *err) L3AF_MUST_CHECK;
/* PEM text of pub, NUL-terminated, in buf; L3AF_E_INVALID if pub is not a
 * key this module made or parsed. */
enum l3af_status signer_pubkey_format_pem(const struct signer_pubkey *pub,
					  char buf[static SIGNER_PUBKEY_PEM_MAX],
					  struct l3af_err *err) L3AF_MUST_CHECK;

/* New random key; load (PKCS#8 PEM, same file checks as signer_key_load);
 * save (new file, 0600, exclusive, no symlink following); free (wipes; NULL
 * is fine); borrowed public half, valid while key lives. */
enum l3af_status signer_privkey_generate(enum signer_alg alg,
					 struct signer_privkey **out,
					 struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_privkey_load(const char *path,
				     struct signer_privkey **out,
				     struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_privkey_save(const struct signer_privkey *key,
				     const char *path,
				     struct l3af_err *err) L3AF_MUST_CHECK;
void signer_privkey_free(struct signer_privkey *key);
const struct signer_pubkey *signer_privkey_pubkey(const struct signer_privkey *key);

/* DSSE v1 pre-authentication encoding (secure-systems-lab/dsse protocol.md):
 * "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. *out is l3af_malloc'd.
 * L3AF_E_LIMIT if body is over SIGNER_DSSE_MAX. */
enum l3af_status signer_dsse_pae(const char *type, size_t type_len,
				 const uint8_t *body, size_t body_len,
				 uint8_t **out, size_t *out_len,
				 struct l3af_err *err) L3AF_MUST_CHECK;
/* Sign PAE(type, payload) and return the JSON envelope with one signature,
 * compact with sorted keys, NUL-terminated, l3af_free'd by the caller.
 * L3AF_E_LIMIT if the envelope would exceed SIGNER_DSSE_MAX. */
enum l3af_status signer_dsse_sign(const struct signer_privkey *key,
				  const char *payload_type,
				  const uint8_t *payload, size_t payload_len,
				  char **envelope,
				  struct l3af_err *err) L3AF_MUST_CHECK;

/* What signer_dsse_verify found. payload_type and payload (NUL-terminated
 * after payload_len bytes) are owned; release with signer_dsse_result_clear. */
struct signer_dsse_result {
	char *payload_type;
	uint8_t *payload;
	size_t payload_len;
	unsigned sigs;          /* signature entries present */
	unsigned verified;      /* distinct trusted keys that verified */
	uint64_t verified_mask; /* bit i: keys[i] verified */
};

/* Parse a JSON envelope (at most SIGNER_DSSE_MAX bytes, checked before
 * parsing) and verify it against nkeys (1..64) trusted keys: it verifies if
 * at least `threshold` (1..nkeys) distinct keys made a valid signature over
 * the PAE. A signature with a non-empty keyid is tried only against the key
 * with that ID; one with none against every key. Failing signatures are
 * skipped (DSSE "Multi-signature Verification"). L3AF_E_VERIFY below the
 * threshold; L3AF_E_INVALID for a malformed envelope or bad arguments;
 * L3AF_E_LIMIT for size; L3AF_E_NOMEM; L3AF_E_CRYPTO. `out` is filled only
 * on success, and may be NULL. */
enum l3af_status signer_dsse_verify(const char *envelope, size_t len,
				    const struct signer_pubkey *keys,
				    size_t nkeys, unsigned threshold,
				    struct signer_dsse_result *out,
				    struct l3af_err *err) L3AF_MUST_CHECK;
void signer_dsse_result_clear(struct signer_dsse_result *res);

/* An in-toto Statement v1 with one subject. predicate is owned (jansson
 * reference); release with signer_statement_clear. */
struct json_t;
struct signer_statement {
	char name[SIGNER_SUBJECT_NAME_MAX + 1];
	uint8_t sha256[32];
	struct json_t *predicate;
};

/* Build the statement for artifact `name` with digest sha256 and
 * `predicate` (borrowed; its required fields are checked, see
 * docs/signer.md) as compact JSON with sorted keys, NUL-terminated,
 * l3af_free'd by the caller. L3AF_E_INVALID for a bad name or predicate;
 * L3AF_E_LIMIT over SIGNER_STATEMENT_MAX. */
enum l3af_status signer_statement_build(const char *name,
					const uint8_t sha256[static 32],
					const struct json_t *predicate,
					char **out,
					struct l3af_err *err) L3AF_MUST_CHECK;
/* Parse and validate statement JSON (at most SIGNER_STATEMENT_MAX bytes, no
 * duplicate keys). `out` is filled only on success. L3AF_E_INVALID,
 * L3AF_E_LIMIT, L3AF_E_NOMEM. */
enum l3af_status signer_statement_parse(const char *json, size_t len,
					struct signer_statement *out,
					struct l3af_err *err) L3AF_MUST_CHECK;
void signer_statement_clear(struct signer_statement *st);

/* ---- log entries and admin requests (docs/formats.md sections 7) --------
 * Entries are compact JSON with sorted keys, one spelling each: parse
 * refuses bytes that do not re-encode to themselves. Builders produce what
 * parse accepts. Code: signer/entry.c, signer/admin.c.
 */
#define SIGNER_ENTRY_MAX 65535u          /* = TLOG_ENTRY_MAX */
#define SIGNER_SET_KEYS_MAX 16u          /* keys in a key set or admin root */
#define SIGNER_NAMESPACES_MAX 32u
#define SIGNER_PUBLISHER_MAX 64u         /* publisher id bytes */
#define SIGNER_PKG_NAME_MAX 64u          /* package name bytes (= EBPF_PKG_NAME_MAX) */
#define SIGNER_VERSION_MAX 128u          /* package version bytes */
#define SIGNER_PLATFORM_MAX 128u         /* "os/arch[/distro]" bytes */
#define SIGNER_ADMIN_PAYLOAD_TYPE "application/vnd.l3af-tlog.admin+json"
#define SIGNER_ADMIN_WINDOW_MAX 900      /* not_after - not_before, seconds */
#define SIGNER_ADMIN_SKEW 60             /* clock skew allowed, seconds */

enum signer_entry_kind {
	SIGNER_ENTRY_ADMIN_ROOT = 1,     /* "admin.root" */
	SIGNER_ENTRY_PUBLISHER_KEYS = 2, /* "publisher.keys" */
	SIGNER_ENTRY_PACKAGE = 3,        /* "package" */
};

/* admin.root */
struct signer_admin_root {
	uint64_t version;
	char origin[256];
	unsigned threshold;
	size_t nadmins;
	struct signer_pubkey admins[SIGNER_SET_KEYS_MAX]; /* sorted by id */
};

/* publisher.keys (also the params of an admin request) */
struct signer_keyset {
	char publisher[SIGNER_PUBLISHER_MAX + 1];
	uint64_t version;
	bool has_prev;
	uint8_t prev[32];                /* leaf hash of version - 1 */
	size_t nnamespaces;
	char namespaces[SIGNER_NAMESPACES_MAX][SIGNER_PKG_NAME_MAX + 1];
	unsigned threshold;
	size_t nkeys;
	struct signer_pubkey keys[SIGNER_SET_KEYS_MAX]; /* sorted by id */
};

/* package. The json_t members are owned references (signer_entry_clear). */
struct signer_package {
	char publisher[SIGNER_PUBLISHER_MAX + 1];
	uint64_t keys_index;
	char name[SIGNER_PKG_NAME_MAX + 1];
	char version[SIGNER_VERSION_MAX + 1];
	char platform[SIGNER_PLATFORM_MAX + 1];
	char artifact_name[SIGNER_SUBJECT_NAME_MAX + 1];
	uint8_t artifact_sha256[32];
	uint64_t artifact_size;
	struct json_t *envelope;         /* the DSSE envelope object */
	struct json_t *files;            /* manifest array */
	struct json_t *objects;          /* inspection facts array */
};

/* A parsed entry: kind says which member is valid. For publisher.keys,
 * request is the admin envelope object (owned reference). */
struct signer_entry {
	enum signer_entry_kind kind;
	struct signer_admin_root root;
	struct signer_keyset keyset;
	struct json_t *request;
	struct signer_package pkg;
};

/* Strict parse of entry bytes (at most SIGNER_ENTRY_MAX). L3AF_E_INVALID
 * naming the field for anything the builders would not write; L3AF_E_LIMIT;
 * L3AF_E_NOMEM. `out` is filled only on success; release it with
 * signer_entry_clear (also fine on a zeroed struct). */
enum l3af_status signer_entry_parse(const uint8_t *bytes, size_t len,
				    struct signer_entry *out,
				    struct l3af_err *err) L3AF_MUST_CHECK;
void signer_entry_clear(struct signer_entry *e);
/* "admin.root", "publisher.keys", "package", or "unknown". */
const char *signer_entry_kind_name(enum signer_entry_kind kind);

/* Builders: canonical entry bytes, NUL-terminated (*len excludes the NUL),
 * l3af_free'd by the caller. They validate as parse does (sorting keys by
 * id themselves) and return L3AF_E_INVALID / L3AF_E_LIMIT (over
 * SIGNER_ENTRY_MAX) / L3AF_E_NOMEM. */
enum l3af_status signer_entry_admin_root(const struct signer_admin_root *root,
					 char **out, size_t *len,
					 struct l3af_err *err) L3AF_MUST_CHECK;
/* request: the admin envelope JSON text that authorised this key set. */
enum l3af_status signer_entry_keyset(const struct signer_keyset *ks,
				     const char *request, size_t request_len,
				     char **out, size_t *len,
				     struct l3af_err *err) L3AF_MUST_CHECK;
/* pkg's json members are borrowed here (envelope object, files, objects). */
enum l3af_status signer_entry_package(const struct signer_package *pkg,
				      char **out, size_t *len,
				      struct l3af_err *err) L3AF_MUST_CHECK;

/* Syntax checks (docs/formats.md section 7); L3AF_E_INVALID naming the rule. */
enum l3af_status signer_publisher_check(const char *id, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_pkg_name_check(const char *name, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status signer_version_check(const char *version, struct l3af_err *err) L3AF_MUST_CHECK;
/* <0, 0, >0 as a is below, equal to, above b (section 7 `version` order;
 * versions equal by that order but spelt differently, "1.01" and "1.1", are
 * then ordered bytewise, so 0 means the same string). */
int signer_version_cmp(const char *a, const char *b);
/* Does some namespace pattern of ks cover package name? */
bool signer_namespace_match(const struct signer_keyset *ks, const char *name);
/* "os/arch[/distro]" from a predicate's platform object into out; L3AF_E_INVALID
 * if a part is missing, empty, over-long or holds '/', a space, a control
 * byte or a byte above 0x7e. */
enum l3af_status signer_platform_string(const struct json_t *platform,
					char out[static SIGNER_PLATFORM_MAX + 1],
					struct l3af_err *err) L3AF_MUST_CHECK;

/*
 * Check a package entry against the key set in force at its index: same
 * publisher; the envelope verifies (payloadType in-toto) with ks->threshold
 * distinct keys of ks; the statement parses; its subject is the artifact
 * (name and sha256); predicate name, version and platform equal the
 * entry's; predicate.files equals the entry's files; the name is inside
 * ks's namespaces. L3AF_OK, L3AF_E_VERIFY (naming which check failed; a
 * message starting with "namespace:", "signature:", "subject:",
 * "predicate:", "publisher:"), L3AF_E_INVALID (also for a signed payload
 * that is not an in-toto statement), L3AF_E_NOMEM. If st is not
 * NULL it receives the statement on success (signer_statement_clear).
 */
enum l3af_status signer_package_verify(const struct signer_package *pkg,
				       const struct signer_keyset *ks,
				       struct signer_statement *st,
				       struct l3af_err *err) L3AF_MUST_CHECK;
/* The same checks for a caller that already parsed the statement: parsed is
 * signer_statement_parse of exactly the bytes of pkg->envelope's payload
 * (as the log server does before it knows the key set), so the verified
 * payload is not parsed a second time. */
enum l3af_status signer_package_verify_parsed(const struct signer_package *pkg,
					      const struct signer_keyset *ks,
					      const struct signer_statement *parsed,
					      struct l3af_err *err) L3AF_MUST_CHECK;

/* An admin request (the payload of an admin envelope). */
struct signer_admin_request {
	char action[32];                 /* "publisher.register" | "publisher.update" */
	char origin[256];
	uint8_t nonce[16];
	int64_t not_before, not_after;
	struct signer_keyset params;     /* has_prev is false: the log fills prev */
};

/* Canonical payload JSON of req (NUL-terminated, l3af_free'd). Sign it with
 * signer_dsse_sign(key, SIGNER_ADMIN_PAYLOAD_TYPE, ...). */
enum l3af_status signer_admin_request_build(const struct signer_admin_request *req,
					    char **out, struct l3af_err *err) L3AF_MUST_CHECK;
/*
 * Verify an admin envelope against root (root->threshold distinct admins)
 * and parse its payload; check origin == root->origin and the validity
 * window against now (POSIX seconds, SIGNER_ADMIN_SKEW allowed, window at
 * most SIGNER_ADMIN_WINDOW_MAX). Nonce reuse is the caller's check.
 * L3AF_E_VERIFY with "signature:", "origin:", "expired:", "not yet valid:"
 * or "window:" at the start of the message; L3AF_E_INVALID for a malformed
 * envelope or payload (or another payloadType); L3AF_E_NOMEM. `out` filled
 * only on success.
 */
enum l3af_status signer_admin_request_open(const char *envelope, size_t len,
					   const struct signer_admin_root *root,
					   int64_t now,
					   struct signer_admin_request *out,
					   struct l3af_err *err) L3AF_MUST_CHECK;

#endif
