/*
 * tlog.h - the l3af-tlog Merkle log: RFC 9162 hashing and proofs, C2SP
 * checkpoints and tiles, and the durable SQLite-backed log.
 *
 * Two libraries are built from this module (docs/log.md):
 *  - tlog_proof: hashing, proof generation over any hash source, proof
 *    verification, checkpoint bodies and tile paths. No storage, no threads;
 *    the agent's verifier links only this.
 *  - tlog: the stored log (tlog_open ... tlog_close), its sequencer, fsck and
 *    export. Links SQLite and the signer.
 *
 * Specs: RFC 9162 section 2.1 (hashes and proofs), c2sp.org/tlog-checkpoint
 * v1.0.0, c2sp.org/tlog-tiles v0.1.0 (tile height 8, paths, entry bundles).
 */
#ifndef L3AF_TLOG_H
#define L3AF_TLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l3af.h"

#define TLOG_HASH_BYTES 32
#define TLOG_TILE_HEIGHT 8
#define TLOG_TILE_WIDTH 256                 /* hashes in a full tile */
#define TLOG_TILE_BYTES (TLOG_TILE_WIDTH * TLOG_HASH_BYTES)
/* Hashes in any proof: an inclusion proof has at most 63 (sizes < 2^63), a
 * consistency proof one more (RFC 9162 2.1.4.1 adds the old subtree's root). */
#define TLOG_PROOF_MAX 64
#define TLOG_ENTRY_MAX 65535                /* entry bytes (uint16 length in bundles) */
#define TLOG_SIZE_MAX ((uint64_t)INT64_MAX) /* largest tree size (2^63 - 1) */
#define TLOG_ORIGIN_MAX 255
#define TLOG_CHECKPOINT_BODY_MAX 1024       /* origin + size + root (+ NULs) */
#define TLOG_TILE_PATH_MAX 96

/* ---- hashing (RFC 9162 section 2.1.1), OpenSSL SHA-256 ----------------- */

/* SHA-256(0x00 || data). */
void tlog_hash_leaf(const uint8_t *data, size_t len,
		    uint8_t out[static TLOG_HASH_BYTES]);
/* SHA-256(0x01 || left || right). out may alias neither input. */
void tlog_hash_node(const uint8_t left[static TLOG_HASH_BYTES],
		    const uint8_t right[static TLOG_HASH_BYTES],
		    uint8_t out[static TLOG_HASH_BYTES]);
/* MTH of the empty tree: SHA-256(""). */
void tlog_hash_empty(uint8_t out[static TLOG_HASH_BYTES]);
/* MTH of n consecutive leaf/node hashes at one level (n >= 1, any n): the
 * RFC 9162 split rule applied to hashes instead of entries. */
void tlog_hash_range(const uint8_t (*hashes)[TLOG_HASH_BYTES], size_t n,
		     uint8_t out[static TLOG_HASH_BYTES]);

/* ---- proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ------- */

/*
 * L3AF_OK if proof[0..n) proves that leaf_hash is entry `index` of the tree of
 * `size` with root `root`. L3AF_E_VERIFY if it does not (wrong root, wrong
 * length); L3AF_E_INVALID for index >= size or size 0. Never allocates.
 */
enum l3af_status tlog_inclusion_verify(uint64_t index, uint64_t size,
				       const uint8_t leaf_hash[static TLOG_HASH_BYTES],
				       const uint8_t (*proof)[TLOG_HASH_BYTES],
				       size_t n,
				       const uint8_t root[static TLOG_HASH_BYTES],
				       struct l3af_err *err) L3AF_MUST_CHECK;
/*
 * L3AF_OK if proof[0..n) proves the tree of size1 with root1 is a prefix of
 * the tree of size2 with root2. size1 == size2 needs an empty proof and equal
 * roots; size1 == 0 is rejected (L3AF_E_INVALID: nothing to prove, and the
 * empty tree's root is fixed); size1 > size2 is L3AF_E_INVALID.
 */
