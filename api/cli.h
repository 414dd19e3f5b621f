/*
 * cli.h - shared by the l3af-tlog subcommands (api/cmd_*.c): the command
 * table entry type and small helpers for option parsing and output.
 */
#ifndef L3AF_CLI_H
#define L3AF_CLI_H

#include <stdio.h>

#include "l3af.h"

/* Exit codes of l3af-tlog (docs/cli.md). */
enum {
	CLI_OK = 0,      /* did what was asked; for fsck: nothing wrong */
	CLI_FAIL = 1,    /* could not do it, or found damage */
	CLI_USAGE = 2,   /* bad arguments */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
	void (*help)(FILE *out);
};

int cmd_fsck(int argc, char **argv);
void cmd_fsck_help(FILE *out);
int cmd_export(int argc, char **argv);
void cmd_export_help(FILE *out);
int cmd_bench(int argc, char **argv);
/* bench read (api/bench_read.c). */
int bench_read(const char *dir, unsigned secs, unsigned conns);
/* bench submit [--clients N] [--seconds S] [--entries K] [--object F]
 * (api/bench_submit.c); argv[1] is "submit". */
int bench_submit_main(int argc, char **argv);
/* bench verify [--bytes N] (api/bench_verify.c); argv[0] is "verify". */
int bench_verify_main(int argc, char **argv);
/* Shared by the benches (api/bench_prepare.c): a free loopback port (bind
 * port 0, read it back, close); wait up to 10 s until something accepts on
 * 127.0.0.1:port (0, or -1 on timeout). */
unsigned bench_free_port(void);
int bench_wait_listening(unsigned port);
void cmd_bench_help(FILE *out);
int cmd_keygen(int argc, char **argv);
void cmd_keygen_help(FILE *out);
int cmd_package(int argc, char **argv);
void cmd_package_help(FILE *out);
int cmd_sign(int argc, char **argv);
void cmd_sign_help(FILE *out);
int cmd_statement(int argc, char **argv);
void cmd_statement_help(FILE *out);

/* "l3af-tlog CMD: message" on stderr, returns code. */
int cli_error(const char *cmd, int code, const char *fmt, ...) L3AF_PRINTF(3, 4);
/* Parse a positive integer option value; exits with a usage error message
 * through cli_error on failure (returns -1). */
int cli_parse_count(const char *cmd, const char *opt, const char *text, unsigned long long max,
		    unsigned long long *out);

#endif
