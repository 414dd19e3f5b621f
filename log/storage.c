/*
 * storage.c - the log's files and SQLite database: create, open (with the
 * writer's lock and start-up check), close, and the pooled read connections.
 *
 * Layout of a data directory (docs/log.md "Storage layout"):
 *   log.db      SQLite, WAL mode: meta, entries, dedup, tiles, checkpoints
 *   log.key     the log's Ed25519 signing key, 0600
 *   log.vkey    its verifier key text (public)
 *   lock        flock()ed by the one writer; holds the writer's pid
 *   published   the last checkpoint served, in two checksummed slots
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;"
	"CREATE TABLE entries(idx INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT;"
	/* run: one per dedup generation; key: the first 8 bytes of the leaf hash */
	"CREATE TABLE dedup(run INTEGER NOT NULL, key INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" PRIMARY KEY(run, key, idx)) STRICT, WITHOUT ROWID;"
	/* id: level << 56 | tile index; hashes: width * 32 bytes */
	"CREATE TABLE tiles(id INTEGER PRIMARY KEY, hashes BLOB NOT NULL) STRICT;"
	"CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note BLOB NOT NULL) STRICT;";

enum l3af_status tlog_sqlite_fail(sqlite3 *db, struct l3af_err *err,
				  enum l3af_status code, const char *what)
{
	int ec = db ? sqlite3_errcode(db) : SQLITE_ERROR;

	if (ec == SQLITE_CORRUPT || ec == SQLITE_NOTADB)
		code = L3AF_E_CORRUPT;
	return l3af_fail(err, code, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
}

enum l3af_status tlog_path(const struct tlog *log, const char *dir, const char *name,
			   char *buf, size_t cap, struct l3af_err *err)
{
	const char *d = dir ? dir : log->dir;

	if ((size_t)snprintf(buf, cap, "%s/%s", d, name) >= cap)
		return l3af_fail(err, L3AF_E_LIMIT, "path too long: %s/%s", d, name);
	return L3AF_OK;
}

int64_t tlog_tile_key(unsigned level, uint64_t n)
{
	return (int64_t)((uint64_t)level << 56 | n);
}

static enum l3af_status db_open(const char *path, int flags, sqlite3 **out,
				struct l3af_err *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		enum l3af_status st = tlog_sqlite_fail(db, err, L3AF_E_IO, "open database");
		sqlite3_close(db);
		return st;
	}
	sqlite3_extended_result_codes(db, 0);
	sqlite3_busy_timeout(db, 5000);
	*out = db;
	return L3AF_OK;
}

static enum l3af_status db_exec(sqlite3 *db, const char *sql, struct l3af_err *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_IO, sql);
	return L3AF_OK;
}

bool tlog_exists(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, TLOG_DB_FILE) >= sizeof(path))
		return false;
	return stat(path, &st) == 0;
}

/* ---- create ---------------------------------------------------------------- */

static enum l3af_status meta_put(sqlite3 *db, const char *key, const char *text,
				 int64_t num, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?, ?)", -1, &st,
			       NULL) != SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_IO, "prepare meta insert");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, num);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = tlog_sqlite_fail(db, err, L3AF_E_IO, "insert meta");
	sqlite3_finalize(st);
	return rc;
}

/* Sign the checkpoint for (size, root) with the log key. */
static enum l3af_status sign_checkpoint(const char *origin, const struct signer_key *key,
					uint64_t size, const uint8_t root[TLOG_HASH_BYTES],
					char **note, size_t *note_len, struct l3af_err *err)
{
	struct tlog_checkpoint cp = {.size = size};
	char body[TLOG_CHECKPOINT_BODY_MAX];
	size_t body_len;
	enum l3af_status rc;

	snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	memcpy(cp.root, root, TLOG_HASH_BYTES);
	rc = tlog_checkpoint_format(&cp, body, sizeof(body), &body_len, err);
	if (rc == L3AF_OK)
		rc = signer_note_sign(key, body, body_len, 0, note, note_len, err);
	return rc;
}

