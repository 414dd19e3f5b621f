/*
 * bench_read.c - l3af-tlog bench read: the read path (c2sp.org/tlog-tiles)
 * served by l3af-tlogd's HTTP server against nginx serving the same files
 * exported with tlog_export, in the same run, loaded by wrk on loopback.
 * Both servers get 2 worker threads; wrk shares the machine, so the absolute
 * figures are floors and the ratios are what to read.
 *
 * Routes: /checkpoint, tile/0/000, tile/entries/000, and proof bundles
 * (/v1/bundle/<i>, docs/formats.md section 8) of random entries i, which
 * nginx cannot serve: its closest static equivalent is the exported entry
 * bundle holding entry i (tile/entries/<i/256>), so that is its side.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "tlog.h"

extern char **environ;

#define NGINX "/usr/sbin/nginx"
#define WRK "/usr/bin/wrk"

/* Run argv, capture up to cap-1 bytes of stdout into out; exit status. */
static int run_capture(char *const argv[], char *out, size_t cap)
{
	posix_spawn_file_actions_t fa;
	int fds[2], status = -1;
	size_t got = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	for (ssize_t r; pid > 0 && got + 1 < cap && (r = read(fds[0], out + got, cap - 1 - got)) > 0;)
		got += (size_t)r;
	out[got] = '\0';
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* wrk's "Requests/sec:" for url (with a Lua script choosing the paths if
 * script is not NULL), or -1. */
static double wrk_rate(const char *url, const char *script, unsigned seconds, unsigned conns)
{
	char prog[] = WRK, threads[] = "-t2", dur[16], con[16], target[256], out[8192], *p;
	char sflag[] = "-s", spath[4096];
	char *argv[] = {prog, threads, con, dur, target, NULL, NULL, NULL};

	snprintf(dur, sizeof(dur), "-d%us", seconds);
	snprintf(con, sizeof(con), "-c%u", conns);
	if ((size_t)snprintf(target, sizeof(target), "%s", url) >= sizeof(target))
		return -1;
	if (script) {
		if ((size_t)snprintf(spath, sizeof(spath), "%s", script) >= sizeof(spath))
			return -1;
		argv[5] = sflag;
		argv[6] = spath;
	}
	if (run_capture(argv, out, sizeof(out)) != 0 || !(p = strstr(out, "Requests/sec:")))
		return -1;
	if (strstr(out, "Non-2xx"))
		return -1; /* every answer must be a 200 */
	return strtod(p + 13, NULL);
}

/*
 * The wrk script of the bundle route: each request asks for a random entry
 * index in [0, n) (n: the entries in full tiles). ours: /v1/bundle/<i>;
 * else nginx's closest static equivalent, the exported entry bundle holding
 * entry i, tile/entries/<i / 256> (tlog-tiles path: x-prefixed groups of 3
 * digits). Each wrk thread seeds its own generator.
 */
static int write_script(const char *path, uint64_t n, bool ours)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f,
		     "local n = %llu\n"
		     "local id = 0\n"
		     "function setup(thread) id = id + 1; thread:set(\"seed\", id) end\n"
		     "function init(args) math.randomseed(seed * 7919) end\n"
		     "local function tile(t)\n"
		     "  local s = string.format(\"%%03d\", t %% 1000)\n"
		     "  t = math.floor(t / 1000)\n"
		     "  while t > 0 do\n"
		     "    s = string.format(\"x%%03d/\", t %% 1000) .. s\n"
		     "    t = math.floor(t / 1000)\n"
		     "  end\n"
		     "  return s\n"
		     "end\n"
		     "function request()\n"
		     "  local i = math.random(0, n - 1)\n"
		     "  return wrk.format(\"GET\", %s)\n"
		     "end\n",
		     (unsigned long long)n,
		     ours ? "\"/v1/bundle/\" .. string.format(\"%d\", i)"
			  : "\"/tile/entries/\" .. tile(math.floor(i / 256))") > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Start nginx on 127.0.0.1:port serving root, with its files under dir. */
