/*
 * export.c - the log's read path as static files (c2sp.org/tlog-tiles):
 *   OUT/checkpoint, OUT/tile/<L>/<N>[.p/<W>], OUT/tile/entries/<N>[.p/<W>]
 * Any static web server, object store or CDN can serve OUT as it is. Full
 * tiles and bundles are immutable and skipped when already present, so a
 * re-run exports only what is new; the checkpoint is written last, so OUT
 * never names a tree whose tiles it does not hold yet.
 */
#define _GNU_SOURCE
#include "tlog_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p for the directories of path (not path itself). */
static enum l3af_status make_parents(const char *path, struct l3af_err *err)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return l3af_fail(err, L3AF_E_LIMIT, "path too long: %s", path);
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return l3af_fail(err, L3AF_E_IO, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	return L3AF_OK;
}

static enum l3af_status export_tile(struct tlog *log, const char *outdir,
				    const struct tlog_tile_id *id, unsigned long *written,
				    struct l3af_err *err)
{
	char rel[TLOG_TILE_PATH_MAX], path[PATH_MAX];
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0;
	enum l3af_status rc = tlog_tile_path(id, rel);

	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "export: bad tile id");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", outdir, rel) >= sizeof(path))
		return l3af_fail(err, L3AF_E_LIMIT, "export: path too long");
	/* Tiles are immutable: an existing file of the same name is the same
	 * content (a hash tile's size is fixed by its width). */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (id->level == TLOG_TILE_ENTRIES || (size_t)st.st_size == id->width * TLOG_HASH_BYTES))
		return L3AF_OK;
	rc = make_parents(path, err);
	if (rc == L3AF_OK)
		rc = tlog_tile_read(log, id, &data, &len, err);
	if (rc == L3AF_OK)
		rc = l3af_file_replace(path, data, len, 0644, err);
	if (rc == L3AF_OK)
		(*written)++;
	l3af_free(data);
	return rc;
}

/* Every tile of one level (or the bundles) in a tree of `size`. */
static enum l3af_status export_level(struct tlog *log, const char *outdir, int level,
				     uint64_t size, unsigned long *written, struct l3af_err *err)
{
	unsigned shift = (unsigned)(level < 0 ? 0 : level) * TLOG_TILE_HEIGHT;
	uint64_t at_level = shift < 64 ? size >> shift : 0;
	enum l3af_status rc = L3AF_OK;

	for (uint64_t n = 0; rc == L3AF_OK && n * TLOG_TILE_WIDTH < at_level; n++) {
		struct tlog_tile_id id = {.level = level, .n = n,
					  .width = tlog_tile_width_at(level, n, size)};
		rc = export_tile(log, outdir, &id, written, err);
	}
	return rc;
}

enum l3af_status tlog_export(struct tlog *log, const char *outdir, struct l3af_err *err)
{
	char path[PATH_MAX], *note = NULL;
	size_t note_len = 0;
	unsigned long written = 0;
	struct tlog_checkpoint cp;
	enum l3af_status rc = tlog_checkpoint_get(log, &note, &note_len, err);

	/* Export exactly the tree of the checkpoint taken here. */
	if (rc == L3AF_OK)
		rc = tlog_note_check(log, note, note_len, &cp, err);
	if (rc == L3AF_OK)
		rc = export_level(log, outdir, TLOG_TILE_ENTRIES, cp.size, &written, err);
	for (int level = 0; rc == L3AF_OK && level < TLOG_LEVELS; level++)
		rc = export_level(log, outdir, level, cp.size, &written, err);
	if (rc == L3AF_OK && (size_t)snprintf(path, sizeof(path), "%s/checkpoint", outdir) >=
				     sizeof(path))
		rc = l3af_fail(err, L3AF_E_LIMIT, "export: path too long");
	if (rc == L3AF_OK)
		rc = make_parents(path, err);
	if (rc == L3AF_OK)
		rc = l3af_file_replace(path, note, note_len, 0644, err);
	l3af_free(note);
	return rc;
}