static enum l3af_status create_db(const char *path, const char *origin,
				  const struct signer_key *key, struct l3af_err *err)
{
	struct signer_vkey vkey;
	char vtext[SIGNER_VKEY_TEXT_MAX];
	uint8_t empty[TLOG_HASH_BYTES];
	char *note = NULL;
	size_t note_len = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc;

	signer_key_vkey(key, &vkey);
	signer_vkey_format(&vkey, vtext);
	tlog_hash_empty(empty);
	rc = sign_checkpoint(origin, key, 0, empty, &note, &note_len, err);
	if (rc == L3AF_OK)
		rc = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, err);
	if (rc == L3AF_OK)
		rc = db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
				 "BEGIN IMMEDIATE", err);
	if (rc == L3AF_OK)
		rc = db_exec(db, schema, err);
	if (rc == L3AF_OK)
		rc = meta_put(db, "format", NULL, TLOG_FORMAT_VERSION, err);
	if (rc == L3AF_OK)
		rc = meta_put(db, "origin", origin, 0, err);
	if (rc == L3AF_OK)
		rc = meta_put(db, "vkey", vtext, 0, err);
	if (rc == L3AF_OK)
		rc = meta_put(db, "dedup_upto", NULL, 0, err);
	if (rc == L3AF_OK)
		rc = meta_put(db, "dedup_run", NULL, 0, err);
	if (rc == L3AF_OK) {
		if (sqlite3_prepare_v2(db, "INSERT INTO checkpoints(size, note) VALUES(0, ?)",
				       -1, &st, NULL) != SQLITE_OK)
			rc = tlog_sqlite_fail(db, err, L3AF_E_IO, "prepare checkpoint insert");
		else {
			sqlite3_bind_blob(st, 1, note, (int)note_len, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = tlog_sqlite_fail(db, err, L3AF_E_IO, "insert checkpoint");
		}
	}
	sqlite3_finalize(st);
	if (rc == L3AF_OK)
		rc = db_exec(db, "COMMIT", err);
	sqlite3_close(db);
	l3af_free(note);
	return rc;
}

/* fsync a file by path (the new database before it is renamed into place). */
static enum l3af_status fsync_path(const char *path, struct l3af_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum l3af_status rc = L3AF_OK;

	if (fd < 0)
		return l3af_fail(err, L3AF_E_IO, "open %s: %s", path, strerror(errno));
	if (fsync(fd) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

/* Remove what a crashed tlog_create may have left: a half-built database
 * and a key that no database was ever made with. */
static void remove_leftovers(const char *dir)
{
	static const char *const names[] = {TLOG_DB_FILE ".new", TLOG_DB_FILE ".new-wal",
					    TLOG_DB_FILE ".new-shm", TLOG_DB_FILE ".new-journal",
					    TLOG_KEY_FILE};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path))
			unlink(path);
}

static enum l3af_status write_keys(const char *dir, const char *origin, struct signer_key **key,
				   struct l3af_err *err)
{
	char path[PATH_MAX], vtext[SIGNER_VKEY_TEXT_MAX + 1];
	struct signer_vkey vkey;
	enum l3af_status rc = signer_key_generate(origin, SIGNER_TYPE_ED25519, key, err);

	if (rc == L3AF_OK)
		rc = tlog_path(NULL, dir, TLOG_KEY_FILE, path, sizeof(path), err);
	if (rc == L3AF_OK)
		rc = signer_key_save(*key, path, err);
	if (rc != L3AF_OK)
		return rc;
	signer_key_vkey(*key, &vkey);
	signer_vkey_format(&vkey, vtext);
	strcat(vtext, "\n");
	rc = tlog_path(NULL, dir, TLOG_VKEY_FILE, path, sizeof(path), err);
	if (rc == L3AF_OK)
		rc = l3af_file_replace(path, vtext, strlen(vtext), 0644, err);
	return rc;
}

/*
 * Crash-atomic: the key files are written first, then the database is built
 * as log.db.new, closed (which folds its WAL in), fsynced and renamed to
 * log.db. A log exists exactly when log.db does; whatever a crash left
 * before that is removed by the next tlog_create.
 */
