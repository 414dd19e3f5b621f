/*
 * test_entry.c - log entries (docs/formats.md section 7): byte-exact round
 * trips of each kind, every class of refusal, the syntax rules, version
 * order and namespace patterns. Real keys, real DSSE envelopes and real
 * statements (entry_fixture.c). The package verification and admin request
 * tests are in test_entry_verify.c, run from this main.
 */
#include "entry_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Build bytes of e's kind again from the parsed struct. */
static char *rebuild(const struct signer_entry *e, size_t *len)
{
	struct l3af_err err = { 0 };
	char *out = NULL, *req = NULL;

	switch (e->kind) {
	case SIGNER_ENTRY_ADMIN_ROOT:
		fx_expect("rebuild root", signer_entry_admin_root(&e->root, &out, len, &err),
			  L3AF_OK, &err, NULL);
		break;
	case SIGNER_ENTRY_PUBLISHER_KEYS:
		req = fx_dump(e->request);
		fx_expect("rebuild keyset", signer_entry_keyset(&e->keyset, req, strlen(req), &out,
								len, &err), L3AF_OK, &err, NULL);
		free(req);
		break;
	case SIGNER_ENTRY_PACKAGE:
		fx_expect("rebuild package", signer_entry_package(&e->pkg, &out, len, &err),
			  L3AF_OK, &err, NULL);
		break;
	}
	assert_non_null(out);
	return out;
}

/* Parse text, then rebuild: the same bytes. */
static void round_trip(const char *text, size_t len, enum signer_entry_kind kind)
{
	struct signer_entry e;
	struct l3af_err err = { 0 };
	char *again;
	size_t again_len = 0;

	fx_expect("round trip parse", signer_entry_parse((const uint8_t *)text, len, &e, &err),
		  L3AF_OK, &err, NULL);
	assert_int_equal(e.kind, kind);
	again = rebuild(&e, &again_len);
	assert_int_equal(again_len, len);
	assert_memory_equal(again, text, len);
	l3af_free(again);
	signer_entry_clear(&e);
}

static void expect_refused(const char *desc, const char *text, size_t len,
			   enum l3af_status want)
{
	struct signer_entry e;
	struct l3af_err err = { 0 };

	memset(&e, 0x5a, sizeof(e));
	fx_expect(desc, signer_entry_parse((const uint8_t *)text, len, &e, &err), want, &err,
		  "signer: ");
	/* out is untouched on failure */
	assert_int_equal(((const uint8_t *)&e)[0], 0x5a);
}

/* text with obj[key] (at path "a" or "a.b" or "a.0") replaced by val, or
 * deleted if val is NULL, dumped canonically; free(). */
static char *edit(const char *text, const char *path, json_t *val)
{
	json_t *root = json_loads(text, 0, NULL), *obj = root;
	char buf[128], *key = buf, *dot;
	char *out;

	assert_non_null(root);
	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(key, '.'))) {
		*dot = '\0';
		obj = json_is_array(obj) ? json_array_get(obj, (size_t)atoi(key))
					 : json_object_get(obj, key);
		key = dot + 1;
	}
	assert_non_null(obj);
	if (json_is_array(obj))
		assert_int_equal(json_array_set_new(obj, (size_t)atoi(key), val), 0);
	else if (val)
		assert_int_equal(json_object_set_new(obj, key, val), 0);
	else
		assert_int_equal(json_object_del(obj, key), 0);
	out = fx_dump(root);
	json_decref(root);
	return out;
}

static void expect_edit_refused(const char *text, const char *path, json_t *val)
{
	char *t = edit(text, path, val);

	expect_refused(path, t, strlen(t), L3AF_E_INVALID);
	free(t);
}

/* text with the first `from` replaced by `to`; free(). */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(text) + strlen(to) + 1);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

static void expect_replace_refused(const char *desc, const char *text, const char *from,
				   const char *to)
{
	char *t = replace(text, from, to);

	expect_refused(desc, t, strlen(t), L3AF_E_INVALID);
	free(t);
}

static char *root_bytes(struct fx *fx, size_t *len)
{
	struct signer_admin_root root;
	struct l3af_err err = { 0 };
	char *out = NULL;

	fx_admin_root(fx, 2, &root);
	fx_expect("root build", signer_entry_admin_root(&root, &out, len, &err), L3AF_OK, &err,
		  NULL);
	return out;
}

