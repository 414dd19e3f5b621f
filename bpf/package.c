/*
 * package.c - L3AF package archives: the parts shared by reading
 * (package_read.c) and writing (package_write.c): names shown in messages,
 * the path and package-name rules, the package object and its file
 * manifest. File kinds are in package_kind.c.
 *
 * Package layout (shared/research/ebpf-signing.md 1.3 and 7.1):
 *
 *   l3af_<name>/              one top-level folder, name [a-z][a-z0-9_-]{0,63}
 *   l3af_<name>/x.bpf.o       files and sub-folders below it, nothing else
 *   l3af_<name>/docs/...
 *
 * Security property: the rules here decide what both sides accept. A path
 * is printable ASCII, relative, with no empty, "." or ".." component and no
 * backslash, and nothing Windows would read as another path (':', a
 * trailing '.' or ' ', device names, names differing only in case)
 * (ebpf_pkg_path_rule, ebpf_pkg_case_clash); untrusted names are
 * escaped before they reach a message (ebpf_pkg_show). Reading and writing apply the same rules,
 * so ebpf_pkg_create never makes what ebpf_pkg_read refuses.
 */
#define _POSIX_C_SOURCE 200809L
#include "ebpf.h"
#include "ebpf_internal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small helpers ------------------------------------------------------ */

/* An untrusted name made printable for a message: printable ASCII stays,
 * everything else becomes \xNN; long names are cut with "...". */
const char *ebpf_pkg_show(const char *s, char out[static SHOW_BYTES])
{
	size_t o = 0;

	for (; s && *s && o + 8 < SHOW_BYTES; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, SHOW_BYTES - o, "\\x%02x", c);
	}
	if (s && *s)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = 0;
	return out;
}

char *ebpf_pkg_dup_mem(const char *s, size_t len)
{
	char *p = l3af_malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

/* --- names and paths ---------------------------------------------------- */

/* Compare n bytes ignoring ASCII case, independent of the locale (strncasecmp
 * is not: in a Turkish locale 'I' need not fold to 'i'). */
static int ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int x = (unsigned char)a[i], y = (unsigned char)b[i];
		x += (x >= 'A' && x <= 'Z') ? 'a' - 'A' : 0;
		y += (y >= 'A' && y <= 'Z') ? 'a' - 'A' : 0;
		if (x != y)
			return x - y;
	}
	return 0;
}

/* Windows device names (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$,
 * CONOUT$), matched without case on the part before the first '.' with
 * trailing spaces dropped, as Windows matches them: "nul", "NUL.txt" and
 * "Com1 .log" all name a device there. */
static bool win_device(const char *c, size_t k)
{
	static const char *const names[] = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"};
	size_t n = 0;

	while (n < k && c[n] != '.')
		n++;
	while (n > 0 && c[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i]) && ascii_ncasecmp(c, names[i], n) == 0)
			return true;
	return n == 4 && (ascii_ncasecmp(c, "COM", 3) == 0 || ascii_ncasecmp(c, "LPT", 3) == 0) &&
	       c[3] >= '0' && c[3] <= '9';
}

/* The rule one component (k bytes at c) breaks, or NULL. */
static const char *component_rule(const char *c, size_t k)
{
	if (k == 0)
		return "empty path component";
	if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
		return k == 1 ? "\".\" path component" : "\"..\" path component";
	if (memchr(c, ':', k))
		return "colon in name (a drive or stream separator on Windows)";
	if (c[k - 1] == '.' || c[k - 1] == ' ')
		return "name ends in '.' or ' ' (Windows drops them)";
	if (win_device(c, k))
		return "reserved Windows device name";
	return NULL;
}

/* The rule a '/'-separated relative path breaks, or NULL if it is clean:
 * printable ASCII only (see below), no backslash (a separator on Windows,
 * where native-sys packages are unpacked), not absolute, no empty, "." or
 * ".." component; and no component Windows would read differently: none
 * holding ':', ending in '.' or ' ', or naming a device (NUL, NUL.txt,
 * COM1, ...). Paths differing only in case are a whole-package rule
 * (ebpf_pkg_case_clash).
 *
 * Why ASCII and not any UTF-8: libarchive converts non-ASCII names through
 * the process locale, so whether such a name reads back, and the bytes
 * written for it, would depend on the caller's locale (and libarchive 3.6
 * crashes writing a UTF-8 name in the C locale). A verifier must decide the
 * same way everywhere, so such names are refused on both sides. */
const char *ebpf_pkg_path_rule(const char *path)
{
	size_t n = strlen(path), k;
	const char *rule;

	if (n == 0)
		return "empty name";
	if (path[0] == '/')
		return "absolute path";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c > 0x7e)
			return "name holds a control or non-ASCII byte";
		if (c == '\\')
			return "backslash in name";
	}
	for (const char *c = path; c; c = strchr(c, '/')) {
		c += *c == '/';
		k = strcspn(c, "/");
		rule = component_rule(c, k);
		if (rule)
			return rule;
	}
	return NULL;
}

