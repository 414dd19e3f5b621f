/*
 * publish.h - shared by the publisher's commands (api/cmd_publish.c,
 * cmd_package.c, cmd_sign.c): file and JSON helpers and package inspection.
 * Each returns a CLI exit code and prints its own error.
 */
#ifndef L3AF_PUBLISH_H
#define L3AF_PUBLISH_H

#include <jansson.h>
#include <stdbool.h>

#include "ebpf.h"

/* {"files": manifest, "objects": [facts...]} plus violations of policy. */
struct inspection {
	json_t *files, *objects, *violations;
	struct ebpf_object **objs;
	size_t nobjs;
	const struct ebpf_pkg_file *doc, *license;
	bool user_exe;
};

int pub_load_file(const char *cmd, const char *path, size_t max, char **buf, size_t *len);
void pub_sha256_hex(const uint8_t *data, size_t len, uint8_t bin[32], char hex[65]);
void pub_print_json(json_t *v);
/* A command-line value as JSON text; NULL (usage message printed) unless UTF-8. */
json_t *pub_arg_string(const char *cmd, const char *opt, const char *value);
int pub_set_arg(json_t *obj, const char *key, const char *cmd, const char *opt,
		const char *value);
/* "os/arch[/distro]" as {"os","arch"[,"distro"]}; NULL if malformed. */
json_t *pub_parse_platform(const char *text);
int pub_read_package(const char *cmd, const char *path, char **bytes, size_t *len,
		     struct ebpf_pkg **pkg);
int pub_load_policy(const char *cmd, const char *path, struct ebpf_policy **out);
int pub_inspect_package(const char *cmd, const struct ebpf_pkg *pkg,
			const struct ebpf_policy *policy, struct inspection *in);
void pub_inspection_free(struct inspection *in);

#endif