static pid_t nginx_start(const char *dir, const char *root, unsigned port)
{
	char conf[16384], path[4096], prefix[4096], prog[] = NGINX, c[] = "-c", pflag[] = "-p",
		gflag[] = "-g", daemon[] = "daemon off;";
	char *argv[] = {prog, c, path, pflag, prefix, gflag, daemon, NULL};
	pid_t pid;
	FILE *f;
	int n;

	if ((size_t)snprintf(path, sizeof(path), "%s/nginx.conf", dir) >= sizeof(path) ||
	    (size_t)snprintf(prefix, sizeof(prefix), "%s", dir) >= sizeof(prefix) ||
	    strlen(root) > 1024 || strlen(dir) > 1024)
		return -1;
	n = snprintf(conf, sizeof(conf),
		 "worker_processes 2; pid %s/nginx.pid; error_log %s/error.log;\n"
		 "events { worker_connections 1024; }\n"
		 "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n"
		 "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
		 "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
		 "  default_type application/octet-stream;\n"
		 "  server { listen 127.0.0.1:%u; root %s;\n"
		 "    location = /checkpoint { default_type \"text/plain; charset=utf-8\"; } } }\n",
		 dir, dir, dir, dir, dir, dir, dir, port, root);
	if (n < 0 || (size_t)n >= sizeof(conf))
		return -1;
	f = fopen(path, "w");
	if (!f || fputs(conf, f) < 0 || fclose(f) != 0)
		return -1;
	if (posix_spawn(&pid, NGINX, NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

struct read_result {
	double ours, nginx;
};

/* One route: label, our path and nginx's (or wrk scripts, for random paths). */
struct route {
	const char *label, *ours, *nginx;
	const char *script_ours, *script_nginx;
};

static int measure(const struct route *rt, unsigned port_ours, unsigned port_nginx,
		   unsigned secs, unsigned conns, struct read_result *r)
{
	char a[256], b[256];

	snprintf(a, sizeof(a), "http://127.0.0.1:%u/%s", port_ours, rt->ours);
	snprintf(b, sizeof(b), "http://127.0.0.1:%u/%s", port_nginx, rt->nginx);
	/* Alternate, so that drift in the machine's speed hits both. */
	r->nginx = wrk_rate(b, rt->script_nginx, secs, conns);
	r->ours = wrk_rate(a, rt->script_ours, secs, conns);
	if (r->ours < 0 || r->nginx < 0)
		return cli_error("bench", CLI_FAIL, "wrk failed on %s (a non-200 answer?)",
				 rt->label);
	printf("%-24s l3af-tlogd %9.0f req/s   nginx %9.0f req/s   ratio %.2f\n", rt->label,
	       r->ours, r->nginx, r->ours / r->nginx);
	return CLI_OK;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

#define ROUTES 4

static void print_json(uint64_t size, unsigned secs, unsigned conns,
		       const struct read_result r[ROUTES])
{
	static const char *const names[ROUTES] = {"checkpoint", "tile", "entries", "bundle"};

	printf("{\"bench\":\"read\",\"size\":%llu,\"seconds\":%u,\"connections\":%u",
	       (unsigned long long)size, secs, conns);
	for (int i = 0; i < ROUTES; i++)
		printf(",\"%s_per_s\":%.0f,\"nginx_%s_per_s\":%.0f,\"%s_ratio\":%.3f", names[i],
		       r[i].ours, names[i], r[i].nginx, names[i], r[i].ours / r[i].nginx);
	printf("}\n");
}

int bench_read(const char *dir, unsigned secs, unsigned conns)
{
	char work[] = "/tmp/l3af-bench-read-XXXXXX", www[4096], s_ours[4096], s_nginx[4096];
	struct route routes[ROUTES] = {
		{"/checkpoint", "checkpoint", "checkpoint", NULL, NULL},
		{"/tile/0/000", "tile/0/000", "tile/0/000", NULL, NULL},
		{"/tile/entries/000", "tile/entries/000", "tile/entries/000", NULL, NULL},
		{"/v1/bundle/<random>", "", "", s_ours, s_nginx},
	};
	struct read_result r[ROUTES];
	struct tlog *log = NULL;
	struct api_server *srv = NULL;
	struct api_config cfg = {.listen = "127.0.0.1:0", .threads = 2};
	struct l3af_err err = {0};
	unsigned nport = bench_free_port();
	uint64_t full;
	pid_t nginx = -1;
	int rc = CLI_OK;

	if (access(NGINX, X_OK) != 0 || access(WRK, X_OK) != 0)
		return cli_error("bench", CLI_FAIL, "bench read needs nginx and wrk: "
						    "apt-get install nginx-light wrk");
	if (tlog_open(dir, TLOG_OPEN_READONLY, &log, &err) != L3AF_OK)
		return cli_error("bench", CLI_FAIL, "%s (make one with 'l3af-tlog bench append "
						    "--data %s --count 70000')", err.msg, dir);
	full = tlog_size(log) / TLOG_TILE_WIDTH * TLOG_TILE_WIDTH;
	if (full == 0) {
		tlog_close(log);
		return cli_error("bench", CLI_FAIL, "the log needs at least 256 entries");
	}
	if (!mkdtemp(work)) {
		tlog_close(log);
		return cli_error("bench", CLI_FAIL, "mkdtemp: %m");
	}
	snprintf(www, sizeof(www), "%s/www", work);
	snprintf(s_ours, sizeof(s_ours), "%s/bundle-ours.lua", work);
	snprintf(s_nginx, sizeof(s_nginx), "%s/bundle-nginx.lua", work);
	if (write_script(s_ours, full, true) != 0 || write_script(s_nginx, full, false) != 0)
		rc = cli_error("bench", CLI_FAIL, "cannot write the wrk scripts in %s", work);
	if (rc == CLI_OK && (tlog_export(log, www, &err) != L3AF_OK ||
			     api_server_start(log, &cfg, &srv, &err) != L3AF_OK))
		rc = cli_error("bench", CLI_FAIL, "%s", err.msg);
	if (rc == CLI_OK && ((nginx = nginx_start(work, www, nport)) < 0 || bench_wait_listening(nport)))
		rc = cli_error("bench", CLI_FAIL, "nginx did not start (see %s/error.log)", work);
	for (int i = 0; rc == CLI_OK && i < ROUTES; i++)
		rc = measure(&routes[i], api_server_port(srv), nport, secs, conns, &r[i]);
	if (rc == CLI_OK)
		print_json(tlog_size(log), secs, conns, r);
	if (nginx > 0) {
		kill(nginx, SIGTERM);
		waitpid(nginx, NULL, 0);
	}
	api_server_stop(srv);
	tlog_close(log);
	nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
