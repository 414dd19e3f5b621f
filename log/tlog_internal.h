/*
 * tlog_internal.h - shared only by the .c files of log/: the struct tlog layout, the SQL
 * schema and helpers between storage.c, fsck.c, export.c and sequencer.c.
 */
#ifndef L3AF_TLOG_INTERNAL_H
#define L3AF_TLOG_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "signer.h"
#include "tlog.h"

#define TLOG_DB_FILE "log.db"
#define TLOG_KEY_FILE "log.key"
#define TLOG_VKEY_FILE "log.vkey"
#define TLOG_LOCK_FILE "lock"
#define TLOG_PUBLISHED_FILE "published"
#define TLOG_FORMAT_VERSION 1
#define TLOG_LEVELS 8           /* tile levels 0..7 cover sizes < 2^64 */
#define TLOG_READERS 4          /* pooled read connections */
#define TLOG_NOTE_MAX 4096      /* our own checkpoint notes are ~200 bytes */
/* tlog_open flag for fsck: read the identity, trust nothing else. */
#define TLOG_OPEN_IDENTITY_ONLY (1u << 30)

/* The rightmost (partial) tile of one level, as the writer keeps it. */
struct tlog_edge {
	unsigned width;
	bool dirty;
	uint8_t hashes[TLOG_TILE_WIDTH][TLOG_HASH_BYTES];
};

struct tlog_reader {
	pthread_mutex_t lock;
	sqlite3 *db;
	sqlite3_stmt *tile;      /* SELECT hashes FROM tiles WHERE id = ? */
	sqlite3_stmt *entries;   /* SELECT idx, data FROM entries WHERE idx >= ? AND idx < ? */
};

struct tlog_writer {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *entry_insert, *entry_select;
	sqlite3_stmt *dedup_insert;
	sqlite3_stmt *tile_upsert, *checkpoint_insert;
	struct tlog_edge edge[TLOG_LEVELS];
	struct tlog_edge saved[TLOG_LEVELS]; /* rollback copy during an append */
	uint64_t size;                        /* committed size */
	struct tlog_dedup *dedup;
	bool broken; /* in-memory state lost after an error: refuse appends */
	bool opened; /* the start-up check passed */
	int lock_fd;
	int published_fd;
	uint64_t published_seq;
};

struct tlog {
	char *dir;
	char origin[TLOG_ORIGIN_MAX + 1];
	struct signer_vkey vkey;
	struct signer_key *key;          /* writers only */
	struct tlog_writer *w;           /* writers only */
	struct tlog_reader readers[TLOG_READERS];
	unsigned next_reader;
	/* The published checkpoint: what readers serve. */
	pthread_mutex_t pub_lock;
	char *pub_note;
	size_t pub_note_len;
	uint64_t pub_size;
};

/* Path of a file in the log directory into buf[PATH_MAX]. */
enum l3af_status tlog_path(const struct tlog *log, const char *dir, const char *name,
			   char *buf, size_t cap, struct l3af_err *err);
/* sqlite failure helper: "what: sqlite message". */
enum l3af_status tlog_sqlite_fail(sqlite3 *db, struct l3af_err *err,
				  enum l3af_status code, const char *what);
/* A tile id packed into one integer key: level in the top byte. */
int64_t tlog_tile_key(unsigned level, uint64_t n);
/* Hash source over the stored tiles (read connection r, which the caller has
 * locked); tiles are cached in *cache for the duration of one operation. */
struct tlog_tile_cache {
	struct tlog_reader *r;
	int64_t key[4];
	unsigned width[4];
	uint8_t hashes[4][TLOG_TILE_WIDTH][TLOG_HASH_BYTES];
	unsigned next;
};
void tlog_tile_source(struct tlog_tile_cache *cache, struct tlog_reader *r,
		      struct tlog_hash_source *src);
