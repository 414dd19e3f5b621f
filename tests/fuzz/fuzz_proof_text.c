/*
 * fuzz_proof_text.c - c2sp.org/tlog-proof@v1 parsing on any bytes.
 * Property: an accepted proof re-formats to exactly the input (one spelling
 * per proof), and the verify helper runs cleanly on whatever was accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* about 200 KiB: off the stack. */
static struct tlog_proof_text proof;

/* Run the verify helper against the note's body, if it is a checkpoint: no
 * assertion on the result (a crafted input can verify), only no crash. */
static void exercise_verify(void)
{
	static const uint8_t leaf[TLOG_HASH_BYTES];
	const char *end = NULL;
	struct tlog_checkpoint cp;

	for (size_t i = 0; i + 1 < proof.checkpoint_len && !end; i++)
		if (proof.checkpoint[i] == '\n' && proof.checkpoint[i + 1] == '\n')
			end = proof.checkpoint + i + 1;
	if (!end || tlog_checkpoint_parse(proof.checkpoint, (size_t)(end - proof.checkpoint),
					  &cp, NULL) != L3AF_OK)
		return;
	if (tlog_proof_text_verify_inclusion(&proof, leaf, &cp, NULL) == L3AF_E_INVALID)
		abort(); /* cp came from tlog_checkpoint_parse: it must format */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;

	if (tlog_proof_text_parse((const char *)data, size, &proof, NULL) != L3AF_OK)
		return 0;
	if (tlog_proof_text_format(proof.index, (const uint8_t(*)[TLOG_HASH_BYTES])proof.proof,
				   proof.nproof, proof.extra, proof.extra_len, proof.checkpoint,
				   proof.checkpoint_len, &out, &len, NULL) != L3AF_OK)
		abort(); /* parse accepted what format refuses */
	if (len != size || memcmp(out, data, size) != 0)
		abort(); /* a second spelling of one proof was accepted */
	l3af_free(out);
	exercise_verify();
	return 0;
}