/* --- round trips ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct fx fx;
	struct signer_entry e;
	char *text;
	size_t len = 0;

	(void)state;
	fx_init(&fx);
	text = root_bytes(&fx, &len);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "\"kind\":\"admin.root\""));
	round_trip(text, len, SIGNER_ENTRY_ADMIN_ROOT);
	assert_int_equal(signer_entry_parse((const uint8_t *)text, len, &e, NULL), L3AF_OK);
	/* the builder sorted the admins by id */
	assert_true(strcmp(e.root.admins[0].id, e.root.admins[1].id) < 0);
	assert_int_equal(e.root.threshold, 2);
	assert_string_equal(e.root.origin, FX_ORIGIN);
	signer_entry_clear(&e);
	l3af_free(text);

	fx_keyset_entry(&fx, 2, &e);
	assert_int_equal(e.kind, SIGNER_ENTRY_PUBLISHER_KEYS);
	assert_string_equal(e.keyset.publisher, "acme");
	assert_int_equal(e.keyset.nkeys, 2);
	assert_false(e.keyset.has_prev);
	text = rebuild(&e, &len);
	round_trip(text, len, SIGNER_ENTRY_PUBLISHER_KEYS);
	/* version 2 with a prev */
	e.keyset.version = 2;
	e.keyset.has_prev = true;
	memset(e.keyset.prev, 0xab, 32);
	l3af_free(text);
	text = rebuild(&e, &len);
	assert_non_null(strstr(text, "\"prev\":\"abababab"));
	round_trip(text, len, SIGNER_ENTRY_PUBLISHER_KEYS);
	l3af_free(text);
	signer_entry_clear(&e);

	fx_package_entry(&fx, &e);
	assert_int_equal(e.kind, SIGNER_ENTRY_PACKAGE);
	assert_string_equal(e.pkg.name, "ratelimiting");
	assert_memory_equal(e.pkg.artifact_sha256, fx.digest, 32);
	text = rebuild(&e, &len);
	round_trip(text, len, SIGNER_ENTRY_PACKAGE);
	l3af_free(text);
	signer_entry_clear(&e);
	signer_entry_clear(NULL);
	assert_string_equal(signer_entry_kind_name(SIGNER_ENTRY_PACKAGE), "package");
	assert_string_equal(signer_entry_kind_name(SIGNER_ENTRY_ADMIN_ROOT), "admin.root");
	assert_string_equal(signer_entry_kind_name(SIGNER_ENTRY_PUBLISHER_KEYS),
			    "publisher.keys");
	assert_string_equal(signer_entry_kind_name((enum signer_entry_kind)9), "unknown");
	fx_free(&fx);
}

/* --- refusals ------------------------------------------------------------- */

static void test_refuse_spelling(void **state)
{
	struct fx fx;
	char *text, *t;
	size_t len = 0;
	json_t *j;

	(void)state;
	fx_init(&fx);
	text = root_bytes(&fx, &len);
	expect_replace_refused("duplicate key", text, "\"v\":1", "\"v\":1,\"v\":1");
	expect_replace_refused("space", text, ",\"kind\"", ", \"kind\"");
	expect_replace_refused("escaped letter", text, "admin.root", "admin.r\\u006fot");
	expect_replace_refused("unknown kind", text, "admin.root", "admin.rooT");
	expect_replace_refused("v 2", text, "\"v\":1", "\"v\":2");
	expect_replace_refused("v 1.0", text, "\"v\":1", "\"v\":1.0");
	expect_replace_refused("v string", text, "\"v\":1", "\"v\":\"1\"");
	expect_replace_refused("threshold 1e0", text, "\"threshold\":2", "\"threshold\":2e0");
	expect_replace_refused("threshold 0", text, "\"threshold\":2", "\"threshold\":0");
	expect_replace_refused("threshold > n", text, "\"threshold\":2", "\"threshold\":3");
	expect_replace_refused("threshold -1", text, "\"threshold\":2", "\"threshold\":-1");
	expect_replace_refused("version 2^53", text, "\"version\":1",
			       "\"version\":9007199254740992");
	t = replace(text, "\"version\":1", "\"version\":9007199254740991");
	round_trip(t, strlen(t), SIGNER_ENTRY_ADMIN_ROOT);
	free(t);
	expect_replace_refused("leading zero", text, "\"version\":1", "\"version\":01");
	expect_replace_refused("origin with space", text, FX_ORIGIN, "example.com log");
	/* key order: same object dumped without sorting, kind first */
	j = json_loads(text, 0, NULL);
	t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = json_pack("{s:s}", "kind", "admin.root");
	{
		json_t *rest = json_loads(t, 0, NULL);

		assert_int_equal(json_object_update(j, rest), 0);
		json_decref(rest);
	}
	free(t);
	t = json_dumps(j, JSON_COMPACT);
	assert_int_equal(strncmp(t, "{\"kind\"", 7), 0);
	expect_refused("unsorted keys", t, strlen(t), L3AF_E_INVALID);
	free(t);
	json_decref(j);
	t = malloc(len + 2);
	sprintf(t, "%s\n", text);
	expect_refused("trailing newline", t, len + 1, L3AF_E_INVALID);
	free(t);
	expect_refused("not JSON", "{\"v\":", 5, L3AF_E_INVALID);
	expect_refused("array", "[1]", 3, L3AF_E_INVALID);
	l3af_free(text);
	fx_free(&fx);
}

