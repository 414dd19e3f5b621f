/*
 * key.c - private signing keys: generate, from seed, parse, save, load, free,
 * and the one place that touches secret bytes (signer_key_sign_raw, and
 * signer_key_seed_get for saving publisher keys as PKCS#8).
 *
 * The private text form PRIVATE+KEY+<name>+<hex ID>+<base64(type || seed)>
 * is golang.org/x/mod sumdb/note's (C2SP defines none); key names and IDs
 * follow c2sp.org/signed-note v1.0.0 "Signatures" (see vkey.c).
 *
 * Security: the libsodium secret key (seed || pub) lives in sodium_malloc
 * memory (locked, guarded, excluded from core dumps) that is no-access except
 * while a signer reads it: readonly then, reference counted under a mutex so
 * that threads can sign with one key at once. Every temporary that held
 * secret bytes is wiped with sodium_memzero on all paths; error messages
 * never carry secret bytes (nor the base64 of a private key).
 */
#define _POSIX_C_SOURCE 200809L
#include "signer.h"
#include "signer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRIV_PREFIX "PRIVATE+KEY+"
#define PRIV_PREFIX_LEN (sizeof(PRIV_PREFIX) - 1)
#define PRIV_TEXT_MAX 384            /* 12 + 255 + 1 + 8 + 1 + 44 + "\n" + NUL */
#define KEY_FILE_MAX 1024            /* cap on a key file read from disk */

/* The guarded half of a key. */
struct key_secret {
	pthread_mutex_t lock;
	unsigned users;   /* signers between secret_open and secret_close */
	uint8_t *sk;      /* sodium_malloc, crypto_sign_SECRETKEYBYTES */
};

struct signer_key {
	char name[SIGNER_NAME_MAX + 1];
	uint8_t type;
	uint32_t id;
	uint8_t pub[SIGNER_PUB_BYTES];
	/* Behind a pointer so that signing through a const key can still take
	 * the lock and count users. */
	struct key_secret *secret;
};

/* --- libsodium start-up ------------------------------------------------ */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_state = -1;

static void sodium_start(void)
{
	sodium_state = sodium_init() < 0 ? -1 : 0;
}

enum l3af_status signer_sodium_ready(struct l3af_err *err)
{
	if (pthread_once(&sodium_once, sodium_start) != 0 || sodium_state != 0)
		return l3af_fail(err, L3AF_E_CRYPTO, "signer: libsodium: sodium_init failed");
	return L3AF_OK;
}

/* --- the guarded secret ------------------------------------------------ */

static void secret_free(struct key_secret *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	sodium_free(s->sk); /* makes the pages writable, wipes them, unlocks */
	l3af_free(s);
}

static enum l3af_status secret_new(struct key_secret **out,
				   struct l3af_err *err)
{
	struct key_secret *s = l3af_calloc(1, sizeof(*s));

	if (!s)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: key: out of memory");
	s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!s->sk || pthread_mutex_init(&s->lock, NULL) != 0) {
		sodium_free(s->sk);
		l3af_free(s);
		return l3af_fail(err, L3AF_E_NOMEM,
				 "signer: key: sodium_malloc or mutex init failed");
	}
	*out = s;
	return L3AF_OK;
}

/* Make the secret readable (readonly) for one more user. */
static enum l3af_status secret_open(const struct signer_key *key,
				    struct l3af_err *err)
{
	struct key_secret *s = key->secret;
	enum l3af_status rc = L3AF_OK;

	pthread_mutex_lock(&s->lock);
	if (s->users == 0 && sodium_mprotect_readonly(s->sk) != 0)
		rc = l3af_fail(err, L3AF_E_CRYPTO,
			       "signer: key %s: sodium_mprotect_readonly: %s",
			       key->name, strerror(errno));
	else
		s->users++;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* One user fewer; the last one makes the secret no-access again. */
static enum l3af_status secret_close(const struct signer_key *key,
				     struct l3af_err *err)
{
	struct key_secret *s = key->secret;
	enum l3af_status rc = L3AF_OK;

