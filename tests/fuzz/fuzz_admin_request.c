/*
 * fuzz_admin_request.c - admin requests (docs/formats.md section 7): the
 * payload parser of signer/admin.c is static, so it is reached through the
 * public signer_admin_request_open in two ways on every input:
 *   1. the input as the admin envelope (DSSE parsing and verification
 *      against an admin.root holding the RFC 8032 TEST 1 Ed25519 key);
 *   2. the input as the payload, signed here with that key, so that any
 *      bytes reach the payload parser, the origin and the window checks.
 * Properties: never crashes, never leaks; a request that opens is for the
 * root's origin, inside its window, and its payload is canonical: building
 * it again gives the input bytes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "l3af-tlog.test/fuzz"
#define NOW INT64_C(1700000000)

static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
			      "-----END PRIVATE KEY-----\n";

static struct signer_privkey *key;
static struct signer_admin_root root;

static void init(void)
{
	char path[] = "/tmp/fuzz-admin-key-XXXXXX";
	int fd = mkstemp(path); /* 0600 */

	if (fd < 0 || write(fd, key_pem, sizeof(key_pem) - 1) != (ssize_t)(sizeof(key_pem) - 1))
		abort();
	close(fd);
	if (signer_privkey_load(path, &key, NULL) != L3AF_OK)
		abort();
	unlink(path);
	root.version = 1;
	snprintf(root.origin, sizeof(root.origin), "%s", ORIGIN);
	root.threshold = 1;
	root.nadmins = 1;
	root.admins[0] = *signer_privkey_pubkey(key);
}

static void check_opened(const struct signer_admin_request *r, const uint8_t *payload,
			 size_t len)
{
	char *again = NULL;

	if (strcmp(r->origin, ORIGIN) != 0 || r->not_after < r->not_before ||
	    r->not_after - r->not_before > SIGNER_ADMIN_WINDOW_MAX ||
	    r->not_before - SIGNER_ADMIN_SKEW > NOW || r->not_after + SIGNER_ADMIN_SKEW < NOW)
		abort();
	if (!payload)
		return;
	if (signer_admin_request_build(r, &again, NULL) != L3AF_OK ||
	    strlen(again) != len || memcmp(again, payload, len) != 0)
		abort();
	l3af_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signer_admin_request r;
	char *env = NULL;

	if (!key)
		init();
	/* 1: the bytes as an envelope */
	if (signer_admin_request_open((const char *)data, size, &root, NOW, &r, NULL) == L3AF_OK)
		check_opened(&r, NULL, 0);
	/* 2: the bytes as a signed payload */
	if (signer_dsse_sign(key, SIGNER_ADMIN_PAYLOAD_TYPE, data, size, &env, NULL) != L3AF_OK)
		return 0;
	if (signer_admin_request_open(env, strlen(env), &root, NOW, &r, NULL) == L3AF_OK)
		check_opened(&r, data, size);
	l3af_free(env);
	return 0;
}
