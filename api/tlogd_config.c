/*
 * tlogd_config.c - l3af-tlogd's settings: one table of keys shared by the
 * command line (--max-batch 64) and the config file (max_batch = 64), one
 * value check per key. The file syntax is our own and deliberately small
 * (docs/operations.md "Config file"): "key = value" lines, lines starting
 * with '#' are comments, blank lines are skipped; no quoting, no trailing
 * comments, no continuation lines. Unknown keys, duplicates, bad values and
 * control bytes are errors naming the file and line.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "tlogd_internal.h"

enum kind {
	K_PATH,   /* non-empty string, no control bytes */
	K_LISTEN, /* api_listen_check */
	K_ORIGIN, /* tlog_origin_check */
	K_UINT,   /* unsigned in min..max, into an unsigned */
	K_U64,    /* unsigned in min..max, into a uint64_t */
	K_FORMAT, /* text | json */
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	uint64_t min, max;
};

#define OFF(f) offsetof(struct tlogd_config, f)

static const struct key keys[] = {
	{"data", K_PATH, OFF(data), 0, 0},
	{"listen", K_LISTEN, OFF(listen), 0, 0},
	{"origin", K_ORIGIN, OFF(origin), 0, 0},
	{"threads", K_UINT, OFF(threads), 1, API_THREADS_MAX},
	{"policy", K_PATH, OFF(policy), 0, 0},
	{"max_artifact_bytes", K_U64, OFF(max_artifact_bytes), 1, UINT64_C(1) << 40},
	{"max_batch", K_U64, OFF(max_batch), 1, 65536},
	{"max_pending", K_U64, OFF(max_pending), 1, 1048576},
	{"conn_limit", K_UINT, OFF(conn_limit), 1, 1000000},
	{"per_ip_limit", K_UINT, OFF(per_ip_limit), 1, 1000000},
	{"timeout_s", K_UINT, OFF(timeout_s), 1, 86400},
	{"export_dir", K_PATH, OFF(export_dir), 0, 0},
	{"export_interval_ms", K_UINT, OFF(export_interval_ms), 10, TLOGD_EXPORT_INTERVAL_MAX_MS},
	{"log_format", K_FORMAT, OFF(log_format), 0, 0},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static enum l3af_status set_value(struct tlogd_config *cfg, const struct key *k,
				  const char *value, struct l3af_err *err)
{
	char *field = (char *)cfg + k->off;
	char *copy;
	uint64_t v;

	if (value[0] == '\0')
		return l3af_fail(err, L3AF_E_INVALID, "empty value");
	if (strlen(value) > TLOGD_VALUE_MAX || has_control(value))
		return l3af_fail(err, L3AF_E_INVALID, "value too long or holds control bytes");
	switch (k->kind) {
	case K_LISTEN:
		if (api_listen_check(value, err) != L3AF_OK)
			return L3AF_E_INVALID;
		break;
	case K_ORIGIN:
		if (tlog_origin_check(value, err) != L3AF_OK)
			return L3AF_E_INVALID;
		break;
	case K_PATH:
		break;
	case K_UINT:
	case K_U64:
		if (l3af_parse_u64(value, strlen(value), k->max, &v) != L3AF_OK || v < k->min)
			return l3af_fail(err, L3AF_E_INVALID,
					 "'%s' is not a number in %llu..%llu", value,
					 (unsigned long long)k->min, (unsigned long long)k->max);
		if (k->kind == K_UINT)
			*(unsigned *)(void *)field = (unsigned)v;
		else
			*(uint64_t *)(void *)field = v;
		return L3AF_OK;
	case K_FORMAT:
		if (strcmp(value, "text") == 0)
			cfg->log_format = TLOGD_LOG_TEXT;
		else if (strcmp(value, "json") == 0)
			cfg->log_format = TLOGD_LOG_JSON;
		else
			return l3af_fail(err, L3AF_E_INVALID,
					 "'%s' is not 'text' or 'json'", value);
		return L3AF_OK;
	}
	copy = l3af_malloc(strlen(value) + 1);
	if (!copy)
		return l3af_fail(err, L3AF_E_NOMEM, "out of memory");
	strcpy(copy, value);
	l3af_free(*(char **)(void *)field);
	*(char **)(void *)field = copy;
	return L3AF_OK;
}

enum l3af_status tlogd_config_set(struct tlogd_config *cfg, const char *key,
				  const char *value, bool override, struct l3af_err *err)
{
	const struct key *k = find_key(key, strlen(key));
	uint32_t bit;
	enum l3af_status rc;

	if (!k)
		return l3af_fail(err, L3AF_E_INVALID, "unknown key '%s'", key);
	bit = UINT32_C(1) << (k - keys);
	if (!override && (cfg->given & bit))
		return l3af_fail(err, L3AF_E_INVALID, "given twice");
	rc = set_value(cfg, k, value, err);
	if (rc == L3AF_OK)
		cfg->given |= bit;
	return rc;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One line (no newline), NUL-terminated in place. */
static enum l3af_status parse_line(struct tlogd_config *cfg, char *line, struct l3af_err *err)
{
	char *eq, *key, *kend, *val, *vend;

	while (blank(*line))
		line++;
	if (*line == '\0' || *line == '#')
		return L3AF_OK;
	eq = strchr(line, '=');
	if (!eq)
		return l3af_fail(err, L3AF_E_INVALID, "expected 'key = value'");
	key = line;
	kend = eq;
	while (kend > key && blank(kend[-1]))
		kend--;
	val = eq + 1;
	while (blank(*val))
		val++;
	vend = val + strlen(val);
	while (vend > val && blank(vend[-1]))
		vend--;
	*kend = '\0';
	*vend = '\0';
	if (key == kend)
		return l3af_fail(err, L3AF_E_INVALID, "missing key before '='");
	if (!find_key(key, strlen(key)))
		return l3af_fail(err, L3AF_E_INVALID, "unknown key '%s'", key);
	if (tlogd_config_set(cfg, key, val, false, err) != L3AF_OK) {
		l3af_err_prefix(err, "%s", key);
		return L3AF_E_INVALID;
	}
	return L3AF_OK;
}

enum l3af_status tlogd_config_load(struct tlogd_config *cfg, const char *path,
				   struct l3af_err *err)
{
	char *text = NULL, line[TLOGD_CONFIG_LINE_MAX + 1];
	size_t len = 0, pos = 0, lineno = 0;
	enum l3af_status rc = l3af_file_read(path, TLOGD_CONFIG_MAX, &text, &len, err);

	if (rc != L3AF_OK) {
		l3af_err_prefix(err, "config %s", path);
		return rc;
	}
	while (rc == L3AF_OK && pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (n > TLOGD_CONFIG_LINE_MAX)
			rc = l3af_fail(err, L3AF_E_INVALID, "line longer than %u bytes",
				       TLOGD_CONFIG_LINE_MAX);
		else if (memchr(start, '\0', n))
			rc = l3af_fail(err, L3AF_E_INVALID, "NUL byte");
		else if (memchr(start, '\r', n))
			rc = l3af_fail(err, L3AF_E_INVALID,
				       "carriage return (use Unix line endings)");
		else {
			memcpy(line, start, n);
			line[n] = '\0';
			rc = parse_line(cfg, line, err);
		}
	}
	if (rc != L3AF_OK)
		l3af_err_prefix(err, "%s:%zu", path, lineno);
	l3af_free(text);
	return rc;
}

enum l3af_status tlogd_config_finish(struct tlogd_config *cfg, struct l3af_err *err)
{
	if (!cfg->data)
		return l3af_fail(err, L3AF_E_INVALID,
				 "--data DIR is required (or 'data = DIR' in the config file)");
	if (!cfg->listen) {
		enum l3af_status rc = set_value(cfg, find_key("listen", 6), API_DEFAULT_LISTEN, err);
		if (rc != L3AF_OK)
			return rc;
	}
	if (cfg->export_interval_ms == 0)
		cfg->export_interval_ms = TLOGD_DEFAULT_EXPORT_INTERVAL_MS;
	return L3AF_OK;
}

void tlogd_config_clear(struct tlogd_config *cfg)
{
	l3af_free(cfg->data);
	l3af_free(cfg->listen);
	l3af_free(cfg->origin);
	l3af_free(cfg->policy);
	l3af_free(cfg->export_dir);
	memset(cfg, 0, sizeof(*cfg));
}