	pthread_mutex_lock(&s->lock);
	if (--s->users == 0 && sodium_mprotect_noaccess(s->sk) != 0)
		rc = l3af_fail(err, L3AF_E_CRYPTO,
			       "signer: key %s: sodium_mprotect_noaccess: %s",
			       key->name, strerror(errno));
	pthread_mutex_unlock(&s->lock);
	return rc;
}

enum l3af_status signer_key_sign_raw(const struct signer_key *key,
				     const uint8_t *msg, size_t len,
				     uint8_t sig[static SIGNER_SIG_BYTES],
				     struct l3af_err *err)
{
	enum l3af_status rc = secret_open(key, err);
	enum l3af_status rc_close;

	if (rc != L3AF_OK)
		return rc;
	/* crypto_sign_detached wipes its own temporaries (az, nonce). */
	if (crypto_sign_detached(sig, NULL, msg, len, key->secret->sk) != 0)
		rc = l3af_fail(err, L3AF_E_CRYPTO,
			       "signer: key %s: crypto_sign_detached failed", key->name);
	rc_close = secret_close(key, err);
	return rc != L3AF_OK ? rc : rc_close;
}

/* --- constructors and destructor --------------------------------------- */

void signer_key_free(struct signer_key *key)
{
	if (!key)
		return;
	secret_free(key->secret);
	sodium_memzero(key, sizeof(*key));
	l3af_free(key);
}

/* An empty key: name and type checked, secret memory writable. */
static enum l3af_status key_new(const char *name, uint8_t type,
				struct signer_key **out, struct l3af_err *err)
{
	struct signer_key *key;
	enum l3af_status rc = signer_sodium_ready(err);

	if (rc == L3AF_OK)
		rc = signer_name_check(name, err);
	if (rc == L3AF_OK && !signer_type_supported(type))
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: key %s: signature type 0x%02x not supported (0x01, 0x04)",
			       name, type);
	if (rc != L3AF_OK)
		return rc;
	key = l3af_calloc(1, sizeof(*key));
	if (!key)
		return l3af_fail(err, L3AF_E_NOMEM, "signer: key %s: out of memory", name);
	rc = secret_new(&key->secret, err);
	if (rc != L3AF_OK) {
		signer_key_free(key);
		return rc;
	}
	memcpy(key->name, name, strlen(name) + 1);
	key->type = type;
	*out = key;
	return L3AF_OK;
}

/* Fill a new key from seed (or at random if seed is NULL), then seal it. */
static enum l3af_status key_make(const char *name, uint8_t type,
				 const uint8_t *seed, struct signer_key **out,
				 struct l3af_err *err)
{
	struct signer_key *key = NULL;
	enum l3af_status rc = key_new(name, type, &key, err);
	int crc;

	if (rc != L3AF_OK)
		return rc;
	crc = seed ? crypto_sign_seed_keypair(key->pub, key->secret->sk, seed)
		   : crypto_sign_keypair(key->pub, key->secret->sk);
	if (crc != 0)
		rc = l3af_fail(err, L3AF_E_CRYPTO,
			       "signer: key %s: making the key pair failed", name);
	else if (sodium_mprotect_noaccess(key->secret->sk) != 0)
		rc = l3af_fail(err, L3AF_E_CRYPTO,
			       "signer: key %s: sodium_mprotect_noaccess: %s",
			       name, strerror(errno));
	if (rc != L3AF_OK) {
		signer_key_free(key);
		return rc;
	}
	key->id = signer_key_id(key->name, key->type, key->pub);
	*out = key;
	return L3AF_OK;
}

enum l3af_status signer_key_generate(const char *name, uint8_t type,
				     struct signer_key **out,
				     struct l3af_err *err)
{
	return key_make(name, type, NULL, out, err);
}

enum l3af_status signer_key_from_seed(const char *name, uint8_t type,
				      const uint8_t seed[static 32],
				      struct signer_key **out,
				      struct l3af_err *err)
{
	return key_make(name, type, seed, out, err);
}

/* --- accessors ---------------------------------------------------------- */

void signer_key_vkey(const struct signer_key *key, struct signer_vkey *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->name, key->name, sizeof(out->name));
	out->id = key->id;
	out->type = key->type;
	memcpy(out->pub, key->pub, sizeof(out->pub));
}

const char *signer_key_name(const struct signer_key *key)
{
	return key->name;
}

