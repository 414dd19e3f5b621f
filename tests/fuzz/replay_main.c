/*
 * replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput over every
 * file of its corpus directory (seeds, and every crash ever found, which is
 * added there). Built with the normal compiler, so the ordinary test run and
 * the sanitizer build replay them without libFuzzer.
 *   usage: replay-NAME DIR...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "l3af.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_dir(const char *dir, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (!d) {
		fprintf(stderr, "replay: cannot open %s\n", dir);
		return 1;
	}
	while ((e = readdir(d))) {
		char *buf = NULL;
		size_t len = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (l3af_file_read(path, 1 << 20, &buf, &len, NULL) != L3AF_OK)
			continue;
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		l3af_free(buf);
		(*count)++;
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int bad = 0;

	for (int i = 1; i < argc; i++)
		bad |= replay_dir(argv[i], &count);
	printf("replayed %u inputs\n", count);
	return bad || count == 0;
}