enum l3af_status tlog_create(const char *dir, const char *origin, struct l3af_err *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct signer_key *key = NULL;
	enum l3af_status rc;

	rc = tlog_origin_check(origin, err);
	if (rc != L3AF_OK)
		return rc;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return l3af_fail(err, L3AF_E_IO, "mkdir %s: %s", dir, strerror(errno));
	if (tlog_exists(dir))
		return l3af_fail(err, L3AF_E_EXISTS, "%s already holds a log", dir);
	remove_leftovers(dir);
	rc = write_keys(dir, origin, &key, err);
	if (rc == L3AF_OK)
		rc = tlog_path(NULL, dir, TLOG_DB_FILE ".new", tmp, sizeof(tmp), err);
	if (rc == L3AF_OK)
		rc = tlog_path(NULL, dir, TLOG_DB_FILE, path, sizeof(path), err);
	if (rc == L3AF_OK)
		rc = create_db(tmp, origin, key, err);
	if (rc == L3AF_OK)
		rc = fsync_path(tmp, err);
	if (rc == L3AF_OK && rename(tmp, path) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "rename %s: %s", tmp, strerror(errno));
	if (rc == L3AF_OK)
		rc = l3af_fsync_parent(path, err);
	signer_key_free(key);
	return rc;
}

/* ---- readers --------------------------------------------------------------- */

static enum l3af_status reader_open(struct tlog_reader *r, const char *path,
				    struct l3af_err *err)
{
	enum l3af_status rc = db_open(path, SQLITE_OPEN_READONLY, &r->db, err);

	if (rc != L3AF_OK)
		return rc;
	if (sqlite3_prepare_v3(r->db, "SELECT hashes FROM tiles WHERE id = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &r->tile, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(r->db,
			       "SELECT idx, data FROM entries WHERE idx >= ? AND idx < ? "
			       "ORDER BY idx",
			       -1, SQLITE_PREPARE_PERSISTENT, &r->entries, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(r->db, err, L3AF_E_IO, "prepare read statements");
	return L3AF_OK;
}

static void reader_close(struct tlog_reader *r)
{
	sqlite3_finalize(r->tile);
	sqlite3_finalize(r->entries);
	sqlite3_close(r->db);
	r->tile = r->entries = NULL;
	r->db = NULL;
}

struct tlog_reader *tlog_reader_get(struct tlog *log)
{
	unsigned i = __atomic_fetch_add(&log->next_reader, 1, __ATOMIC_RELAXED);

	/* Try each connection once without waiting, then wait on one. */
	for (unsigned k = 0; k < TLOG_READERS; k++) {
		struct tlog_reader *r = &log->readers[(i + k) % TLOG_READERS];
		if (pthread_mutex_trylock(&r->lock) == 0)
			return r;
	}
	pthread_mutex_lock(&log->readers[i % TLOG_READERS].lock);
	return &log->readers[i % TLOG_READERS];
}

void tlog_reader_put(struct tlog_reader *r)
{
	pthread_mutex_unlock(&r->lock);
}

/* ---- open / close ---------------------------------------------------------- */

static enum l3af_status take_lock(struct tlog *log, int *fd_out, struct l3af_err *err)
{
	char path[PATH_MAX], pid[32] = "";
	enum l3af_status rc = tlog_path(log, NULL, TLOG_LOCK_FILE, path, sizeof(path), err);
	int fd, n;

	if (rc != L3AF_OK)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return l3af_fail(err, L3AF_E_IO, "open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		ssize_t got = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[got > 0 ? got : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		return l3af_fail(err, L3AF_E_BUSY,
				 "data directory %s is in use by another writer (pid %s); "
				 "one l3af-tlogd per data directory",
				 log->dir, pid[0] ? pid : "unknown");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		close(fd);
		return l3af_fail(err, L3AF_E_IO, "write %s: %s", path, strerror(errno));
	}
	*fd_out = fd;
	return L3AF_OK;
}

enum l3af_status tlog_meta_get(sqlite3 *db, const char *key, char *buf, size_t cap,
			       uint64_t *num, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, "read meta");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = l3af_fail(err, L3AF_E_CORRUPT, "database: meta '%s' missing", key);
	} else if (buf) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		if (!v || (size_t)sqlite3_column_bytes(st, 0) >= cap)
			rc = l3af_fail(err, L3AF_E_CORRUPT, "database: meta '%s' malformed", key);
		else
			memcpy(buf, v, (size_t)sqlite3_column_bytes(st, 0) + 1);
	} else if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) < 0) {
		rc = l3af_fail(err, L3AF_E_CORRUPT, "database: meta '%s' is not a count", key);
	} else {
		*num = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return rc;
}

