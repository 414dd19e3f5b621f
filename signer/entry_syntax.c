/*
 * entry_syntax.c - the syntax rules of log entries (docs/formats.md section
 * 7): publisher IDs, package names, namespace patterns, versions and their
 * order, platforms and log origins. No JSON here: entry.c and admin.c apply
 * these to the fields they read.
 */
#include "signer.h"
#include "signer_internal.h"

#include <jansson.h>
#include <string.h>

const char *signer_entry_kind_name(enum signer_entry_kind kind)
{
	switch (kind) {
	case SIGNER_ENTRY_ADMIN_ROOT:
		return "admin.root";
	case SIGNER_ENTRY_PUBLISHER_KEYS:
		return "publisher.keys";
	case SIGNER_ENTRY_PACKAGE:
		return "package";
	}
	return "unknown";
}

static int is_lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

enum l3af_status signer_publisher_check(const char *id, struct l3af_err *err)
{
	size_t len = id ? strlen(id) : 0;

	if (len == 0 || len > SIGNER_PUBLISHER_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: publisher ID of %zu bytes (1 to %u)", len,
				 SIGNER_PUBLISHER_MAX);
	if (!is_lower_or_digit(id[0]))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: publisher ID must start with [a-z0-9]");
	for (size_t i = 1; i < len; i++)
		if (!is_lower_or_digit(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: publisher ID byte %zu is not [a-z0-9._-]", i);
	return L3AF_OK;
}

/* Bytes [A-Za-z0-9._-] only (package names and namespace prefixes). */
static size_t name_bad_byte(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return i;
	return len;
}

enum l3af_status signer_pkg_name_check(const char *name, struct l3af_err *err)
{
	size_t len = name ? strlen(name) : 0, bad;

	if (len == 0 || len > SIGNER_PKG_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: package name of %zu bytes (1 to %u)", len,
				 SIGNER_PKG_NAME_MAX);
	if ((bad = name_bad_byte(name, len)) != len)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: package name byte %zu is not [A-Za-z0-9._-]", bad);
	return L3AF_OK;
}

enum l3af_status signer_namespace_check(const char *pattern, struct l3af_err *err)
{
	size_t len = pattern ? strlen(pattern) : 0, plen, bad;

	if (len == 0 || len > SIGNER_PKG_NAME_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: namespace pattern of %zu bytes (1 to %u)", len,
				 SIGNER_PKG_NAME_MAX);
	plen = pattern[len - 1] == '*' ? len - 1 : len;
	if ((bad = name_bad_byte(pattern, plen)) != plen)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: namespace pattern byte %zu is not [A-Za-z0-9._-] "
				 "(only a final '*' is allowed)", bad);
	return L3AF_OK;
}

bool signer_namespace_match(const struct signer_keyset *ks, const char *name)
{
	if (!ks || !name)
		return false;
	for (size_t i = 0; i < ks->nnamespaces && i < SIGNER_NAMESPACES_MAX; i++) {
		const char *p = ks->namespaces[i];
		const char *end = memchr(p, '\0', sizeof(ks->namespaces[i]));
		size_t len = end ? (size_t)(end - p) : 0;

		if (len == 0)
			continue;
		if (p[len - 1] == '*') {
			if (strncmp(p, name, len - 1) == 0)
				return true;
		} else if (strcmp(p, name) == 0) {
			return true;
		}
	}
	return false;
}

enum l3af_status signer_version_check(const char *version, struct l3af_err *err)
{
	size_t len = version ? strlen(version) : 0;

	if (len == 0 || len > SIGNER_VERSION_MAX)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: version of %zu bytes (1 to %u)", len, SIGNER_VERSION_MAX);
	if (!is_alnum(version[0]))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: version must start with a letter or digit");
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(version[i]) && !strchr("._+~-", version[i]))
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: version byte %zu is not [A-Za-z0-9._+~-]", i);
	return L3AF_OK;
}

