/*
 * fuzz_note.c - c2sp.org/signed-note parsing and verification with a known
 * key set (the x/mod example key as Ed25519 and as a cosigner), on any bytes.
 * Property: never crashes, never reads out of bounds, and a note accepted
 * has its text inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const vkeys[] = {
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"example.com/test-witness+449b2479+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	};
	struct signer_vkey keys[2];
	struct signer_note_result res;

	for (int i = 0; i < 2; i++)
		if (signer_vkey_parse(vkeys[i], strlen(vkeys[i]), &keys[i], NULL) != L3AF_OK)
			abort();
	if (signer_note_open((const char *)data, size, keys, 2, &res, NULL) == L3AF_OK &&
	    res.text_len >= size)
		abort();
	/* Also as a verifier key text. */
	struct signer_vkey vk;
	if (signer_vkey_parse((const char *)data, size, &vk, NULL) == L3AF_OK && vk.name[0] == 0)
		abort(); /* a parsed key always has a name */
	return 0;
}