enum l3af_status signer_key_parse(const char *text, size_t len,
				  struct signer_key **out,
				  struct l3af_err *err)
{
	struct signer_key_fields f;
	struct signer_key *key = NULL;
	enum l3af_status rc = L3AF_OK;

	memset(&f, 0, sizeof(f));
	if (text && len > 0 && text[len - 1] == '\n')
		len--;
	if (!text || len < PRIV_PREFIX_LEN ||
	    memcmp(text, PRIV_PREFIX, PRIV_PREFIX_LEN) != 0) {
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: private key: does not start with " PRIV_PREFIX);
		goto out;
	}
	rc = signer_key_fields_parse(text + PRIV_PREFIX_LEN,
				     len - PRIV_PREFIX_LEN, "private key", &f,
				     err);
	if (rc == L3AF_OK)
		rc = key_make(f.name, f.bin[0], f.bin + 1, &key, err);
	if (rc == L3AF_OK && key->id != f.id)
		rc = l3af_fail(err, L3AF_E_INVALID,
			       "signer: private key %s: key ID %08" PRIx32 " does not match",
			       f.name, f.id);
out:
	sodium_memzero(&f, sizeof(f));
	if (rc != L3AF_OK)
		signer_key_free(key);
	else
		*out = key;
	return rc;
}

/* l3af_file_create (O_EXCL | O_NOFOLLOW, mode 0600 whatever the umask,
 * fsync), with the message prefixed by our area and object. */
static enum l3af_status key_file_write(const struct signer_key *key,
				       const char *path, const char *text,
				       size_t len, struct l3af_err *err)
{
	struct l3af_err local = { .code = L3AF_OK };
	enum l3af_status rc = l3af_file_create(path, text, len, 0600, &local);

	if (rc != L3AF_OK)
		return l3af_fail(err, rc, "signer: key %s: save: %s", key->name, local.msg);
	return L3AF_OK;
}

