/*
 * fuzz_tile_path.c - c2sp.org/tlog-tiles path parsing on any bytes.
 * Property: an accepted path re-formats to exactly the input (one spelling
 * per tile, so "../", percent-encoding or leading zeros never get through).
 */
#include <stdlib.h>
#include <string.h>

#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlog_tile_id id;
	char out[TLOG_TILE_PATH_MAX];

	if (tlog_tile_path_parse((const char *)data, size, &id, NULL) != L3AF_OK)
		return 0;
	if (tlog_tile_path(&id, out) != L3AF_OK)
		abort();
	if (strlen(out) != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
