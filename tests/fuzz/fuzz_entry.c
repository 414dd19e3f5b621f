/*
 * fuzz_entry.c - log entry parsing (signer_entry_parse) and admin request
 * opening on any bytes. Properties: never crashes, never leaks; an entry
 * that parses rebuilds to the same bytes (one spelling per entry); a
 * package entry is checked against a key set of the RFC 8032 TEST 1
 * Ed25519 key (publisher as the entry's, namespace "*"), and an admin
 * envelope against a root of that key, so that seeds signed by it reach
 * the statement and payload checks.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "example.com/l3af-log"

static const char test1_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	"-----END PUBLIC KEY-----\n";

static char *rebuild(const struct signer_entry *e, size_t *len)
{
	char *out = NULL, *req = NULL;
	enum l3af_status rc = L3AF_E_INTERNAL;

	switch (e->kind) {
	case SIGNER_ENTRY_ADMIN_ROOT:
		rc = signer_entry_admin_root(&e->root, &out, len, NULL);
		break;
	case SIGNER_ENTRY_PUBLISHER_KEYS:
		req = json_dumps(e->request, JSON_COMPACT | JSON_SORT_KEYS);
		if (!req)
			abort();
		rc = signer_entry_keyset(&e->keyset, req, strlen(req), &out, len, NULL);
		free(req);
		break;
	case SIGNER_ENTRY_PACKAGE:
		rc = signer_entry_package(&e->pkg, &out, len, NULL);
		break;
	}
	if (rc != L3AF_OK)
		abort();
	return out;
}

static void check_package(const struct signer_package *pkg,
			  const struct signer_pubkey *key)
{
	struct signer_keyset ks;
	struct signer_statement st;
	struct l3af_err err = { 0 };
	enum l3af_status rc;

	memset(&ks, 0, sizeof(ks));
	memcpy(ks.publisher, pkg->publisher, sizeof(ks.publisher));
	ks.version = 1;
	ks.nnamespaces = 1;
	strcpy(ks.namespaces[0], "*");
	ks.threshold = 1;
	ks.nkeys = 1;
	ks.keys[0] = *key;
	rc = signer_package_verify(pkg, &ks, &st, &err);
	if (rc == L3AF_OK) {
		if (strcmp(st.name, pkg->artifact_name) != 0 ||
		    memcmp(st.sha256, pkg->artifact_sha256, 32) != 0)
			abort();
		signer_statement_clear(&st);
	} else if (rc == L3AF_E_VERIFY && strncmp(err.msg, "signature: ", 11) != 0 &&
		   strncmp(err.msg, "subject: ", 9) != 0 &&
		   strncmp(err.msg, "predicate: ", 11) != 0) {
		abort(); /* publisher and namespace match by construction */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct signer_pubkey key;
	static struct signer_admin_root root;
	static int ready;
	struct signer_entry e;
	struct signer_admin_request req;
	char *again;
	size_t len = 0;

	if (!ready) {
		if (signer_pubkey_parse_pem(test1_pem, strlen(test1_pem), &key, NULL) != L3AF_OK)
			abort();
		root.version = 1;
		strcpy(root.origin, ORIGIN);
		root.threshold = 1;
		root.nadmins = 1;
		root.admins[0] = key;
		ready = 1;
	}
	if (signer_entry_parse(data, size, &e, NULL) == L3AF_OK) {
		if (strcmp(signer_entry_kind_name(e.kind), "unknown") == 0)
			abort();
		again = rebuild(&e, &len);
		if (len != size || memcmp(again, data, size) != 0)
			abort();
		l3af_free(again);
		if (e.kind == SIGNER_ENTRY_PACKAGE)
			check_package(&e.pkg, &key);
		signer_entry_clear(&e);
	}
	if (signer_admin_request_open((const char *)data, size, &root, 1700000000, &req,
				      NULL) == L3AF_OK &&
	    strcmp(req.origin, ORIGIN) != 0)
		abort();
	return 0;
}
