/*
 * fuzz_bundle.c - bundle parsing (docs/formats.md section 8) on any bytes.
 * Property: an accepted bundle re-formats to exactly the input (one spelling
 * per bundle), and verify runs cleanly on whatever was accepted, answering
 * only L3AF_OK or L3AF_E_VERIFY against a checkpoint that parses.
 */
#include <stdlib.h>
#include <string.h>

#include "tlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* About 330 KiB: off the stack. */
static struct tlog_bundle bundle;

/* Verify against the note's body, if it is a checkpoint: a crafted input
 * may verify, so only the kind of answer is checked. */
static void exercise_verify(void)
{
	const char *note = bundle.proof.checkpoint, *end = NULL;
	struct tlog_checkpoint cp;
	enum l3af_status rc;

	for (size_t i = 0; i + 1 < bundle.proof.checkpoint_len && !end; i++)
		if (note[i] == '\n' && note[i + 1] == '\n')
			end = note + i + 1;
	if (!end || tlog_checkpoint_parse(note, (size_t)(end - note), &cp, NULL) != L3AF_OK)
		return;
	rc = tlog_bundle_verify(&bundle, &cp, NULL);
	if (rc != L3AF_OK && rc != L3AF_E_VERIFY)
		abort(); /* a parsed bundle and a parsed checkpoint are well formed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;

	if (tlog_bundle_parse((const char *)data, size, &bundle, NULL) != L3AF_OK)
		return 0;
	if (tlog_bundle_format(&bundle, bundle.proof.checkpoint, bundle.proof.checkpoint_len,
			       &out, &len, NULL) != L3AF_OK)
		abort(); /* parse accepted what format refuses */
	if (len != size || memcmp(out, data, size) != 0)
		abort(); /* a second spelling of one bundle was accepted */
	l3af_free(out);
	exercise_verify();
	return 0;
}
