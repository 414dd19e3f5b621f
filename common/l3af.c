/*
 * l3af.c - shared helpers: errors, allocation wrapper, strict hex,
 * canonical decimals and crash-safe file writes (strict base64: base64.c).
 */
#define _GNU_SOURCE
#include "l3af.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum l3af_status l3af_fail(struct l3af_err *err, enum l3af_status code,
			   const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code != L3AF_OK)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void l3af_err_prefix(struct l3af_err *err, const char *fmt, ...)
{
	char both[2 * L3AF_ERR_MSG_BYTES + 2];
	va_list ap;
	int n;

	if (!err || err->code == L3AF_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(both, L3AF_ERR_MSG_BYTES, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = n < L3AF_ERR_MSG_BYTES ? n : L3AF_ERR_MSG_BYTES - 1;
	memcpy(both + n, ": ", 2);
	memcpy(both + n + 2, err->msg, L3AF_ERR_MSG_BYTES);
	both[sizeof(both) - 1] = '\0';
	memcpy(err->msg, both, L3AF_ERR_MSG_BYTES - 1);
	err->msg[L3AF_ERR_MSG_BYTES - 1] = '\0';
}

void l3af_err_clear(struct l3af_err *err)
{
	if (!err)
		return;
	err->code = L3AF_OK;
	err->msg[0] = '\0';
}

const char *l3af_status_name(enum l3af_status code)
{
	static const char *const names[] = {
		[L3AF_OK] = "ok",
		[L3AF_E_INVALID] = "invalid",
		[L3AF_E_VERIFY] = "verify",
		[L3AF_E_NOTFOUND] = "not_found",
		[L3AF_E_EXISTS] = "exists",
		[L3AF_E_BUSY] = "busy",
		[L3AF_E_IO] = "io",
		[L3AF_E_CORRUPT] = "corrupt",
		[L3AF_E_NOMEM] = "nomem",
		[L3AF_E_CRYPTO] = "crypto",
		[L3AF_E_LIMIT] = "limit",
		[L3AF_E_INTERNAL] = "internal",
	};
	if ((unsigned)code >= sizeof(names) / sizeof(names[0]) || !names[code])
		return "unknown";
	return names[code];
}

/* Allocation-failure injection for tests (curl's torture mode, simplified). */
static unsigned long alloc_count;
static unsigned long alloc_fail_nth;

unsigned long l3af_alloc_fail_at(unsigned long nth)
{
	unsigned long made = alloc_count;

	alloc_count = 0;
	alloc_fail_nth = nth;
	return made;
}

static int alloc_should_fail(void)
{
	if (!alloc_fail_nth)
		return 0;
	return ++alloc_count == alloc_fail_nth;
}

void *l3af_malloc(size_t n)
{
	return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *l3af_calloc(size_t count, size_t n)
{
	return alloc_should_fail() ? NULL : calloc(count ? count : 1, n ? n : 1);
}

void *l3af_realloc(void *p, size_t n)
{
	return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

void l3af_free(void *p)
{
	free(p);
}

void l3af_hex_encode(char *out, const uint8_t *bin, size_t binlen)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < binlen; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * binlen] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum l3af_status l3af_hex_decode(uint8_t *out, size_t binlen, const char *hex,
				 size_t hexlen)
{
	if (hexlen != 2 * binlen)
		return L3AF_E_INVALID;
	for (size_t i = 0; i < binlen; i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return L3AF_E_INVALID;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return L3AF_OK;
}

const char *l3af_next_line(const char *text, size_t len, size_t *pos, size_t *line_len)
{
	const char *start = text + *pos;
	const char *nl = *pos < len ? memchr(start, '\n', len - *pos) : NULL;

	if (!nl)
		return NULL;
	*line_len = (size_t)(nl - start);
	*pos += *line_len + 1;
	return start;
}

enum l3af_status l3af_parse_u64(const char *s, size_t len, uint64_t max,
				uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return L3AF_E_INVALID;
	if (s[0] == '0' && len > 1)
		return L3AF_E_INVALID;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return L3AF_E_INVALID;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return L3AF_E_INVALID;
		v = v * 10 + d;
	}
	if (v > max)
		return L3AF_E_INVALID;
	*out = v;
	return L3AF_OK;
}

enum l3af_status l3af_file_read(const char *path, size_t max, char **out,
				size_t *len, struct l3af_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	enum l3af_status rc = L3AF_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return l3af_fail(err, errno == ENOENT ? L3AF_E_NOTFOUND : L3AF_E_IO,
				 "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = l3af_fail(err, L3AF_E_INVALID, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = l3af_fail(err, L3AF_E_LIMIT, "%s: %lld bytes, limit %zu", path,
			       (long long)st.st_size, max);
		goto out;
	}
	buf = l3af_malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = l3af_fail(err, L3AF_E_IO, "read %s: %s", path,
				       r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	l3af_free(buf);
	close(fd);
	return rc;
}

static enum l3af_status write_all(int fd, const void *data, size_t len,
				  const char *path, struct l3af_err *err)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return l3af_fail(err, L3AF_E_IO, "write %s: %s", path,
					 strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		return l3af_fail(err, L3AF_E_IO, "fsync %s: %s", path, strerror(errno));
	return L3AF_OK;
}

enum l3af_status l3af_fsync_parent(const char *path, struct l3af_err *err)
{
	char copy[PATH_MAX];
	int fd;
	enum l3af_status rc = L3AF_OK;

	if (strlen(path) >= sizeof(copy))
		return l3af_fail(err, L3AF_E_LIMIT, "path too long: %s", path);
	strcpy(copy, path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return l3af_fail(err, L3AF_E_IO, "open directory of %s: %s", path,
				 strerror(errno));
	if (fsync(fd) != 0)
		rc = l3af_fail(err, L3AF_E_IO, "fsync directory of %s: %s", path,
			       strerror(errno));
	close(fd);
	return rc;
}

enum l3af_status l3af_file_create(const char *path, const void *data,
				  size_t len, unsigned mode, struct l3af_err *err)
{
	enum l3af_status rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      (mode_t)mode);

	if (fd < 0)
		return l3af_fail(err, errno == EEXIST ? L3AF_E_EXISTS : L3AF_E_IO,
				 "create %s: %s", path, strerror(errno));
	/* The umask may have narrowed the mode; it must never widen it. */
	if (fchmod(fd, (mode_t)mode) != 0) {
		rc = l3af_fail(err, L3AF_E_IO, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = write_all(fd, data, len, path, err);
	if (rc != L3AF_OK)
		goto fail;
	close(fd);
	return l3af_fsync_parent(path, err);
fail:
	close(fd);
	unlink(path);
	return rc;
}

enum l3af_status l3af_file_replace(const char *path, const void *data,
				   size_t len, unsigned mode, struct l3af_err *err)
{
	char tmp[PATH_MAX];
	enum l3af_status rc;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return l3af_fail(err, L3AF_E_LIMIT, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  (mode_t)mode);
	if (fd < 0)
		return l3af_fail(err, L3AF_E_IO, "create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0) {
		rc = l3af_fail(err, L3AF_E_IO, "chmod %s: %s", tmp, strerror(errno));
		goto fail;
	}
	rc = write_all(fd, data, len, tmp, err);
	if (rc != L3AF_OK)
		goto fail;
	close(fd);
	if (rename(tmp, path) != 0) {
		rc = l3af_fail(err, L3AF_E_IO, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return l3af_fsync_parent(path, err);
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static enum l3af_status sha256_failed(uint8_t out[static L3AF_SHA256_BYTES])
{
	/* Never leave an output that could match something by chance. */
	memset(out, 0xff, L3AF_SHA256_BYTES);
	return L3AF_E_CRYPTO;
}

enum l3af_status l3af_sha256(const void *data, size_t len, uint8_t out[static L3AF_SHA256_BYTES])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !EVP_Digest(len ? data : "", len, out, NULL, sha256_md, NULL))
		return sha256_failed(out);
	return L3AF_OK;
}

enum l3af_status l3af_sha256_concat(const void *a, size_t alen, const void *b, size_t blen,
				    uint8_t out[static L3AF_SHA256_BYTES])
{
	uint8_t buf[1024];
	EVP_MD_CTX *ctx;
	int ok;

	/* Short inputs (every Merkle node, most leaves) take the one-shot path:
	 * a digest context costs an allocation per call. */
	if (alen <= sizeof(buf) && blen <= sizeof(buf) - alen) {
		if (alen)
			memcpy(buf, a, alen);
		if (blen)
			memcpy(buf + alen, b, blen);
		return l3af_sha256(buf, alen + blen, out);
	}
	pthread_once(&sha256_once, sha256_fetch);
	ctx = EVP_MD_CTX_new();
	ok = ctx && sha256_md && EVP_DigestInit_ex2(ctx, sha256_md, NULL) &&
	     EVP_DigestUpdate(ctx, a, alen) && EVP_DigestUpdate(ctx, b, blen) &&
	     EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? L3AF_OK : sha256_failed(out);
}

uint64_t l3af_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t l3af_wall_s(void)
{
	return (int64_t)time(NULL);
}