static void test_refuse_fields(void **state)
{
	static const char *const root_fields[] = {
		"admins", "kind", "origin", "threshold", "v", "version",
	};
	static const char *const keyset_fields[] = {
		"keys", "kind", "namespaces", "prev", "publisher", "request", "threshold", "v",
		"version",
	};
	static const char *const package_fields[] = {
		"artifact", "envelope", "files", "keys_index", "kind", "name", "objects",
		"platform", "publisher", "v", "version", "artifact.name", "artifact.sha256",
		"artifact.size", "files.0.path", "files.0.size", "envelope.payload",
	};
	struct fx fx;
	struct signer_entry e;
	char *root, *keyset, *pkg;
	size_t len = 0;

	(void)state;
	fx_init(&fx);
	root = root_bytes(&fx, &len);
	fx_keyset_entry(&fx, 1, &e);
	keyset = rebuild(&e, &len);
	signer_entry_clear(&e);
	fx_package_entry(&fx, &e);
	pkg = rebuild(&e, &len);
	signer_entry_clear(&e);
	for (size_t i = 0; i < ARRAY_LEN(root_fields); i++)
		expect_edit_refused(root, root_fields[i], NULL);
	for (size_t i = 0; i < ARRAY_LEN(keyset_fields); i++)
		expect_edit_refused(keyset, keyset_fields[i], NULL);
	for (size_t i = 0; i < ARRAY_LEN(package_fields); i++)
		expect_edit_refused(pkg, package_fields[i], NULL);
	/* extra fields, top level and nested */
	expect_edit_refused(root, "zzz", json_integer(1));
	expect_edit_refused(root, "admins.0.comment", json_string("x"));
	expect_edit_refused(pkg, "artifact.url", json_string("x"));
	expect_edit_refused(pkg, "files.0.extra", json_true());
	expect_edit_refused(pkg, "envelope.extra", json_true());
	/* mistyped */
	expect_edit_refused(root, "origin", json_integer(3));
	expect_edit_refused(root, "admins", json_object());
	expect_edit_refused(keyset, "namespaces", json_string("acme-*"));
	expect_edit_refused(keyset, "request", json_array());
	expect_edit_refused(pkg, "objects", json_object());
	expect_edit_refused(pkg, "objects.0", json_integer(1));
	expect_edit_refused(pkg, "files.0.size", json_string("3"));
	expect_edit_refused(pkg, "keys_index", json_integer(-1));
	expect_edit_refused(pkg, "artifact.size", json_real(1.5));
	expect_edit_refused(pkg, "artifact.sha256", json_string("ABCD"));
	/* keys: bad id, alg that is not the key's, bad spki, unsorted, repeated */
	expect_edit_refused(root, "admins.0.id", json_string(fx.pub[2].id));
	expect_edit_refused(root, "admins.0.alg", json_string("rsa"));
	expect_edit_refused(root, "admins.0.spki", json_string("AAAA"));
	{
		json_t *j = json_loads(root, 0, NULL), *a = json_object_get(j, "admins");
		json_t *first = json_incref(json_array_get(a, 0));
		char *t;

		json_array_remove(a, 0);
		json_array_append(a, first);
		t = fx_dump(j);
		expect_refused("unsorted admins", t, strlen(t), L3AF_E_INVALID);
		free(t);
		json_array_set(a, 0, first);
		t = fx_dump(j);
		expect_refused("repeated admin", t, strlen(t), L3AF_E_INVALID);
		free(t);
		json_decref(first);
		json_decref(j);
	}
	/* prev: null only for version 1 */
	expect_edit_refused(keyset, "prev", json_string("abcd"));
	expect_edit_refused(keyset, "version", json_integer(2));
	/* names */
	expect_edit_refused(keyset, "publisher", json_string("Acme"));
	expect_edit_refused(keyset, "publisher", json_string("-acme"));
	expect_edit_refused(keyset, "publisher", json_string(""));
	expect_edit_refused(keyset, "namespaces.0", json_string("a*b"));
	expect_edit_refused(keyset, "namespaces.0", json_string("**"));
	expect_edit_refused(keyset, "namespaces.0", json_string(""));
	expect_edit_refused(keyset, "namespaces.1", json_string("acme-*"));
	expect_edit_refused(keyset, "threshold", json_integer(3));
	expect_edit_refused(pkg, "name", json_string("a/b"));
	expect_edit_refused(pkg, "version", json_string("-1"));
	expect_edit_refused(pkg, "version", json_string("1.0 beta"));
	expect_edit_refused(pkg, "platform", json_string("linux"));
	expect_edit_refused(pkg, "platform", json_string("linux//x"));
	expect_edit_refused(pkg, "platform", json_string("a/b/c/d"));
	expect_edit_refused(pkg, "artifact.name", json_string("a\tb"));
	{
		json_t *ns = json_array();
		char p[16];

		for (int i = 0; i < 33; i++) {
			snprintf(p, sizeof(p), "n%d", i);
			json_array_append_new(ns, json_string(p));
		}
		expect_edit_refused(keyset, "namespaces", json_incref(ns));
		json_array_remove(ns, 32);
		{
			char *t = edit(keyset, "namespaces", json_incref(ns));

			round_trip(t, strlen(t), SIGNER_ENTRY_PUBLISHER_KEYS);
			free(t);
		}
		json_decref(ns);
	}
	l3af_free(root);
	l3af_free(keyset);
	l3af_free(pkg);
	fx_free(&fx);
}