enum l3af_status tlog_consistency_verify(uint64_t size1, uint64_t size2,
					 const uint8_t root1[static TLOG_HASH_BYTES],
					 const uint8_t root2[static TLOG_HASH_BYTES],
					 const uint8_t (*proof)[TLOG_HASH_BYTES],
					 size_t n, struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- proof generation over a hash source -------------------------------- */

/*
 * A source of complete-subtree hashes: node(ctx, height, index, out) must
 * write MTH(D[index * 2^height : (index + 1) * 2^height]). The log's storage
 * implements it from tiles; tests implement it from an array of leaves.
 */
struct tlog_hash_source {
	enum l3af_status (*node)(void *ctx, unsigned height, uint64_t index,
				 uint8_t out[static TLOG_HASH_BYTES],
				 struct l3af_err *err);
	void *ctx;
};

/* MTH(D[0:size]); size 0 gives the empty hash. */
enum l3af_status tlog_tree_hash(const struct tlog_hash_source *src,
				uint64_t size, uint8_t out[static TLOG_HASH_BYTES],
				struct l3af_err *err) L3AF_MUST_CHECK;
/* PATH(index, D[0:size]) into proof[TLOG_PROOF_MAX], *n receives its length. */
enum l3af_status tlog_inclusion_prove(const struct tlog_hash_source *src,
				      uint64_t index, uint64_t size,
				      uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
				      size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;
/* PROOF(size1, D[0:size2]); 0 < size1 <= size2. */
enum l3af_status tlog_consistency_prove(const struct tlog_hash_source *src,
					uint64_t size1, uint64_t size2,
					uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
					size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- checkpoints (c2sp.org/tlog-checkpoint v1.0.0) ---------------------- */

struct tlog_checkpoint {
	char origin[TLOG_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[TLOG_HASH_BYTES];
};

/* "<origin>\n<size>\n<base64 root>\n" into buf[cap]; *len excludes the NUL. */
enum l3af_status tlog_checkpoint_format(const struct tlog_checkpoint *cp,
					char *buf, size_t cap, size_t *len,
					struct l3af_err *err) L3AF_MUST_CHECK;
/* Parse a checkpoint body (the note text). Extension lines are rejected:
 * this log never writes them and the spec calls them not auditable. */
enum l3af_status tlog_checkpoint_parse(const char *text, size_t len,
				       struct tlog_checkpoint *out,
				       struct l3af_err *err) L3AF_MUST_CHECK;
/* Origin rule: 1..255 printable ASCII bytes, no space and no '+'. */
enum l3af_status tlog_origin_check(const char *origin,
				   struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- tile paths (c2sp.org/tlog-tiles) ------------------------------------ */

/* level TLOG_TILE_ENTRIES means an entry bundle ("tile/entries/..."). */
#define TLOG_TILE_ENTRIES (-1)

struct tlog_tile_id {
	int level;      /* 0..63, or TLOG_TILE_ENTRIES */
	uint64_t n;     /* tile index at that level */
	unsigned width; /* 1..256; 256 = full tile (no .p/ suffix) */
};

/* "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" into buf. */
enum l3af_status tlog_tile_path(const struct tlog_tile_id *id,
				char buf[static TLOG_TILE_PATH_MAX]) L3AF_MUST_CHECK;
/* Strict parse of the same form (no leading zeros in L, 3-digit groups with
 * 'x' prefixes in N, W in 1..255). */
enum l3af_status tlog_tile_path_parse(const char *path, size_t len,
				      struct tlog_tile_id *out,
				      struct l3af_err *err) L3AF_MUST_CHECK;
/* Width of tile (level, n) in a tree of `size`: 256 if full, 1..255 if
 * partial, 0 if the tile does not exist at that size. */
unsigned tlog_tile_width_at(int level, uint64_t n, uint64_t size);

/* ---- the stored log ------------------------------------------------------ */

struct tlog;

enum tlog_open_flags {
	TLOG_OPEN_READONLY = 0,     /* readers: fsck, export, no lock */
	TLOG_OPEN_WRITER = 1 << 0,  /* takes DIR/lock; can append */
	TLOG_OPEN_NO_QUICK_CHECK = 1 << 1, /* skip PRAGMA quick_check at start */
};

/*
 * Create a new log in `dir` (created if missing; must hold no log): the
 * SQLite database, the log's Ed25519 key (DIR/log.key, 0600) named `origin`,
 * DIR/log.vkey with its verifier key, and the signed checkpoint of the empty
 * tree. L3AF_E_EXISTS if a log is already there.
 */
enum l3af_status tlog_create(const char *dir, const char *origin,
			     struct l3af_err *err) L3AF_MUST_CHECK;
/* Does dir hold a log (its database file exists)? */
bool tlog_exists(const char *dir);

/*
 * Open the log in dir. A writer takes an exclusive lock on DIR/lock
 * (L3AF_E_BUSY, naming the holder's pid, if another process has it) and runs
 * the start-up self-check (docs/log.md "Start-up check"): any damage found is
 * L3AF_E_CORRUPT with the damage named, and the log is not opened.
 */
enum l3af_status tlog_open(const char *dir, unsigned flags, struct tlog **out,
			   struct l3af_err *err) L3AF_MUST_CHECK;
/* Close; NULL is fine. The caller must have stopped using readers first. */
void tlog_close(struct tlog *log);

/* Origin, borrowed. */
const char *tlog_origin(const struct tlog *log);
/* Size of the latest published checkpoint (thread safe). */
uint64_t tlog_size(struct tlog *log);

/*
 * Append entries[0..n) (each 1..TLOG_ENTRY_MAX bytes) in one durable
 * transaction: new entries get the next indices, an entry identical to one
 * already logged gets its existing index (deduplication), tiles are updated,
 * and a new checkpoint is signed and stored in the same transaction. When
 * this returns L3AF_OK, indices[i] holds each entry's index and the new
 * checkpoint is on disk (WAL, synchronous=FULL) and being served.
 * On failure nothing changed. Writers only; one appender at a time.
 */
struct tlog_entry {
	const uint8_t *data;
	size_t len;
};
enum l3af_status tlog_append(struct tlog *log, const struct tlog_entry *entries,
			     size_t n, uint64_t *indices,
			     struct l3af_err *err) L3AF_MUST_CHECK;

/*
 * The sequencer: one thread that owns appends and turns concurrent
 * submissions into batches (group commit). Each batch is one tlog_append,
 * so an entry's callback runs only once it is durable and published.
 * After an I/O or corruption error the sequencer refuses everything
 * (L3AF_E_IO) until restarted: it never acknowledges past a failed commit.
 */
struct tlog_seq;
typedef void (*tlog_seq_done_fn)(void *ctx, enum l3af_status rc, uint64_t index);
/* Start on a writer log: batches of at most max_batch entries, at most
 * max_pending entries waiting (then submit answers L3AF_E_BUSY). */
enum l3af_status tlog_seq_start(struct tlog *log, size_t max_batch, size_t max_pending,
				struct tlog_seq **out, struct l3af_err *err) L3AF_MUST_CHECK;
/* Append everything queued, call every callback, join the thread, free.
 * NULL is fine. */
void tlog_seq_stop(struct tlog_seq *seq);
/* Queue one entry (copied; 1..TLOG_ENTRY_MAX bytes). done(ctx, status,
 * index) runs later on the sequencer thread, exactly once, unless this
 * returns an error (then it never runs). Thread safe. */
enum l3af_status tlog_seq_submit(struct tlog_seq *seq, const uint8_t *data, size_t len,
				 tlog_seq_done_fn done, void *ctx,
				 struct l3af_err *err) L3AF_MUST_CHECK;
/* Submit and wait: the entry's index once durable. Thread safe. */
enum l3af_status tlog_seq_append(struct tlog_seq *seq, const uint8_t *data, size_t len,
				 uint64_t *index, struct l3af_err *err) L3AF_MUST_CHECK;
/* Counters since start: entries and batches committed. */
void tlog_seq_stats(struct tlog_seq *seq, uint64_t *entries, uint64_t *batches);

/*
 * Read side. All are thread safe and may run while tlog_append runs. They
 * serve only what the published checkpoint covers, and read only committed
 * data; a proof may take several reads, which stay consistent because tiles
 * only ever grow by appending. Buffers returned through `out` are owned by
 * the caller (l3af_free).
 */
/* The latest signed checkpoint note. */
enum l3af_status tlog_checkpoint_get(struct tlog *log, char **out, size_t *len,
				     struct l3af_err *err) L3AF_MUST_CHECK;
/* Tile bytes for id (level >= 0: width * 32 bytes; entries: the bundle).
 * L3AF_E_NOTFOUND if the tile does not (yet) exist at that width. */
enum l3af_status tlog_tile_read(struct tlog *log, const struct tlog_tile_id *id,
				uint8_t **out, size_t *len,
				struct l3af_err *err) L3AF_MUST_CHECK;
/* One entry's bytes. */
enum l3af_status tlog_entry_read(struct tlog *log, uint64_t index, uint8_t **out,
				 size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;
/* Proofs against the tree of `size` (<= current size). */
enum l3af_status tlog_prove_inclusion(struct tlog *log, uint64_t index,
				      uint64_t size,
				      uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
				      size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status tlog_prove_consistency(struct tlog *log, uint64_t size1,
					uint64_t size2,
					uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES],
					size_t *n, struct l3af_err *err) L3AF_MUST_CHECK;

/*
 * fsck: recompute every leaf hash from the stored entries, every tile, the
 * root at every stored checkpoint and every checkpoint signature, and run
 * SQLite's integrity_check. Each problem found is passed to report (may be
 * NULL) as one line; returns L3AF_OK only if nothing was found, else
 * L3AF_E_CORRUPT (or the error that stopped the check).
 */
enum l3af_status tlog_fsck(const char *dir,
			   void (*report)(void *ctx, const char *line), void *ctx,
			   struct l3af_err *err) L3AF_MUST_CHECK;

/* Write the checkpoint, every tile (full, and the partial ones of the current
 * size) and every entry bundle under outdir as static files laid out as
 * c2sp.org/tlog-tiles paths. Files already present with the right size are
 * kept (tiles are immutable), so re-running exports incrementally. */
enum l3af_status tlog_export(struct tlog *log, const char *outdir,
			     struct l3af_err *err) L3AF_MUST_CHECK;

/* ---- offline proofs (c2sp.org/tlog-proof@v1) ----------------------------
 *
 *   c2sp.org/tlog-proof@v1\n
 *   [extra <base64>\n]          optional opaque data, NOT authenticated
 *   index <decimal>\n           canonical, at most 2^63 - 2
 *   <base64 hash>\n ...         0..TLOG_PROOF_MAX, leaf's sibling first
 *   \n
 *   <checkpoint note>           verbatim: body, blank line, signature lines
 *
 * One spelling per proof: parse accepts exactly what format writes. Specs:
 * c2sp.org/tlog-proof ("Format"), docs/formats.md "Offline proofs".
 * Thread safety: no shared state; distinct outputs may be used concurrently.
 */
#define TLOG_PROOF_EXTRA_MAX (192u * 1024) /* decoded extra bytes (a bundle: two entries) */
#define TLOG_PROOF_TEXT_MAX (1u << 20)    /* whole proof text, bytes */

/* A parsed proof. Everything but `checkpoint` is copied into the struct;
 * `checkpoint` is borrowed: it points into the parsed text and is valid while
 * that text lives. extra_len 0 means there was no extra line (an empty extra
 * line is refused, so 0 bytes and "absent" are one spelling). */
struct tlog_proof_text {
	uint64_t index;
	size_t nproof;
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	size_t extra_len;
	uint8_t extra[TLOG_PROOF_EXTRA_MAX];
	const char *checkpoint;
	size_t checkpoint_len;
};

/*
 * Write a proof: index (<= TLOG_SIZE_MAX - 1), proof[0..n) (n <=
 * TLOG_PROOF_MAX), optional extra[0..extra_len) (0 = no extra line; <=
 * TLOG_PROOF_EXTRA_MAX) and the signed checkpoint note[0..note_len) (non-empty,
 * ends in "\n", does not start with "\n"; copied as is, not checked further).
 * *out is NUL-terminated, *len excludes the NUL; the caller frees it with
 * l3af_free. L3AF_E_INVALID for arguments out of range, L3AF_E_LIMIT if the
 * text would exceed TLOG_PROOF_TEXT_MAX, L3AF_E_NOMEM.
 */
enum l3af_status tlog_proof_text_format(uint64_t index,
					const uint8_t (*proof)[TLOG_HASH_BYTES], size_t n,
					const uint8_t *extra, size_t extra_len,
					const char *note, size_t note_len,
					char **out, size_t *len,
					struct l3af_err *err) L3AF_MUST_CHECK;
/*
 * Strict parse of text[0..len) into *out (caller-owned; nothing allocated).
 * L3AF_E_INVALID, naming the line, for anything format would not write:
 * another header, CR or any control or non-ASCII byte before the checkpoint,
 * a non-canonical index or base64, a hash that is not 32 bytes, more than
 * TLOG_PROOF_MAX hashes, no blank line, an empty checkpoint, a checkpoint
 * that starts with a blank line or does not end in "\n". L3AF_E_LIMIT for
 * text over TLOG_PROOF_TEXT_MAX or extra over TLOG_PROOF_EXTRA_MAX. The
 * checkpoint note is NOT verified: open it with signer_note_open, parse its
 * text with tlog_checkpoint_parse, then call tlog_proof_text_verify_inclusion.
 * On failure *out holds no proof (nproof 0, checkpoint NULL).
 */
enum l3af_status tlog_proof_text_parse(const char *text, size_t len,
				       struct tlog_proof_text *out,
				       struct l3af_err *err) L3AF_MUST_CHECK;
/*
 * Check a parsed proof against its checkpoint: cp must be the body of
 * proof->checkpoint (the note starts with cp's formatted body followed by the
 * blank line), proof->index < cp->size, and the inclusion proof must lead from
 * leaf_hash to cp->root (tlog_inclusion_verify). The caller must already have
 * verified the note's signatures. L3AF_OK, or L3AF_E_VERIFY if any of these
 * does not hold; L3AF_E_INVALID if cp itself is malformed. No allocation.
 */
enum l3af_status tlog_proof_text_verify_inclusion(const struct tlog_proof_text *proof,
						  const uint8_t leaf_hash[static TLOG_HASH_BYTES],
						  const struct tlog_checkpoint *cp,
						  struct l3af_err *err) L3AF_MUST_CHECK;


/* ---- bundles (docs/formats.md section 8) --------------------------------
 * A tlog-proof whose extra carries the entry bytes and, for a package entry,
 * the publisher key-set entry in force with its own inclusion proof to the
 * same checkpoint. Code: log/bundle.c (in tlog_proof). The structs are large
 * (about 330 KiB): allocate them on the heap.
 */
#define TLOG_BUNDLE_HEADER "l3af-bundle/v1"

struct tlog_bundle {
	struct tlog_proof_text proof;    /* the entry's proof; checkpoint borrowed */
	size_t entry_len;
	uint8_t entry[TLOG_ENTRY_MAX];
	bool has_keys;                   /* keys / kproof lines present */
	uint64_t keys_index;
	size_t keys_entry_len;
	uint8_t keys_entry[TLOG_ENTRY_MAX];
	size_t nkproof;
	uint8_t kproof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
};

/* Write a bundle for b->proof.index / proof / nproof, b->entry and (if
 * has_keys) the key-set entry and its proof, with the signed checkpoint
 * note[0..note_len). b->proof.checkpoint and extra are ignored. *out as for
 * tlog_proof_text_format. L3AF_E_INVALID, L3AF_E_LIMIT, L3AF_E_NOMEM. */
enum l3af_status tlog_bundle_format(const struct tlog_bundle *b,
				    const char *note, size_t note_len,
				    char **out, size_t *len,
				    struct l3af_err *err) L3AF_MUST_CHECK;
/* Strict parse (tlog_proof_text_parse, then the extra lines: exactly what
 * format writes, in that order; an extra is required). b->proof.checkpoint
 * points into text. Nothing allocated. L3AF_E_INVALID naming the line,
 * L3AF_E_LIMIT. */
enum l3af_status tlog_bundle_parse(const char *text, size_t len,
				   struct tlog_bundle *b,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* With the checkpoint's signatures already verified and cp its parsed body:
 * the entry's leaf hash is included at proof.index (tlog_proof_text_verify_
 * inclusion), and if has_keys, keys_index < proof.index and the key-set
 * entry's leaf hash is included at keys_index in the same tree.
 * L3AF_OK or L3AF_E_VERIFY ("entry:" or "keys:" in the message);
 * L3AF_E_INVALID for NULL arguments, a struct out of range or a malformed cp. */
enum l3af_status tlog_bundle_verify(const struct tlog_bundle *b,
				    const struct tlog_checkpoint *cp,
				    struct l3af_err *err) L3AF_MUST_CHECK;

#endif