/* Read one stored tile row (any width) through reader r. */
enum l3af_status tlog_tile_fetch(struct tlog_reader *r, unsigned level, uint64_t n,
				 uint8_t hashes[TLOG_TILE_WIDTH][TLOG_HASH_BYTES],
				 unsigned *width, struct l3af_err *err);
/* Verify a checkpoint note with the log's key and parse it. */
enum l3af_status tlog_note_check(const struct tlog *log, const char *note, size_t len,
				 struct tlog_checkpoint *cp, struct l3af_err *err);
/* Deduplication (dedup.c): recent keys in memory, flushed to the dedup
 * table a key-ordered slice per batch; TLOG_DEDUP_GENERATION entries per
 * in-memory generation (about 48 bytes each, two generations at most). */
#define TLOG_DEDUP_GENERATION (1u << 20)
/* The generation used by writers opened from now on (tests lower it). */
extern size_t tlog_dedup_generation;
struct tlog_dedup;
uint64_t tlog_dedup_key(const uint8_t leaf[TLOG_HASH_BYTES]);
enum l3af_status tlog_dedup_open(struct tlog_writer *w, size_t generation, struct l3af_err *err);
void tlog_dedup_close(struct tlog_dedup *d);
enum l3af_status tlog_dedup_find(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				 const struct tlog_entry *e, bool *found, uint64_t *index,
				 struct l3af_err *err);
enum l3af_status tlog_dedup_add(struct tlog_writer *w, const uint8_t leaf[TLOG_HASH_BYTES],
				uint64_t index, struct l3af_err *err);
/* In the append transaction, after `added` new entries: flush a slice. */
enum l3af_status tlog_dedup_flush(struct tlog_writer *w, size_t added, struct l3af_err *err);
/* Rebuild the in-memory part from the stored entries (after a rollback). */
enum l3af_status tlog_dedup_rebuild(struct tlog_writer *w, struct l3af_err *err);
uint64_t tlog_dedup_upto(const struct tlog_dedup *d);

/* Writer side (writer.c): open with the start-up check, close. */
enum l3af_status tlog_writer_open(struct tlog *log, const char *db_path, unsigned flags,
				  struct l3af_err *err);
void tlog_writer_close(struct tlog_writer *w);
/* Root of the writer's current size from its edge tiles. */
enum l3af_status tlog_edge_root(struct tlog_writer *w, uint8_t root[TLOG_HASH_BYTES],
				struct l3af_err *err);
/* Start-up check (selfcheck.c): verifies the stored state and loads the
 * writer's edge tiles and size; L3AF_E_CORRUPT names any damage. */
enum l3af_status tlog_selfcheck(struct tlog *log, unsigned flags, struct l3af_err *err);
/* One meta row: text into buf[cap] (num NULL), or a count into *num (buf
 * NULL). L3AF_E_CORRUPT if missing or malformed. */
enum l3af_status tlog_meta_get(sqlite3 *db, const char *key, char *buf, size_t cap,
			       uint64_t *num, struct l3af_err *err);
/* The served checkpoint pub is the one stored at its size (L3AF_E_CORRUPT
 * naming the difference otherwise). */
enum l3af_status tlog_published_matches(struct tlog *log, sqlite3 *db,
					const struct tlog_checkpoint *pub, struct l3af_err *err);
/* Load, verify and publish in memory the latest stored checkpoint. */
enum l3af_status tlog_load_checkpoint(struct tlog *log, sqlite3 *db,
				      struct tlog_checkpoint *cp, struct l3af_err *err);
/* The "published" file: the last checkpoint served (two checksummed slots).
 * read: L3AF_E_NOTFOUND if absent; L3AF_E_CORRUPT if unreadable or no slot
 * is valid. */
enum l3af_status tlog_published_read(const char *dir, char **note, size_t *len,
				     struct l3af_err *err);
/* Borrow / return a pooled read connection. */
struct tlog_reader *tlog_reader_get(struct tlog *log);
void tlog_reader_put(struct tlog_reader *r);

#endif
