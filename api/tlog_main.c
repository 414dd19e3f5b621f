/*
 * tlog_main.c - l3af-tlog: the operator's, publisher's and auditor's client.
 * A table of subcommands; each lives in its own cmd_*.c file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const struct cli_command commands[] = {
	{"keygen", "make a publisher signing key", cmd_keygen, cmd_keygen_help},
	{"package", "create a reproducible package archive, or inspect one", cmd_package,
	 cmd_package_help},
	{"sign", "sign a package: an in-toto statement in a DSSE envelope", cmd_sign,
	 cmd_sign_help},
	{"statement", "check a signed package statement locally", cmd_statement,
	 cmd_statement_help},
	{"submit", "submit a signed package to a log; write its bundle", cmd_submit,
	 cmd_submit_help},
	{"publisher", "admin: register a publisher or update its keys (add, update)",
	 cmd_publisher, cmd_publisher_help},
	{"lookup", "find logged packages by name, archive or program digest", cmd_lookup,
	 cmd_lookup_help},
	{"bundle", "fetch an entry's bundle, or verify one offline", cmd_bundle,
	 cmd_bundle_help},
	{"fsck", "recompute and check everything a log's data directory stores", cmd_fsck,
	 cmd_fsck_help},
	{"export", "write the log's checkpoint, tiles and entry bundles as static files",
	 cmd_export, cmd_export_help},
	{"bench", "run a benchmark and print a one-line JSON summary", cmd_bench,
	 cmd_bench_help},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int cli_error(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "l3af-tlog %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_parse_count(const char *cmd, const char *opt, const char *text, unsigned long long max,
		    unsigned long long *out)
{
	uint64_t v = 0;

	if (l3af_parse_u64(text, strlen(text), max, &v) != L3AF_OK || v == 0) {
		cli_error(cmd, CLI_USAGE, "%s wants a whole number from 1 to %llu, not '%s'", opt,
			  max, text);
		return -1;
	}
	*out = v;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: l3af-tlog COMMAND [OPTIONS]\n\n"
		     "The client of an l3af-tlog transparency log for eBPF packages.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'l3af-tlog help COMMAND' or 'l3af-tlog COMMAND --help' explains one.\n"
		     "Exit status: 0 done, 1 failed (or damage found), 2 bad usage,\n"
		     "3 the log could not be reached (log client commands).\n");
}

static const struct cli_command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (argc > 2 && (cmd = find(argv[2]))) {
			cmd->help(stdout);
			return CLI_OK;
		}
		usage(stdout);
		return argc > 2 ? CLI_USAGE : CLI_OK;
	}
	cmd = find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "l3af-tlog: unknown command '%s'\n\n", argv[1]);
		usage(stderr);
		return CLI_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cmd->help(stdout);
			return CLI_OK;
		}
	return cmd->run(argc - 1, argv + 1);
}
