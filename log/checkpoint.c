/*
 * checkpoint.c - checkpoint bodies, c2sp.org/tlog-checkpoint v1.0.0:
 *
 *   <origin>\n           non-empty, no spaces, no '+'
 *   <tree size>\n        ASCII decimal, no leading zeros
 *   <base64 root hash>\n RFC 4648 standard base64 with padding
 *
 * Extension lines are valid per the spec but never written by this log and
 * rejected on parse, since nothing verifies them.
 */
#include "tlog.h"

#include <stdio.h>
#include <string.h>

enum l3af_status tlog_origin_check(const char *origin, struct l3af_err *err)
{
	size_t len = strlen(origin);

	if (len == 0 || len > TLOG_ORIGIN_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "origin must be 1..%d bytes",
				 TLOG_ORIGIN_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)origin[i];
		if (c <= ' ' || c >= 0x7f || c == '+')
			return l3af_fail(err, L3AF_E_INVALID,
					 "origin: byte %zu is not printable ASCII (or is '+')", i);
	}
	return L3AF_OK;
}

enum l3af_status tlog_checkpoint_format(const struct tlog_checkpoint *cp, char *buf,
					size_t cap, size_t *len, struct l3af_err *err)
{
	char root[TLOG_HASH_BYTES * 2];
	enum l3af_status rc = tlog_origin_check(cp->origin, err);
	int w;

	if (rc != L3AF_OK)
		return rc;
	if (cp->size > TLOG_SIZE_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "checkpoint: size out of range");
	if (l3af_base64_encode(root, sizeof(root), cp->root, TLOG_HASH_BYTES) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INTERNAL, "checkpoint: base64 buffer");
	w = snprintf(buf, cap, "%s\n%llu\n%s\n", cp->origin,
		     (unsigned long long)cp->size, root);
	if (w < 0 || (size_t)w >= cap)
		return l3af_fail(err, L3AF_E_LIMIT, "checkpoint: buffer of %zu bytes too small",
				 cap);
	*len = (size_t)w;
	return L3AF_OK;
}

enum l3af_status tlog_checkpoint_parse(const char *text, size_t len,
				       struct tlog_checkpoint *out, struct l3af_err *err)
{
	struct tlog_checkpoint cp;
	const char *line[3];
	size_t line_len[3], pos = 0, rootlen = 0;

	memset(&cp, 0, sizeof(cp));
	for (int i = 0; i < 3; i++) {
		line[i] = l3af_next_line(text, len, &pos, &line_len[i]);
		if (!line[i])
			return l3af_fail(err, L3AF_E_INVALID,
					 "checkpoint: line %d missing or unterminated", i + 1);
	}
	if (pos != len)
		return l3af_fail(err, L3AF_E_INVALID,
				 "checkpoint: extension lines are not accepted");
	if (line_len[0] == 0 || line_len[0] > TLOG_ORIGIN_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "checkpoint: origin length %zu",
				 line_len[0]);
	memcpy(cp.origin, line[0], line_len[0]);
	if (memchr(cp.origin, '\0', line_len[0]) || tlog_origin_check(cp.origin, err))
		return l3af_fail(err, L3AF_E_INVALID, "checkpoint: bad origin");
	if (l3af_parse_u64(line[1], line_len[1], TLOG_SIZE_MAX, &cp.size) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "checkpoint: tree size is not a canonical decimal");
	if (l3af_base64_decode(cp.root, sizeof(cp.root), &rootlen, line[2],
			       line_len[2]) != L3AF_OK ||
	    rootlen != TLOG_HASH_BYTES)
		return l3af_fail(err, L3AF_E_INVALID,
				 "checkpoint: root is not base64 of 32 bytes");
	*out = cp;
	return L3AF_OK;
}