enum l3af_status tlog_published_matches(struct tlog *log, sqlite3 *db,
					const struct tlog_checkpoint *pub, struct l3af_err *err)
{
	struct tlog_checkpoint stored;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(db, "SELECT note FROM checkpoints WHERE size = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_IO, "read stored checkpoint");
	sqlite3_bind_int64(st, 1, (int64_t)pub->size);
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "the checkpoint of size %llu was served but is not stored",
			       (unsigned long long)pub->size);
	else if (tlog_note_check(log, sqlite3_column_blob(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0), &stored, NULL) != L3AF_OK ||
		 memcmp(stored.root, pub->root, TLOG_HASH_BYTES) != 0)
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "the checkpoint served at size %llu differs from the stored one",
			       (unsigned long long)pub->size);
	sqlite3_finalize(st);
	return rc;
}

enum l3af_status tlog_note_check(const struct tlog *log, const char *note, size_t len,
				 struct tlog_checkpoint *cp, struct l3af_err *err)
{
	struct signer_note_result res;
	enum l3af_status rc = signer_note_open(note, len, &log->vkey, 1, &res, err);

	if (rc == L3AF_OK)
		rc = tlog_checkpoint_parse(note, res.text_len, cp, err);
	if (rc == L3AF_OK && strcmp(cp->origin, log->origin) != 0)
		rc = l3af_fail(err, L3AF_E_VERIFY, "checkpoint origin '%s' is not this log's",
			       cp->origin);
	return rc;
}

static enum l3af_status load_identity(struct tlog *log, sqlite3 *db, struct l3af_err *err)
{
	char vtext[SIGNER_VKEY_TEXT_MAX];
	uint64_t format = 0;
	enum l3af_status rc = tlog_meta_get(db, "format", NULL, 0, &format, err);

	if (rc == L3AF_OK && format != TLOG_FORMAT_VERSION)
		rc = l3af_fail(err, L3AF_E_INVALID, "database format %llu, this build reads %d",
			       (unsigned long long)format, TLOG_FORMAT_VERSION);
	if (rc == L3AF_OK)
		rc = tlog_meta_get(db, "origin", log->origin, sizeof(log->origin), NULL, err);
	if (rc == L3AF_OK)
		rc = tlog_meta_get(db, "vkey", vtext, sizeof(vtext), NULL, err);
	if (rc == L3AF_OK)
		rc = signer_vkey_parse(vtext, strlen(vtext), &log->vkey, err);
	if (rc != L3AF_OK)
		l3af_fail(err, L3AF_E_CORRUPT, "database identity unreadable");
	return rc;
}

/* Latest stored checkpoint: verified, parsed, and published in memory. */
static enum l3af_status load_checkpoint(struct tlog *log, sqlite3 *db,
					struct tlog_checkpoint *cp, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(db, "SELECT size, note FROM checkpoints ORDER BY size DESC "
				   "LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, "read latest checkpoint");
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = tlog_sqlite_fail(db, err, L3AF_E_CORRUPT, "no stored checkpoint");
		goto out;
	}
	size_t len = (size_t)sqlite3_column_bytes(st, 1);
	const char *note = sqlite3_column_blob(st, 1);
	rc = note ? tlog_note_check(log, note, len, cp, err)
		  : l3af_fail(err, L3AF_E_CORRUPT, "empty checkpoint row");
	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "stored checkpoint %lld", (long long)sqlite3_column_int64(st, 0));
		if (err)
			err->code = L3AF_E_CORRUPT;
		rc = L3AF_E_CORRUPT;
		goto out;
	}
	if ((uint64_t)sqlite3_column_int64(st, 0) != cp->size) {
		rc = l3af_fail(err, L3AF_E_CORRUPT,
			       "stored checkpoint row %lld holds a checkpoint of size %llu",
			       (long long)sqlite3_column_int64(st, 0),
			       (unsigned long long)cp->size);
		goto out;
	}
	log->pub_note = l3af_malloc(len + 1);
	if (!log->pub_note) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "checkpoint copy");
		goto out;
	}
	memcpy(log->pub_note, note, len);
	log->pub_note[len] = '\0';
	log->pub_note_len = len;
	log->pub_size = cp->size;