/* Write the private text form of key into text[PRIV_TEXT_MAX]. */
static enum l3af_status priv_format(const struct signer_key *key, char *text,
				    size_t *len, struct l3af_err *err)
{
	uint8_t bin[SIGNER_KEY_BIN_BYTES];
	char b64[SIGNER_KEY_B64_BYTES];
	enum l3af_status rc = secret_open(key, err);
	int n = -1;

	if (rc != L3AF_OK)
		return rc;
	bin[0] = key->type;
	crypto_sign_ed25519_sk_to_seed(bin + 1, key->secret->sk);
	rc = secret_close(key, err);
	if (rc != L3AF_OK)
		goto out;
	if (l3af_base64_encode(b64, sizeof(b64), bin, sizeof(bin)) == L3AF_OK)
		n = snprintf(text, PRIV_TEXT_MAX, PRIV_PREFIX "%s+%08" PRIx32
			     "+%s\n", key->name, key->id, b64);
	if (n < 0 || (size_t)n >= PRIV_TEXT_MAX) {
		rc = l3af_fail(err, L3AF_E_INTERNAL,
			       "signer: key %s: private text does not fit", key->name);
		goto out;
	}
	*len = (size_t)n;
out:
	sodium_memzero(bin, sizeof(bin));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

enum l3af_status signer_key_save(const struct signer_key *key, const char *path,
				 struct l3af_err *err)
{
	char *text;
	size_t len = 0;
	enum l3af_status rc;

	if (!key || !path)
		return l3af_fail(err, L3AF_E_INVALID, "signer: key save: missing key or path");
	text = sodium_malloc(PRIV_TEXT_MAX); /* locked, wiped by sodium_free */
	if (!text)
		return l3af_fail(err, L3AF_E_NOMEM,
				 "signer: key %s: save %s: sodium_malloc failed", key->name, path);
	rc = priv_format(key, text, &len, err);
	if (rc == L3AF_OK)
		rc = key_file_write(key, path, text, len, err);
	sodium_free(text);
	return rc;
}

/* --- key files ---------------------------------------------------------- */

/* A key file must be a regular file, no bigger than KEY_FILE_MAX, that only
 * its owner may access (as ssh insists for private keys). */
static enum l3af_status key_file_check(int fd, const char *path,
				       struct l3af_err *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return l3af_fail(err, L3AF_E_IO,
				 "signer: key file %s: fstat: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: key file %s: not a regular file", path);
	if (st.st_mode & 077)
		return l3af_fail(err, L3AF_E_INVALID,
				 "signer: key file %s: mode %04o is open to group or others",
				 path, (unsigned)(st.st_mode & 07777));
	if (st.st_size > KEY_FILE_MAX)
		return l3af_fail(err, L3AF_E_LIMIT,
				 "signer: key file %s: %lld bytes, limit %d",
				 path, (long long)st.st_size, KEY_FILE_MAX);
	return L3AF_OK;
}

/* Read the whole file into buf[KEY_FILE_MAX + 1] (it may grow meanwhile). */
static enum l3af_status key_file_read(int fd, const char *path, char *buf,
				      size_t *len, struct l3af_err *err)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = read(fd, buf + got, KEY_FILE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return l3af_fail(err, L3AF_E_IO,
					 "signer: key file %s: read: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > KEY_FILE_MAX)
			return l3af_fail(err, L3AF_E_LIMIT,
					 "signer: key file %s: over %d bytes", path, KEY_FILE_MAX);
	}
	*len = got;
	return L3AF_OK;
}

/* Parse with a local error so the message can name the file. */
static enum l3af_status key_file_parse(const char *buf, size_t len,
				       const char *path, struct signer_key **out,
				       struct l3af_err *err)
{
	static const char area[] = "signer: ";
	struct l3af_err local = { .code = L3AF_OK };
	enum l3af_status rc = signer_key_parse(buf, len, out, &local);
	const char *why = local.msg;

	if (rc == L3AF_OK)
		return L3AF_OK;
	if (strncmp(why, area, sizeof(area) - 1) == 0)
		why += sizeof(area) - 1;
	return l3af_fail(err, rc, "signer: key file %s: %s", path, why);
}

enum l3af_status signer_key_file_read(const char *path, char **buf,
				      size_t *len, struct l3af_err *err)
{
	char *text = NULL;
	int fd;
	enum l3af_status rc = L3AF_OK;

	if (!path)
		return l3af_fail(err, L3AF_E_INVALID, "signer: key file: no path");
	/* Symlinks are followed (secret managers mount keys that way); the
	 * checks below apply to the file itself, through the open fd.
	 * O_NONBLOCK: a FIFO at the path opens at once (and is then refused as
	 * not a regular file) instead of blocking until a writer appears; it
	 * changes nothing for reading a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return l3af_fail(err, errno == ENOENT ? L3AF_E_NOTFOUND : L3AF_E_IO,
				 "signer: key file %s: open: %s", path, strerror(errno));
	rc = key_file_check(fd, path, err);
	/* The text goes straight into locked memory, never the plain heap. */
	if (rc == L3AF_OK && !(text = sodium_malloc(KEY_FILE_MAX + 1)))
		rc = l3af_fail(err, L3AF_E_NOMEM,
			       "signer: key file %s: sodium_malloc failed", path);
	if (rc == L3AF_OK)
		rc = key_file_read(fd, path, text, len, err);
	close(fd);
	if (rc != L3AF_OK) {
		sodium_free(text); /* wipes */
		return rc;
	}
	text[*len] = '\0';
	*buf = text;
	return L3AF_OK;
}

enum l3af_status signer_key_load(const char *path, struct signer_key **out,
				 struct l3af_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	enum l3af_status rc = signer_sodium_ready(err);

	if (rc == L3AF_OK)
		rc = signer_key_file_read(path, &buf, &len, err);
	if (rc == L3AF_OK)
		rc = key_file_parse(buf, len, path, out, err);
	sodium_free(buf); /* wipes; NULL is fine */
	return rc;
}

enum l3af_status signer_key_seed_get(const struct signer_key *key,
				     uint8_t seed[static SIGNER_PUB_BYTES],
				     struct l3af_err *err)
{
	enum l3af_status rc = secret_open(key, err);

	if (rc != L3AF_OK)
		return rc;
	crypto_sign_ed25519_sk_to_seed(seed, key->secret->sk);
	return secret_close(key, err);
}
