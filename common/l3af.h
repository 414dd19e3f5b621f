/*
 * l3af.h - the few things every l3af-tlog module shares: status codes, the
 * caller-owned error buffer, the allocation wrapper, strict base64/hex and
 * careful file I/O. No module state lives here.
 *
 * Error convention (docs/architecture.md): every fallible function returns an
 * enum l3af_status (0 = ok) and takes an optional last argument
 * `struct l3af_err *err`. The first failure recorded wins; messages carry no
 * trailing newline and never contain secret bytes.
 */
#ifndef L3AF_COMMON_H
#define L3AF_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define L3AF_MUST_CHECK __attribute__((warn_unused_result))
#define L3AF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define L3AF_MUST_CHECK
#define L3AF_PRINTF(f, a)
#endif

enum l3af_status {
	L3AF_OK = 0,
	L3AF_E_INVALID,  /* input is malformed or out of range */
	L3AF_E_VERIFY,   /* input is well formed but does not verify */
	L3AF_E_NOTFOUND, /* the thing asked for does not exist (yet) */
	L3AF_E_EXISTS,   /* refusing to overwrite something */
	L3AF_E_BUSY,     /* a lock is held by someone else */
	L3AF_E_IO,       /* the operating system or sqlite failed */
	L3AF_E_CORRUPT,  /* stored data is damaged: refuse to go on */
	L3AF_E_NOMEM,    /* an allocation failed */
	L3AF_E_CRYPTO,   /* a crypto library failed (could not check) */
	L3AF_E_LIMIT,    /* a size or count cap was hit */
	L3AF_E_INTERNAL, /* a bug: an invariant did not hold */
};

#define L3AF_ERR_MSG_BYTES 512

struct l3af_err {
	enum l3af_status code;
	char msg[L3AF_ERR_MSG_BYTES];
};

/* Record a failure in err (may be NULL) unless one is already recorded, and
 * return code. Use as `return l3af_fail(err, L3AF_E_IO, "open %s: %s", ...)`. */
enum l3af_status l3af_fail(struct l3af_err *err, enum l3af_status code,
			   const char *fmt, ...) L3AF_PRINTF(3, 4);
/* Put context in front of a recorded message: "<prefix>: <message>". Does
 * nothing if no failure is recorded. For wrapping a lower layer's error. */
void l3af_err_prefix(struct l3af_err *err, const char *fmt, ...) L3AF_PRINTF(2, 3);
/* Forget a recorded failure so the buffer can be reused. */
void l3af_err_clear(struct l3af_err *err);
/* Short stable name of a status, e.g. "verify" (for JSON and logs). */
const char *l3af_status_name(enum l3af_status code);

/*
 * Allocation goes through these so that tests can make the Nth allocation
 * fail (l3af_alloc_fail_at). They behave like malloc/calloc/realloc/free.
 */
void *l3af_malloc(size_t n);
void *l3af_calloc(size_t count, size_t n);
void *l3af_realloc(void *p, size_t n);
void l3af_free(void *p);
/* Test hook: fail the nth allocation from now (1 = the next one); 0 = never.
 * Returns the number of allocations made since the last call. Not thread safe. */
unsigned long l3af_alloc_fail_at(unsigned long nth);

/*
 * Base64 is RFC 4648 section 4, standard alphabet, with padding, and strict:
 * no white space, no non-canonical trailing bits (the input must re-encode to
 * itself). Hex is lowercase on output and accepted in lowercase only.
 */
size_t l3af_base64_len(size_t binlen); /* encoded length, without NUL */
/* The most bytes len characters of base64 text decode to (from the length
 * and trailing '='; the text is not checked), so that a caller can refuse
 * over-long input as too large before decoding it. */
size_t l3af_base64_decoded_max(const char *b64, size_t len);
/* Writes binlen bytes as base64 plus a NUL into out[cap]. */
enum l3af_status l3af_base64_encode(char *out, size_t cap, const uint8_t *bin,
				    size_t binlen) L3AF_MUST_CHECK;
/* Decodes exactly len chars; *outlen receives the byte count. */
enum l3af_status l3af_base64_decode(uint8_t *out, size_t cap, size_t *outlen,
				    const char *b64, size_t len) L3AF_MUST_CHECK;
void l3af_hex_encode(char *out, const uint8_t *bin, size_t binlen); /* 2n+1 */
enum l3af_status l3af_hex_decode(uint8_t *out, size_t binlen, const char *hex,
				 size_t hexlen) L3AF_MUST_CHECK;

/* The next '\n'-terminated line of text[*pos .. len): returns its start and
 * sets *line_len (without the '\n'), advancing *pos past it; NULL if no
 * complete line is left. For line-oriented formats (notes, checkpoints,
 * proofs). */
const char *l3af_next_line(const char *text, size_t len, size_t *pos, size_t *line_len);

/* Parse a canonical unsigned decimal (no sign, no leading zeros unless "0",
 * at most max). */
enum l3af_status l3af_parse_u64(const char *s, size_t len, uint64_t max,
				uint64_t *out) L3AF_MUST_CHECK;

/*
 * Files. l3af_file_read reads a whole regular file of at most max bytes into
 * a fresh buffer (NUL-terminated; *len excludes the NUL; free with l3af_free).
 * l3af_file_create writes a new file exclusively (O_EXCL|O_NOFOLLOW) with the
 * given mode and fsyncs it and its directory: for key files.
 * l3af_file_replace writes path atomically (temporary file, fsync, rename,
 * fsync of the directory): readers see the old or the new bytes, never a mix.
 */
enum l3af_status l3af_file_read(const char *path, size_t max, char **out,
				size_t *len, struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status l3af_file_create(const char *path, const void *data,
				  size_t len, unsigned mode,
				  struct l3af_err *err) L3AF_MUST_CHECK;
enum l3af_status l3af_file_replace(const char *path, const void *data,
				   size_t len, unsigned mode,
				   struct l3af_err *err) L3AF_MUST_CHECK;
/* fsync the directory holding path (after a rename or create in it). */
enum l3af_status l3af_fsync_parent(const char *path, struct l3af_err *err);

/*
 * SHA-256 through OpenSSL with the algorithm fetched once (the implicit
 * fetch of EVP_sha256() costs 2.5x per call; OpenSSL uses the CPU's SHA
 * extensions, libsodium 1.0.18 does not). l3af_sha256_concat hashes a || b
 * without the caller building the concatenation. L3AF_E_CRYPTO only if
 * OpenSSL fails (an allocation inside it); out is then all 0xff. Thread safe.
 */
#define L3AF_SHA256_BYTES 32
enum l3af_status l3af_sha256(const void *data, size_t len,
			     uint8_t out[static L3AF_SHA256_BYTES]) L3AF_MUST_CHECK;
enum l3af_status l3af_sha256_concat(const void *a, size_t alen, const void *b, size_t blen,
				    uint8_t out[static L3AF_SHA256_BYTES]) L3AF_MUST_CHECK;

/* Monotonic and wall clocks in nanoseconds / seconds. */
uint64_t l3af_now_ns(void);
int64_t l3af_wall_s(void);

#endif