/* --- paths that differ only in case ---------------------------------------
 * Every path and every folder above it becomes a span; sorted without case
 * (then bytewise), two neighbours equal without case but not bytewise
 * collide: "README.md" and "readme.md", or "Docs/a" and "docs/b". */

struct span {
	const char *s;
	size_t len;
};

static int span_cmp(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = ascii_ncasecmp(a->s, b->s, n);

	if (c == 0)
		c = a->len < b->len ? -1 : a->len > b->len;
	if (c == 0)
		c = memcmp(a->s, b->s, n);
	return c;
}

enum l3af_status ebpf_pkg_case_clash(const char *const *paths, size_t n,
				     char a[static EBPF_PKG_MAX_PATH + 1],
				     char b[static EBPF_PKG_MAX_PATH + 1], bool *clash)
{
	struct span *v;
	size_t nv = 0, cap = 0;

	*clash = false;
	for (size_t i = 0; i < n; i++)
		for (const char *p = paths[i]; *p; p++)
			cap += *p == '/';
	cap += n;
	v = l3af_malloc((cap ? cap : 1) * sizeof(*v));
	if (!v)
		return L3AF_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(paths[i]);
		if (len && paths[i][len - 1] == '/')
			len--; /* a folder written "d/" */
		for (size_t j = 0; j < len; j++)
			if (paths[i][j] == '/')
				v[nv++] = (struct span){paths[i], j};
		v[nv++] = (struct span){paths[i], len};
	}
	qsort(v, nv, sizeof(*v), span_cmp);
	for (size_t i = 1; i < nv && !*clash; i++) {
		const struct span *x = &v[i - 1], *y = &v[i];
		if (x->len != y->len || ascii_ncasecmp(x->s, y->s, x->len) != 0 ||
		    memcmp(x->s, y->s, x->len) == 0)
			continue;
		*clash = true;
		snprintf(a, EBPF_PKG_MAX_PATH + 1, "%.*s", (int)x->len, x->s);
		snprintf(b, EBPF_PKG_MAX_PATH + 1, "%.*s", (int)y->len, y->s);
	}
	l3af_free(v);
	return L3AF_OK;
}

/* Package name rule: 1..EBPF_PKG_NAME_MAX of [a-z0-9_-], starting a-z. */
bool ebpf_pkg_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > EBPF_PKG_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* --- the package object --------------------------------------------------- */

void ebpf_pkg_free(struct ebpf_pkg *pkg)
{
	if (!pkg)
		return;
	for (size_t i = 0; i < pkg->nfiles; i++) {
		l3af_free(pkg->files[i].path);
		l3af_free(pkg->files[i].data);
	}
	l3af_free(pkg->files);
	l3af_free(pkg->name);
	l3af_free(pkg);
}

int ebpf_pkg_file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ebpf_pkg_file *)a)->path,
		      ((const struct ebpf_pkg_file *)b)->path);
}

const struct ebpf_pkg_file *ebpf_pkg_find(const struct ebpf_pkg *pkg, const char *path)
{
	struct ebpf_pkg_file key = {.path = (char *)(uintptr_t)path};

	if (!pkg || !path || pkg->nfiles == 0)
		return NULL;
	return bsearch(&key, pkg->files, pkg->nfiles, sizeof(key), ebpf_pkg_file_cmp);
}

/* --- manifest ------------------------------------------------------------- */

static json_t *manifest_row(const struct ebpf_pkg_file *f)
{
	char hex[65], mode[8];

	l3af_hex_encode(hex, f->sha256, sizeof(f->sha256));
	snprintf(mode, sizeof(mode), "%04o", f->mode);
	return json_pack("{s:s, s:s, s:s, s:s, s:I}", "kind", ebpf_file_kind_name(f->kind),
			 "mode", mode, "path", f->path, "sha256", hex, "size",
			 (json_int_t)f->size);
}

static json_t *manifest_build(const struct ebpf_pkg *pkg)
{
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < pkg->nfiles; i++) {
		if (json_array_append_new(rows, manifest_row(&pkg->files[i])) != 0) {
			json_decref(rows);
			return NULL;
		}
	}
	return rows;
}

enum l3af_status ebpf_pkg_manifest_json(const struct ebpf_pkg *pkg, char **json,
					struct l3af_err *err)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
	enum l3af_status rc = L3AF_OK;
	json_t *rows = NULL;
	size_t len;

	if (!pkg || !json)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf: manifest: no package or output");
	*json = NULL;
	rows = manifest_build(pkg);
	len = rows ? json_dumpb(rows, NULL, 0, flags) : 0;
	if (len == 0) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "ebpf: manifest: building the JSON failed");
		goto out;
	}
	*json = l3af_malloc(len + 1);
	if (!*json) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "ebpf: manifest: out of memory");
		goto out;
	}
	json_dumpb(rows, *json, len, flags);
	(*json)[len] = 0;
out:
	json_decref(rows);
	return rc;
}
