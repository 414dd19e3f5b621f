/*
 * fuzz_tlogd_config.c - l3af-tlogd's config file parser
 * (tlogd_config_load in api/tlogd_config.c, compiled into this target; the
 * file belongs to the binary, not to a library) on any bytes, written to a
 * temporary file because the parser reads a path.
 * Properties: never crashes, never leaks; a refusal names the file and
 * line ("PATH:LINE: ..."); an accepted file sets only known keys with
 * values in range, and tlogd_config_finish then succeeds exactly when data
 * was given.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "tlogd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/fuzz-tlogd-config-XXXXXX";
static int fd = -1;

static void check_values(const struct tlogd_config *c)
{
	if (c->given >> 14) /* 14 keys */
		abort();
	if ((c->threads && c->threads > API_THREADS_MAX) ||
	    c->max_artifact_bytes > (UINT64_C(1) << 40) || c->max_batch > 65536 ||
	    c->max_pending > 1048576 || c->timeout_s > 86400 ||
	    (c->export_interval_ms &&
	     (c->export_interval_ms < 10 || c->export_interval_ms > TLOGD_EXPORT_INTERVAL_MAX_MS)) ||
	    (c->data && !c->data[0]) || (c->listen && api_listen_check(c->listen, NULL) != L3AF_OK) ||
	    (c->origin && tlog_origin_check(c->origin, NULL) != L3AF_OK))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlogd_config cfg;
	struct l3af_err err = {0};
	enum l3af_status rc;
	bool had_data;

	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	rc = tlogd_config_load(&cfg, path, &err);
	if (rc == L3AF_OK) {
		check_values(&cfg);
		had_data = cfg.data != NULL;
		rc = tlogd_config_finish(&cfg, &err);
		if ((rc == L3AF_OK) != had_data || (rc == L3AF_OK && !cfg.listen))
			abort();
	} else if (rc == L3AF_E_INVALID && strncmp(err.msg, path, strlen(path)) != 0) {
		abort();
	}
	tlogd_config_clear(&cfg);
	return 0;
}
