/*
 * index.c - the lookup index, DIR/index.db: derived data that the server
 * rebuilds from the log (delete the file and it is rebuilt at the next
 * start; a file behind the log catches up). Tables:
 *
 *   meta(k, v)                   "indexed_size": entries [0, v) are indexed
 *   packages(idx, name, version, platform, publisher, artifact, sha256)
 *   programs(sha256, idx)        instruction digest of each program -> entry
 *   publishers(id, idx, version) the current key-set entry of each publisher
 *   nonces(nonce, expires)       admin nonces, kept until not_after + 60 s
 *
 * WAL with synchronous=NORMAL: losing the last transactions in a power cut
 * only leaves indexed_size behind, and the start-up catch-up redoes them.
 * One connection under a mutex; callers group writes in begin/add/commit.
 */
#include "api_internal.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define STMT_CACHE 16

struct api_index {
	sqlite3 *db;
	pthread_mutex_t lock;
	uint64_t size; /* indexed_size as committed */
	/* prepared statements of the hot paths, keyed by their (static) SQL
	 * text; used under lock, reset after each use */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
};

/* A prepared statement for sql (a string literal): cached, or NULL. */
static sqlite3_stmt *stmt_get(struct api_index *ix, const char *sql)
{
	sqlite3_stmt *st = NULL;
	size_t i;

	for (i = 0; i < STMT_CACHE && ix->cache[i].sql; i++)
		if (ix->cache[i].sql == sql)
			return ix->cache[i].st;
	if (sqlite3_prepare_v3(ix->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	if (i < STMT_CACHE) {
		ix->cache[i].sql = sql;
		ix->cache[i].st = st;
	}
	return st;
}

/* Done with a statement of stmt_get. */
static void stmt_put(struct api_index *ix, sqlite3_stmt *st)
{
	for (size_t i = 0; i < STMT_CACHE && ix->cache[i].sql; i++)
		if (ix->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

static const char SCHEMA[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS packages(idx INTEGER PRIMARY KEY, name TEXT NOT NULL,"
	" version TEXT NOT NULL, platform TEXT NOT NULL, publisher TEXT NOT NULL,"
	" artifact TEXT NOT NULL, sha256 TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS packages_nvp ON packages(name, version, platform);"
	"CREATE INDEX IF NOT EXISTS packages_sha ON packages(sha256);"
	"CREATE TABLE IF NOT EXISTS programs(sha256 TEXT NOT NULL, idx INTEGER NOT NULL,"
	" PRIMARY KEY(sha256, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS publishers(id TEXT PRIMARY KEY, idx INTEGER NOT NULL,"
	" version INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS nonces(nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO meta(k, v) VALUES('indexed_size', 0);";

static enum l3af_status db_fail(struct api_index *ix, struct l3af_err *err, const char *what)
{
	return l3af_fail(err, L3AF_E_IO, "index.db: %s: %s", what, sqlite3_errmsg(ix->db));
}

static enum l3af_status exec(struct api_index *ix, const char *sql, struct l3af_err *err)
{
	if (sqlite3_exec(ix->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(ix, err, sql);
	return L3AF_OK;
}

static enum l3af_status read_size(struct api_index *ix, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;

	if (sqlite3_prepare_v2(ix->db, "SELECT v FROM meta WHERE k='indexed_size'", -1, &st,
			       NULL) != SQLITE_OK)
		return db_fail(ix, err, "read meta");
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) >= 0)
		ix->size = (uint64_t)sqlite3_column_int64(st, 0);
	else
		rc = db_fail(ix, err, "read indexed_size");
	sqlite3_finalize(st);
	return rc;
}

enum l3af_status api_index_open(const char *dir, struct api_index **out, struct l3af_err *err)
{
	struct api_index *ix = l3af_calloc(1, sizeof(*ix));
	char path[4096];
	enum l3af_status rc;

	if (!ix)
		return l3af_fail(err, L3AF_E_NOMEM, "index: out of memory");
	pthread_mutex_init(&ix->lock, NULL);
	if ((size_t)snprintf(path, sizeof(path), "%s/index.db", dir) >= sizeof(path)) {
		api_index_close(ix);
		return l3af_fail(err, L3AF_E_INVALID, "index: data directory path too long");
	}
	if (sqlite3_open_v2(path, &ix->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		rc = l3af_fail(err, L3AF_E_IO, "open %s: %s", path,
			       ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
		api_index_close(ix);
		return rc;
	}
	sqlite3_busy_timeout(ix->db, 5000);
	rc = exec(ix, SCHEMA, err);
	if (rc == L3AF_OK)
		rc = read_size(ix, err);
	if (rc != L3AF_OK) {
		api_index_close(ix);
		return rc;
	}
	*out = ix;
	return L3AF_OK;
}

void api_index_close(struct api_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(ix->cache[i].st);
	sqlite3_close(ix->db);
	pthread_mutex_destroy(&ix->lock);
	l3af_free(ix);
}

uint64_t api_index_size(struct api_index *ix)
{
	uint64_t n;

	pthread_mutex_lock(&ix->lock);
	n = ix->size;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

enum l3af_status api_index_begin(struct api_index *ix, struct l3af_err *err)
{
	enum l3af_status rc;

	pthread_mutex_lock(&ix->lock);
	rc = exec(ix, "BEGIN IMMEDIATE", err);
	if (rc != L3AF_OK)
		pthread_mutex_unlock(&ix->lock);
	return rc; /* on success the lock is held until commit or rollback */
}

void api_index_rollback(struct api_index *ix)
{
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&ix->lock);
}

enum l3af_status api_index_commit(struct api_index *ix, uint64_t upto, struct l3af_err *err)
{
	static const char sql[] = "UPDATE meta SET v=?1 WHERE k='indexed_size'";
	sqlite3_stmt *st = stmt_get(ix, sql);
	uint64_t size = upto > ix->size ? upto : ix->size;
	enum l3af_status rc = L3AF_OK;

	if (!st || sqlite3_bind_int64(st, 1, (sqlite3_int64)size) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(ix, err, "update indexed_size");
	if (st)
		stmt_put(ix, st);
	if (rc == L3AF_OK)
		rc = exec(ix, "COMMIT", err);
	if (rc != L3AF_OK) {
		api_index_rollback(ix);
		return rc;
	}
	ix->size = size;
	pthread_mutex_unlock(&ix->lock);
	return L3AF_OK;
}

/* Run sql with text/int64 arguments: 's' text, 'i' int64 in types. */
static enum l3af_status run(struct api_index *ix, const char *sql, const char *types,
			    const void *const *args, struct l3af_err *err)
{
	sqlite3_stmt *st = stmt_get(ix, sql);
	enum l3af_status rc = L3AF_OK;

	if (!st)
		return db_fail(ix, err, sql);
	for (int i = 0; types[i]; i++) {
		int e = types[i] == 's'
				? sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT)
				: sqlite3_bind_int64(st, i + 1, *(const sqlite3_int64 *)args[i]);
		if (e != SQLITE_OK)
			rc = db_fail(ix, err, sql);
	}
	if (rc == L3AF_OK && sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(ix, err, sql);
	stmt_put(ix, st);
	return rc;
}

/* The nonce and not_after of the admin request kept in a publisher.keys
 * entry (the envelope was verified when the entry was made). */
static enum l3af_status request_nonce(const json_t *request, char nonce[33], int64_t *not_after,
				      struct l3af_err *err)
{
	const char *b64 = json_string_value(json_object_get(request, "payload"));
	size_t cap = b64 ? strlen(b64) : 0, n = 0;
	uint8_t *buf = l3af_malloc(cap + 1);
	json_t *p = NULL;
	const char *hex;
	enum l3af_status rc = L3AF_E_INVALID;

	if (!buf)
		return l3af_fail(err, L3AF_E_NOMEM, "index: out of memory");
	if (b64 && l3af_base64_decode(buf, cap + 1, &n, b64, cap) == L3AF_OK)
		p = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	hex = json_string_value(json_object_get(p, "nonce"));
	if (hex && strlen(hex) == 32 && json_is_integer(json_object_get(p, "not_after"))) {
		memcpy(nonce, hex, 33);
		*not_after = json_integer_value(json_object_get(p, "not_after"));
		rc = L3AF_OK;
	}
	json_decref(p);
	l3af_free(buf);
	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "index: publisher.keys request without a nonce");
	return rc;
}

static enum l3af_status add_package(struct api_index *ix, sqlite3_int64 idx,
				    const struct signer_package *p, struct l3af_err *err)
{
	char hex[65];
	size_t i, j;
	json_t *obj, *prog;
	enum l3af_status rc;

	l3af_hex_encode(hex, p->artifact_sha256, 32);
	rc = run(ix,
		 "INSERT OR REPLACE INTO packages(idx, name, version, platform, publisher, "
		 "artifact, sha256) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		 "isssss" "s",
		 (const void *const[]){&idx, p->name, p->version, p->platform, p->publisher,
				       p->artifact_name, hex},
		 err);
	json_array_foreach(p->objects, i, obj)
	{
		json_array_foreach(json_object_get(obj, "programs"), j, prog)
		{
			const char *d = json_string_value(json_object_get(prog, "insns_sha256"));
			if (rc == L3AF_OK && d)
				rc = run(ix, "INSERT OR IGNORE INTO programs(sha256, idx) VALUES(?1, ?2)",
					 "si", (const void *const[]){d, &idx}, err);
		}
	}
	return rc;
}

enum l3af_status api_index_add(struct api_index *ix, uint64_t index, const struct signer_entry *e,
			       struct l3af_err *err)
{
	sqlite3_int64 idx = (sqlite3_int64)index, ver, exp;
	char nonce[33];
	int64_t not_after = 0;
	enum l3af_status rc;

	switch (e->kind) {
	case SIGNER_ENTRY_PACKAGE:
		return add_package(ix, idx, &e->pkg, err);
	case SIGNER_ENTRY_PUBLISHER_KEYS:
		ver = (sqlite3_int64)e->keyset.version;
		rc = run(ix,
			 "INSERT INTO publishers(id, idx, version) VALUES(?1, ?2, ?3) "
			 "ON CONFLICT(id) DO UPDATE SET idx=excluded.idx, version=excluded.version "
			 "WHERE excluded.version > publishers.version",
			 "sii", (const void *const[]){e->keyset.publisher, &idx, &ver}, err);
		if (rc == L3AF_OK)
			rc = request_nonce(e->request, nonce, &not_after, err);
		exp = not_after + SIGNER_ADMIN_SKEW;
		if (rc == L3AF_OK)
			rc = run(ix, "INSERT OR IGNORE INTO nonces(nonce, expires) VALUES(?1, ?2)",
				 "si", (const void *const[]){nonce, &exp}, err);
		return rc;
	default:
		return L3AF_OK;
	}
}

static void row_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

enum l3af_status api_index_lookup(struct api_index *ix, const char *by, const char *a,
				  const char *b, const char *c, struct api_pkg_row *rows,
				  size_t max, size_t *n, struct l3af_err *err)
{
#define COLS "SELECT idx, name, version, platform, publisher, artifact, sha256 FROM packages "
	static const char by_sha[] = COLS " WHERE sha256=?1 ORDER BY idx LIMIT ?4";
	static const char by_program[] =
		COLS " WHERE idx IN (SELECT idx FROM programs WHERE sha256=?1) "
		"ORDER BY idx LIMIT ?4";
	static const char by_name[] = COLS " WHERE name=?1 AND (?2 IS NULL OR version=?2) AND "
		"(?3 IS NULL OR platform=?3) ORDER BY idx LIMIT ?4";
	/* all three given (the uniqueness check of every submission): plain
	 * equalities, so that SQLite searches packages_nvp on all of them
	 * instead of scanning every version of the name */
	static const char by_nvp[] =
		COLS " WHERE name=?1 AND version=?2 AND platform=?3 ORDER BY idx LIMIT ?4";
#undef COLS
	const char *sql = !strcmp(by, "sha256")	   ? by_sha
			  : !strcmp(by, "program") ? by_program
			  : b && c		   ? by_nvp
						   : by_name;
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;
	int e;

	*n = 0;
	pthread_mutex_lock(&ix->lock);
	if (!(st = stmt_get(ix, sql)) ||
	    sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    (b && sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT) != SQLITE_OK) ||
	    (c && sqlite3_bind_text(st, 3, c, -1, SQLITE_TRANSIENT) != SQLITE_OK) ||
	    sqlite3_bind_int64(st, 4, (sqlite3_int64)max) != SQLITE_OK) {
		rc = db_fail(ix, err, "lookup");
		goto out;
	}
	while ((e = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct api_pkg_row *r = &rows[(*n)++];
		r->index = (uint64_t)sqlite3_column_int64(st, 0);
		row_text(st, 1, r->name, sizeof(r->name));
		row_text(st, 2, r->version, sizeof(r->version));
		row_text(st, 3, r->platform, sizeof(r->platform));
		row_text(st, 4, r->publisher, sizeof(r->publisher));
		row_text(st, 5, r->artifact, sizeof(r->artifact));
		row_text(st, 6, r->sha256, sizeof(r->sha256));
	}
	if (e != SQLITE_DONE && e != SQLITE_ROW)
		rc = db_fail(ix, err, "lookup");
out:
	if (st)
		stmt_put(ix, st);
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

enum l3af_status api_index_publisher(struct api_index *ix, const char *id, uint64_t *index,
				     struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc;
	int e;

	pthread_mutex_lock(&ix->lock);
	if (sqlite3_prepare_v2(ix->db, "SELECT idx FROM publishers WHERE id=?1", -1, &st, NULL) !=
		    SQLITE_OK ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		rc = db_fail(ix, err, "publisher");
	} else if ((e = sqlite3_step(st)) == SQLITE_ROW) {
		*index = (uint64_t)sqlite3_column_int64(st, 0);
		rc = L3AF_OK;
	} else {
		rc = e == SQLITE_DONE ? l3af_fail(err, L3AF_E_NOTFOUND, "no publisher '%s'", id)
				      : db_fail(ix, err, "publisher");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

enum l3af_status api_index_publishers(struct api_index *ix,
				      enum l3af_status (*cb)(void *ctx, uint64_t index,
							     struct l3af_err *err),
				      void *ctx, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;
	int e = SQLITE_DONE;

	pthread_mutex_lock(&ix->lock);
	if (sqlite3_prepare_v2(ix->db, "SELECT idx FROM publishers ORDER BY idx", -1, &st, NULL) !=
	    SQLITE_OK)
		rc = db_fail(ix, err, "publishers");
	while (rc == L3AF_OK && (e = sqlite3_step(st)) == SQLITE_ROW)
		rc = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), err);
	if (rc == L3AF_OK && e != SQLITE_DONE)
		rc = db_fail(ix, err, "publishers");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->lock);
	return rc;
}

enum l3af_status api_index_nonce_used(struct api_index *ix, const char *nonce_hex, int64_t now,
				      bool *used, struct l3af_err *err)
{
	sqlite3_stmt *st = NULL;
	enum l3af_status rc = L3AF_OK;
	int e;

	pthread_mutex_lock(&ix->lock);
	if (sqlite3_prepare_v2(ix->db, "SELECT expires FROM nonces WHERE nonce=?1", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, nonce_hex, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		rc = db_fail(ix, err, "nonce");
	} else {
		e = sqlite3_step(st);
		if (e != SQLITE_ROW && e != SQLITE_DONE)
			rc = db_fail(ix, err, "nonce");
		/* An expired nonce is still refused: its request is expired too. */
		*used = e == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->lock);
	(void)now;
	return rc;
}
