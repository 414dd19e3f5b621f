/*
 * fuzz_package.c - package archives (tar, tar.gz, zip) read from any bytes
 * with ebpf_pkg_read, then the manifest of what was accepted.
 * Property: never crashes, never reads out of bounds, leaks nothing; a
 * package accepted obeys the caps and rules ebpf.h states: files sorted and
 * unique, each found by its path, sizes within the limits, modes 0644/0755.
 */
#include <stdlib.h>
#include <string.h>

#include "ebpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ebpf_pkg *pkg)
{
	uint64_t total = 0;
	char *json = NULL;

	if (pkg->nfiles == 0 || pkg->nfiles > EBPF_PKG_MAX_FILES || !pkg->name)
		abort();
	for (size_t i = 0; i < pkg->nfiles; i++) {
		const struct ebpf_pkg_file *f = &pkg->files[i];
		if (i > 0 && strcmp(pkg->files[i - 1].path, f->path) >= 0)
			abort(); /* sorted, no duplicates */
		if (ebpf_pkg_find(pkg, f->path) != f || f->path[0] == '/' ||
		    strlen(f->path) > EBPF_PKG_MAX_PATH)
			abort();
		if ((f->mode != 0644 && f->mode != 0755) || f->size > EBPF_PKG_MAX_FILE_BYTES)
			abort();
		total += f->size;
	}
	if (total > EBPF_PKG_MAX_TOTAL_BYTES)
		abort();
	if (ebpf_pkg_manifest_json(pkg, &json, NULL) == L3AF_OK && json[0] != '[')
		abort();
	l3af_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ebpf_pkg *pkg = NULL;

	if (ebpf_pkg_read(data, size, &pkg, NULL) == L3AF_OK)
		check(pkg);
	ebpf_pkg_free(pkg);
	return 0;
}