static int all_digits(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Two runs of digits as numbers of any length: drop leading zeros, then
 * the longer is larger, else compare digit by digit. */
static int number_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 1 && *a == '0')
		a++, alen--;
	while (blen > 1 && *b == '0')
		b++, blen--;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/*
 * Split on '.', compare part by part: numerically where both parts are all
 * digits, else bytewise; if every common part is equal, the one with more
 * parts is above. Versions equal by that rule but spelt differently ("1.01"
 * and "1.1") are ordered bytewise, so that 0 means the same string.
 */
int signer_version_cmp(const char *a, const char *b)
{
	const char *pa = a, *pb = b;

	for (;;) {
		size_t la = strcspn(pa, "."), lb = strcspn(pb, ".");
		int c = all_digits(pa, la) && all_digits(pb, lb)
			? number_cmp(pa, la, pb, lb) : bytes_cmp(pa, la, pb, lb);

		if (c != 0)
			return c < 0 ? -1 : 1;
		pa += la;
		pb += lb;
		if (*pa == '\0' || *pb == '\0') {
			if (*pa != *pb)
				return *pa == '\0' ? -1 : 1;
			break;
		}
		pa++;
		pb++;
	}
	int c = strcmp(a, b);

	return c < 0 ? -1 : c > 0;
}

/* A platform part: 1+ bytes of printable ASCII, no space and no '/'. */
static int platform_part_ok(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '/')
			return 0;
	return 1;
}

enum l3af_status signer_platform_check(const char *platform, struct l3af_err *err)
{
	size_t len = platform ? strlen(platform) : 0, parts = 0;
	const char *p = platform;

	if (len == 0 || len > SIGNER_PLATFORM_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "signer: platform of %zu bytes (1 to %u)",
				 len, SIGNER_PLATFORM_MAX);
	for (;;) {
		size_t n = strcspn(p, "/");

		if (!platform_part_ok(p, n))
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: platform part %zu is empty or not printable ASCII",
					 parts + 1);
		parts++;
		p += n;
		if (*p == '\0')
			break;
		p++;
	}
	if (parts < 2 || parts > 3)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: platform is not os/arch[/distro] (%zu parts)", parts);
	return L3AF_OK;
}

enum l3af_status signer_platform_string(const json_t *platform,
					char out[static SIGNER_PLATFORM_MAX + 1],
					struct l3af_err *err)
{
	static const char *const keys[] = { "os", "arch", "distro" };
	size_t used = 0;

	if (!json_is_object(platform))
		return l3af_fail(err, L3AF_E_INVALID, "signer: platform is not an object");
	for (size_t i = 0; i < 3; i++) {
		const json_t *v = json_object_get(platform, keys[i]);
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);

		if (!v && i == 2)
			break;
		if (!s || !platform_part_ok(s, n) || strlen(s) != n)
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: platform.%s missing, empty, or not printable ASCII "
					 "without '/'", keys[i]);
		if (used + (i > 0) + n > SIGNER_PLATFORM_MAX)
			return l3af_fail(err, L3AF_E_INVALID, "signer: platform over %u bytes",
					 SIGNER_PLATFORM_MAX);
		if (i > 0)
			out[used++] = '/';
		memcpy(out + used, s, n);
		used += n;
	}
	out[used] = '\0';
	return L3AF_OK;
}

enum l3af_status signer_origin_check(const char *origin, struct l3af_err *err)
{
	size_t len = origin ? strlen(origin) : 0;

	if (len == 0 || len > 255)
		return l3af_fail(err, L3AF_E_INVALID, "signer: origin of %zu bytes (1 to 255)", len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)origin[i];

		if (c <= ' ' || c >= 0x7f || c == '+')
			return l3af_fail(err, L3AF_E_INVALID,
					 "signer: origin byte %zu is not printable ASCII (or is '+')", i);
	}
	return L3AF_OK;
}
