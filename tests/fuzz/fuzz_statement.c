/*
 * fuzz_statement.c - DSSE envelope verification and in-toto statement
 * parsing on any bytes, plus public key PEM and SPKI parsing. Trusted keys:
 * the DSSE protocol.md P-256 test key and the RFC 8032 TEST 1 Ed25519 key,
 * so seeds signed by either reach the payload and statement paths.
 * Property: never crashes, never leaks, and what verifies is consistent
 * (a verified key is in the mask, the payload fits in the input).
 */
#include <stdlib.h>
#include <string.h>

#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keys_init(struct signer_pubkey keys[2])
{
	static const char *const pems[] = {
		"-----BEGIN PUBLIC KEY-----\n"
		"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMr\n"
		"CrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==\n"
		"-----END PUBLIC KEY-----\n",
		"-----BEGIN PUBLIC KEY-----\n"
		"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
		"-----END PUBLIC KEY-----\n",
	};

	for (int i = 0; i < 2; i++)
		if (signer_pubkey_parse_pem(pems[i], strlen(pems[i]), &keys[i], NULL) != L3AF_OK)
			abort();
}

static void check_envelope(const char *text, size_t size,
			   const struct signer_pubkey keys[2])
{
	struct signer_dsse_result res = { .payload = NULL };
	struct signer_statement st;

	if (signer_dsse_verify(text, size, keys, 2, 1, &res, NULL) != L3AF_OK)
		return;
	if (res.verified == 0 || (res.verified_mask & ~UINT64_C(3)) != 0 ||
	    res.payload_len >= size || !res.payload_type)
		abort();
	if (strcmp(res.payload_type, SIGNER_INTOTO_PAYLOAD_TYPE) == 0 &&
	    signer_statement_parse((const char *)res.payload, res.payload_len, &st,
				   NULL) == L3AF_OK)
		signer_statement_clear(&st);
	signer_dsse_result_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct signer_pubkey keys[2];
	static int ready;
	struct signer_statement st;
	struct signer_pubkey pub;
	const char *text = (const char *)data;

	if (!ready) {
		keys_init(keys);
		ready = 1;
	}
	check_envelope(text, size, keys);
	if (signer_statement_parse(text, size, &st, NULL) == L3AF_OK) {
		if (st.name[0] == '\0' || !st.predicate)
			abort();
		signer_statement_clear(&st);
	}
	if (signer_pubkey_parse_pem(text, size, &pub, NULL) == L3AF_OK && pub.id[63] == '\0')
		abort();
	if (signer_pubkey_from_spki(data, size, &pub, NULL) == L3AF_OK && pub.spki_len != size)
		abort();
	return 0;
}