static void test_refuse_size(void **state)
{
	struct fx fx;
	struct signer_entry e;
	struct l3af_err err = { 0 };
	char *big, *out = NULL;
	size_t len = 0;
	json_t *objects;

	(void)state;
	fx_init(&fx);
	big = malloc(SIGNER_ENTRY_MAX + 2);
	memset(big, ' ', SIGNER_ENTRY_MAX + 1);
	big[0] = '{';
	expect_refused("over 65535", big, SIGNER_ENTRY_MAX + 1, L3AF_E_LIMIT);
	free(big);
	/* a package whose objects make it too large for an entry */
	fx_package_entry(&fx, &e);
	objects = json_array();
	for (int i = 0; i < 700; i++)
		json_array_append_new(objects, json_pack("{s:s}", "pad",
							 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	json_decref(e.pkg.objects);
	e.pkg.objects = objects;
	fx_expect("too large", signer_entry_package(&e.pkg, &out, &len, &err), L3AF_E_LIMIT,
		  &err, "signer: ");
	assert_null(out);
	/* builders refuse what parse would */
	json_array_clear(objects);
	strcpy(e.pkg.version, "x y");
	l3af_err_clear(&err);
	fx_expect("bad version", signer_entry_package(&e.pkg, &out, &len, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	signer_entry_clear(&e);
	fx_keyset_entry(&fx, 1, &e);
	e.keyset.threshold = 0;
	l3af_err_clear(&err);
	fx_expect("threshold 0", signer_entry_keyset(&e.keyset, "{}", 2, &out, &len, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	e.keyset.threshold = 1;
	l3af_err_clear(&err);
	fx_expect("request not an envelope", signer_entry_keyset(&e.keyset, "{}", 2, &out,
								 &len, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	e.keyset.keys[1] = e.keyset.keys[0];
	l3af_err_clear(&err);
	fx_expect("repeated key", signer_entry_keyset(&e.keyset, "{}", 2, &out, &len, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	e.keyset.nkeys = 1;
	e.keyset.keys[0].id[3] ^= 1;
	l3af_err_clear(&err);
	fx_expect("bad key id", signer_entry_keyset(&e.keyset, "{}", 2, &out, &len, &err),
		  L3AF_E_INVALID, &err, "signer: ");
	signer_entry_clear(&e);
	fx_free(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refuse_spelling),
		cmocka_unit_test(test_refuse_fields),
		cmocka_unit_test(test_refuse_size),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_platform),
		cmocka_unit_test(test_package_verify_allowed),
		cmocka_unit_test(test_package_verify_denied),
		cmocka_unit_test(test_package_verify_threshold),
		cmocka_unit_test(test_admin_open),
		cmocka_unit_test(test_admin_open_threshold),
		cmocka_unit_test(test_admin_build_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
