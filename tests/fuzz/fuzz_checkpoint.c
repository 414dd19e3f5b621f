/*
 * fuzz_checkpoint.c - c2sp.org/tlog-checkpoint body parsing on any bytes.
 * Property: an accepted body re-formats to exactly the input.
 */
#include <stdlib.h>
#include <string.h>

#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlog_checkpoint cp;
	char out[TLOG_CHECKPOINT_BODY_MAX];
	size_t len = 0;

	if (tlog_checkpoint_parse((const char *)data, size, &cp, NULL) != L3AF_OK)
		return 0;
	if (tlog_checkpoint_format(&cp, out, sizeof(out), &len, NULL) != L3AF_OK)
		abort();
	if (len != size || memcmp(out, data, size) != 0)
		abort(); /* a second spelling of one checkpoint was accepted */
	return 0;
}
