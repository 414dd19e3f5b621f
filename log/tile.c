/*
 * tile.c - c2sp.org/tlog-tiles paths and widths.
 *
 *   tile/<L>/<N>[.p/<W>]        hashes at level L (tile height 8)
 *   tile/entries/<N>[.p/<W>]    entry bundle
 *
 * N is written in 3-digit groups, every group but the last prefixed with
 * 'x': 1234067 -> x001/x234/067. W is 1..255; a full tile has no suffix.
 */
#include "tlog.h"

#include <stdio.h>
#include <string.h>

enum l3af_status tlog_tile_path(const struct tlog_tile_id *id,
				char buf[static TLOG_TILE_PATH_MAX])
{
	char groups[8][4];
	int ngroups = 0, off;
	uint64_t n = id->n;

	if (id->level < TLOG_TILE_ENTRIES || id->level > 63 || id->width == 0 ||
	    id->width > TLOG_TILE_WIDTH)
		return L3AF_E_INVALID;
	do {
		snprintf(groups[ngroups++], sizeof(groups[0]), "%03u", (unsigned)(n % 1000));
		n /= 1000;
	} while (n > 0);
	if (id->level == TLOG_TILE_ENTRIES)
		off = snprintf(buf, TLOG_TILE_PATH_MAX, "tile/entries/");
	else
		off = snprintf(buf, TLOG_TILE_PATH_MAX, "tile/%d/", id->level);
	for (int g = ngroups - 1; g >= 0; g--)
		off += snprintf(buf + off, (size_t)(TLOG_TILE_PATH_MAX - off), "%s%s%s",
				g > 0 ? "x" : "", groups[g], g > 0 ? "/" : "");
	if (id->width < TLOG_TILE_WIDTH)
		snprintf(buf + off, (size_t)(TLOG_TILE_PATH_MAX - off), ".p/%u", id->width);
	return L3AF_OK;
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0;
}

/* Parse N: "x001/x234/067"; *used receives the bytes consumed. */
static enum l3af_status parse_index(const char *s, size_t len, uint64_t *out, size_t *used)
{
	uint64_t n = 0;
	size_t pos = 0;

	for (;;) {
		int prefixed = pos < len && s[pos] == 'x';
		size_t start = pos + (size_t)prefixed;
		if (start + 3 > len || !all_digits(s + start, 3))
			return L3AF_E_INVALID;
		unsigned group = (unsigned)((s[start] - '0') * 100 + (s[start + 1] - '0') * 10 +
					    (s[start + 2] - '0'));
		if (n > (UINT64_MAX - group) / 1000)
			return L3AF_E_INVALID;
		n = n * 1000 + group;
		pos = start + 3;
		if (!prefixed)
			break;
		if (pos >= len || s[pos] != '/')
			return L3AF_E_INVALID;
		pos++;
	}
	/* Groups must be minimal: a leading "x000/" is not canonical. */
	if (len >= 4 && s[0] == 'x' && memcmp(s + 1, "000", 3) == 0)
		return L3AF_E_INVALID;
	*out = n;
	*used = pos;
	return L3AF_OK;
}

enum l3af_status tlog_tile_path_parse(const char *path, size_t len,
				      struct tlog_tile_id *out, struct l3af_err *err)
{
	struct tlog_tile_id id = {.width = TLOG_TILE_WIDTH};
	size_t pos, used = 0;
	uint64_t v;

	if (len < 5 || memcmp(path, "tile/", 5) != 0)
		return l3af_fail(err, L3AF_E_INVALID, "tile path must start with tile/");
	pos = 5;
	if (len - pos >= 8 && memcmp(path + pos, "entries/", 8) == 0) {
		id.level = TLOG_TILE_ENTRIES;
		pos += 8;
	} else {
		const char *slash = memchr(path + pos, '/', len - pos);
		if (!slash || l3af_parse_u64(path + pos, (size_t)(slash - path) - pos, 63, &v))
			return l3af_fail(err, L3AF_E_INVALID, "tile path: bad level");
		id.level = (int)v;
		pos = (size_t)(slash - path) + 1;
	}
	if (parse_index(path + pos, len - pos, &id.n, &used) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID, "tile path: bad tile index");
	pos += used;
	if (pos < len) {
		if (len - pos < 4 || memcmp(path + pos, ".p/", 3) != 0 ||
		    l3af_parse_u64(path + pos + 3, len - pos - 3, TLOG_TILE_WIDTH - 1, &v) ||
		    v == 0)
			return l3af_fail(err, L3AF_E_INVALID, "tile path: bad partial width");
		id.width = (unsigned)v;
	}
	if (id.n > TLOG_SIZE_MAX / TLOG_TILE_WIDTH)
		return l3af_fail(err, L3AF_E_INVALID, "tile path: index out of range");
	*out = id;
	return L3AF_OK;
}

unsigned tlog_tile_width_at(int level, uint64_t n, uint64_t size)
{
	unsigned shift = (unsigned)(level < 0 ? 0 : level) * TLOG_TILE_HEIGHT;
	uint64_t at_level, first;

	if (shift >= 64)
		return 0;
	at_level = size >> shift; /* hashes that exist at this level */
	if (n > UINT64_MAX / TLOG_TILE_WIDTH)
		return 0;
	first = n * TLOG_TILE_WIDTH;
	if (at_level <= first)
		return 0;
	if (at_level - first >= TLOG_TILE_WIDTH)
		return TLOG_TILE_WIDTH;
	return (unsigned)(at_level - first);
}