out:
	sqlite3_finalize(st);
	return rc;
}

enum l3af_status tlog_open(const char *dir, unsigned flags, struct tlog **out,
			   struct l3af_err *err)
{
	char path[PATH_MAX];
	struct tlog_checkpoint cp;
	struct tlog *log = l3af_calloc(1, sizeof(*log));
	enum l3af_status rc = L3AF_OK;
	int lock_fd = -1;

	if (!log)
		return l3af_fail(err, L3AF_E_NOMEM, "open log: out of memory");
	pthread_mutex_init(&log->pub_lock, NULL);
	for (unsigned i = 0; i < TLOG_READERS; i++)
		pthread_mutex_init(&log->readers[i].lock, NULL);
	log->dir = l3af_malloc(strlen(dir) + 1);
	if (log->dir)
		memcpy(log->dir, dir, strlen(dir) + 1);
	else
		rc = l3af_fail(err, L3AF_E_NOMEM, "open log: out of memory");
	if (rc == L3AF_OK && !tlog_exists(dir))
		rc = l3af_fail(err, L3AF_E_NOTFOUND, "%s holds no log (no %s)", dir,
			       TLOG_DB_FILE);
	if (rc == L3AF_OK && (flags & TLOG_OPEN_WRITER))
		rc = take_lock(log, &lock_fd, err);
	if (rc == L3AF_OK)
		rc = tlog_path(log, NULL, TLOG_DB_FILE, path, sizeof(path), err);
	for (unsigned i = 0; rc == L3AF_OK && i < TLOG_READERS; i++)
		rc = reader_open(&log->readers[i], path, err);
	if (rc == L3AF_OK)
		rc = load_identity(log, log->readers[0].db, err);
	if (rc == L3AF_OK && (flags & TLOG_OPEN_WRITER)) {
		/* The writer opens its own connection and checks everything before
		 * trusting the stored checkpoint; see selfcheck.c. */
		rc = tlog_writer_open(log, path, flags, err);
		if (rc == L3AF_OK)
			log->w->lock_fd = lock_fd, lock_fd = -1;
	} else if (rc == L3AF_OK && !(flags & TLOG_OPEN_IDENTITY_ONLY)) {
		rc = load_checkpoint(log, log->readers[0].db, &cp, err);
	}
	if (rc != L3AF_OK)
		tlog_close(log); /* closes every connection before the lock goes */
	if (lock_fd >= 0)
		close(lock_fd);
	if (rc != L3AF_OK)
		return rc;
	*out = log;
	return L3AF_OK;
}

enum l3af_status tlog_load_checkpoint(struct tlog *log, sqlite3 *db,
				      struct tlog_checkpoint *cp, struct l3af_err *err)
{
	return load_checkpoint(log, db, cp, err);
}

void tlog_close(struct tlog *log)
{
	if (!log)
		return;
	/* Readers first: the writer's close checkpoints the WAL, and only then
	 * releases the lock, after every connection of ours is gone. */
	for (unsigned i = 0; i < TLOG_READERS; i++) {
		reader_close(&log->readers[i]);
		pthread_mutex_destroy(&log->readers[i].lock);
	}
	if (log->w)
		tlog_writer_close(log->w);
	signer_key_free(log->key);
	pthread_mutex_destroy(&log->pub_lock);
	l3af_free(log->pub_note);
	l3af_free(log->dir);
	l3af_free(log);
}

const char *tlog_origin(const struct tlog *log)
{
	return log->origin;
}

uint64_t tlog_size(struct tlog *log)
{
	uint64_t size;

	pthread_mutex_lock(&log->pub_lock);
	size = log->pub_size;
	pthread_mutex_unlock(&log->pub_lock);
	return size;
}
