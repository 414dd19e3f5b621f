/*
 * cmd_log.c - operator commands on a data directory: fsck and export.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tlog.h"

void cmd_fsck_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog fsck --data DIR\n\n"
		"Recompute everything the log in DIR stores and compare: SQLite's integrity\n"
		"check; every entry re-hashed, contiguous from index 0; every tile rebuilt;\n"
		"every entry's deduplication key; every stored checkpoint's signature, origin\n"
		"and root at its size; and the record of the last checkpoint served.\n"
		"It only reads and takes no lock, so it may run beside a live l3af-tlogd.\n\n"
		"Options:\n"
		"  --data DIR   the log's data directory (required)\n\n"
		"Prints one line per problem, then a summary.\n"
		"Exit status: 0 nothing wrong, 1 damage found (or the check could not run),\n"
		"2 bad usage.\n\n"
		"Example: l3af-tlog fsck --data /var/lib/l3af-tlog\n");
}

void cmd_export_help(FILE *out)
{
	fprintf(out,
		"usage: l3af-tlog export --data DIR --out OUTDIR\n\n"
		"Write the log's read path as static files laid out as c2sp.org/tlog-tiles:\n"
		"OUTDIR/checkpoint, OUTDIR/tile/<L>/<N>[.p/<W>] and\n"
		"OUTDIR/tile/entries/<N>[.p/<W>]. Any static web server (nginx), object store\n"
		"or CDN can serve OUTDIR as it is. Full tiles are immutable, so running it again\n"
		"writes only what is new; the checkpoint is written last.\n\n"
		"Options:\n"
		"  --data DIR     the log's data directory (required)\n"
		"  --out OUTDIR   where to write (created if missing; required)\n\n"
		"Exit status: 0 done, 1 failed, 2 bad usage.\n\n"
		"Example: l3af-tlog export --data /var/lib/l3af-tlog --out /srv/www/log\n");
}

static void print_problem(void *ctx, const char *line)
{
	unsigned long *n = ctx;

	(*n)++;
	printf("problem: %s\n", line);
}

/* Parse --data and optionally --out; NULL for an option not wanted. */
static int parse_dirs(const char *cmd, int argc, char **argv, const char **data,
		      const char **outdir)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
					     {"out", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			*data = optarg;
		else if (c == 'o' && outdir)
			*outdir = optarg;
		else
			return cli_error(cmd, CLI_USAGE, "unknown option (see --help)");
	}
	if (optind < argc)
		return cli_error(cmd, CLI_USAGE, "unexpected argument '%s'", argv[optind]);
	if (!*data)
		return cli_error(cmd, CLI_USAGE, "--data DIR is required");
	if (outdir && !*outdir)
		return cli_error(cmd, CLI_USAGE, "--out OUTDIR is required");
	return CLI_OK;
}

int cmd_fsck(int argc, char **argv)
{
	const char *data = NULL;
	unsigned long problems = 0;
	struct l3af_err err = {0};
	int rc = parse_dirs("fsck", argc, argv, &data, NULL);

	if (rc != CLI_OK)
		return rc;
	if (tlog_fsck(data, print_problem, &problems, &err) != L3AF_OK) {
		printf("fsck: %s: %s\n", data, err.msg);
		return CLI_FAIL;
	}
	printf("fsck: %s: ok\n", data);
	return CLI_OK;
}

int cmd_export(int argc, char **argv)
{
	const char *data = NULL, *outdir = NULL;
	struct tlog *log = NULL;
	struct l3af_err err = {0};
	int rc = parse_dirs("export", argc, argv, &data, &outdir);

	if (rc != CLI_OK)
		return rc;
	if (tlog_open(data, TLOG_OPEN_READONLY, &log, &err) != L3AF_OK ||
	    tlog_export(log, outdir, &err) != L3AF_OK) {
		tlog_close(log);
		return cli_error("export", CLI_FAIL, "%s", err.msg);
	}
	printf("export: size %llu written to %s\n", (unsigned long long)tlog_size(log), outdir);
	tlog_close(log);
	return CLI_OK;
}
