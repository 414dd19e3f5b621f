/*
 * vfixture.c - the verifier tests' real log (see vfixture.h).
 */
#include "vfixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

static unsigned src_counter;

void vfx_write(const char *dir, const char *name, const void *data, size_t len)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0644), 0);
}

static void append(struct vfx *f, const char *bytes, size_t len, uint64_t *index)
{
	struct tlog_entry e = { .data = (const uint8_t *)bytes, .len = len };
	struct l3af_err err = { 0 };

	if (tlog_append(f->log, &e, 1, index, &err) != L3AF_OK)
		fail_msg("append: %s", err.msg);
}

static json_t *envelope_of(struct signer_privkey *key, const char *type, const char *payload)
{
	char *text = NULL;
	json_t *env;

	assert_int_equal(signer_dsse_sign(key, type, (const uint8_t *)payload, strlen(payload),
					  &text, NULL), L3AF_OK);
	env = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(env);
	l3af_free(text);
	return env;
}

static uint64_t keyset(struct vfx *f, const char *publisher, const char *ns,
		       struct signer_privkey *key, uint8_t nonce)
{
	return vfx_keyset(f, publisher, ns, key, nonce, NULL, NULL);
}

uint64_t vfx_keyset(struct vfx *f, const char *publisher, const char *ns,
		    struct signer_privkey *key, uint8_t nonce, const char *req_origin,
		    const char *req_ns)
{
	struct signer_keyset entry_params;
	struct signer_admin_request req;
	struct l3af_err err = { 0 };
	char *payload = NULL, *bytes = NULL, *env_text;
	size_t len = 0;
	uint64_t index = 0;
	json_t *env;

	memset(&req, 0, sizeof(req));
	strcpy(req.action, "publisher.register");
	strcpy(req.origin, VFX_ORIGIN);
	memset(req.nonce, nonce, sizeof(req.nonce));
	req.not_before = l3af_wall_s() - 10;
	req.not_after = l3af_wall_s() + 290;
	strcpy(req.params.publisher, publisher);
	req.params.version = 1;
	req.params.nnamespaces = 1;
	strcpy(req.params.namespaces[0], ns);
	if (!strcmp(publisher, "acme")) {
		req.params.nnamespaces = 2;
		strcpy(req.params.namespaces[1], "ratelimiting");
	}
	req.params.threshold = 1;
	req.params.nkeys = 1;
	req.params.keys[0] = *signer_privkey_pubkey(key);
	entry_params = req.params;
	if (req_origin)
		snprintf(req.origin, sizeof(req.origin), "%s", req_origin);
	if (req_ns)
		snprintf(req.params.namespaces[0], sizeof(req.params.namespaces[0]), "%s", req_ns);
	assert_int_equal(signer_admin_request_build(&req, &payload, NULL), L3AF_OK);
	env = envelope_of(f->admin, SIGNER_ADMIN_PAYLOAD_TYPE, payload);
	env_text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
	if (signer_entry_keyset(&entry_params, env_text, strlen(env_text), &bytes, &len, &err) !=
	    L3AF_OK)
		fail_msg("keyset: %s", err.msg);
	append(f, bytes, len, &index);
	l3af_free(payload);
	l3af_free(bytes);
	free(env_text);
	json_decref(env);
	return index;
}

void vfx_open(struct vfx *f)
{
	struct l3af_err err = { 0 };

	if (tlog_open(f->logdir, TLOG_OPEN_WRITER, &f->log, &err) != L3AF_OK)
		fail_msg("tlog_open: %s", err.msg);
}

void vfx_close(struct vfx *f)
{
	tlog_close(f->log);
	f->log = NULL;
}

void vfx_init(struct vfx *f)
{
	struct signer_admin_root root;
	struct signer_vkey vk;
	char path[700], *text = NULL, *bytes = NULL;
	size_t len = 0;
	uint64_t index = 0;

	memset(f, 0, sizeof(*f));
	f->dir = tu_tempdir("verify");
	snprintf(f->logdir, sizeof(f->logdir), "%s/log", f->dir);
	assert_int_equal(tlog_create(f->logdir, VFX_ORIGIN, NULL), L3AF_OK);
	vfx_open(f);
	snprintf(path, sizeof(path), "%s/log.vkey", f->logdir);
	assert_int_equal(l3af_file_read(path, 4096, &text, &len, NULL), L3AF_OK);
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	snprintf(f->logvkey, sizeof(f->logvkey), "%s", text);
	assert_int_equal(signer_vkey_parse(text, len, &f->logvk, NULL), L3AF_OK);
	l3af_free(text);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &f->admin, NULL), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &f->acme, NULL), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ECDSA_P256, &f->beta, NULL), L3AF_OK);
	for (int i = 0; i < VFX_NWITNESS; i++) {
		char name[64];

		snprintf(name, sizeof(name), "witness%d.example", i);
		assert_int_equal(signer_key_generate(name, SIGNER_TYPE_COSIG_V1, &f->witness[i], NULL),
				 L3AF_OK);
		signer_key_vkey(f->witness[i], &vk);
		signer_vkey_format(&vk, f->wvkey[i]);
	}
	memset(&root, 0, sizeof(root));
	root.version = 1;
	strcpy(root.origin, VFX_ORIGIN);
	root.threshold = 1;
	root.nadmins = 1;
	root.admins[0] = *signer_privkey_pubkey(f->admin);
	assert_int_equal(signer_entry_admin_root(&root, &bytes, &len, NULL), L3AF_OK);
	append(f, bytes, len, &index);
	assert_int_equal(index, 0);
	l3af_free(bytes);
	f->acme_keys = keyset(f, "acme", "acme-*", f->acme, 1);
	f->beta_keys = keyset(f, "beta", "beta-*", f->beta, 2);
}

void vfx_free(struct vfx *f)
{
	vfx_close(f);
	signer_privkey_free(f->admin);
	signer_privkey_free(f->acme);
	signer_privkey_free(f->beta);
	for (int i = 0; i < VFX_NWITNESS; i++)
		signer_key_free(f->witness[i]);
	tu_rmtree(f->dir);
	memset(f, 0, sizeof(*f));
}

static uint8_t *slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	if (l3af_file_read(path, 64u << 20, &buf, len, NULL) != L3AF_OK)
		fail_msg("read %s", path);
	return (uint8_t *)buf;
}

/* The archive of src as name; ebpf_pkg_create's package into *pkg if asked. */
static uint8_t *pack(struct vfx *f, const char *src, const char *name, struct ebpf_pkg **pkg,
		     size_t *len)
{
	char out[700];
	struct l3af_err err = { 0 };
	uint8_t *bytes, *copy;

	snprintf(out, sizeof(out), "%s/art-%u.tar.gz", f->dir, src_counter++);
	if (ebpf_pkg_create(src, name, out, pkg, &err) != L3AF_OK)
		fail_msg("ebpf_pkg_create: %s", err.msg);
	bytes = slurp(out, len);
	copy = malloc(*len);
	assert_non_null(copy);
	memcpy(copy, bytes, *len);
	l3af_free(bytes);
	return copy;
}

static json_t *facts(const struct ebpf_pkg *pkg)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < pkg->nfiles; i++) {
		struct ebpf_object *obj = NULL;
		char *text = NULL;

		if (pkg->files[i].kind != EBPF_KIND_BPF_ELF)
			continue;
		assert_int_equal(ebpf_inspect(pkg->files[i].data, pkg->files[i].size,
					      pkg->files[i].path, &obj, NULL), L3AF_OK);
		assert_int_equal(ebpf_object_to_json(obj, &text, NULL), L3AF_OK);
		json_array_append_new(arr, json_loads(text, 0, NULL));
		l3af_free(text);
		ebpf_object_free(obj);
	}
	return arr;
}

void vfx_package(struct vfx *f, const struct vfx_spec *s, struct vfx_pkg *out)
{
	const char *name = s->name ? s->name : "ratelimiting";
	const char *version = s->version ? s->version : "1.0.0";
	const char *platform = s->platform ? s->platform : "linux/amd64";
	const char *object = s->object ? s->object : "tc_count.bpf.o";
	struct signer_privkey *signer = s->signer ? s->signer : f->acme;
	char src[700], path[1024], *manifest = NULL, *statement = NULL, *bytes = NULL;
	char os[32], arch[32];
	struct ebpf_pkg *pkg = NULL;
	struct signer_package p;
	struct l3af_err err = { 0 };
	uint8_t *elf, *art;
	size_t elf_len, art_len, len = 0;
	json_t *files, *objects, *pred;

	memset(out, 0, sizeof(*out));
	snprintf(src, sizeof(src), "%s/src-%u", f->dir, src_counter++);
	assert_int_equal(mkdir(src, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s", L3AF_BPF_OBJ_DIR, object);
	elf = slurp(path, &elf_len);
	vfx_write(src, object, elf, elf_len);
	l3af_free(elf);
	vfx_write(src, "README.md", "# test package\n", 15);
	vfx_write(src, "LICENSE", "GPL-2.0-only\n", 13);
	if (s->reserved)
		vfx_write(src, ".l3af-verified.json", "{}\n", 3);
	if (s->exe) {
		vfx_write(src, "run.sh", "#!/bin/sh\necho hi\n", 18);
		snprintf(path, sizeof(path), "%s/run.sh", src);
		assert_int_equal(chmod(path, 0755), 0);
	}
	art = pack(f, src, name, &pkg, &art_len);
	assert_int_equal(ebpf_pkg_manifest_json(pkg, &manifest, NULL), L3AF_OK);
	files = json_loads(manifest, 0, NULL);
	objects = facts(pkg);
	if (s->objects_file)
		json_object_set_new(json_array_get(objects, 0), "file",
				    json_string(s->objects_file));
	ebpf_pkg_free(pkg);
	l3af_free(manifest);
	if (s->drop_readme_from_archive || s->extra_in_archive) {
		free(art);
		if (s->extra_in_archive)
			vfx_write(src, "extra.txt", "surprise\n", 9);
		else {
			snprintf(path, sizeof(path), "%s/README.md", src);
			assert_int_equal(unlink(path), 0);
		}
		art = pack(f, src, name, NULL, &art_len);
	}
	if (s->art) {
		free(art);
		art = malloc(s->art_len);
		memcpy(art, s->art, s->art_len);
		art_len = s->art_len;
	}
	memset(&p, 0, sizeof(p));
	snprintf(p.publisher, sizeof(p.publisher), "%s", s->publisher ? s->publisher : "acme");
	p.keys_index = s->keys_index ? s->keys_index : f->acme_keys;
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.version, sizeof(p.version), "%s", version);
	snprintf(p.platform, sizeof(p.platform), "%s", platform);
	snprintf(p.artifact_name, sizeof(p.artifact_name), "l3af_%s.tar.gz", name);
	assert_int_equal(l3af_sha256(art, art_len, p.artifact_sha256), L3AF_OK);
	p.artifact_size = art_len;
	assert_int_equal(sscanf(platform, "%31[^/]/%31s", os, arch), 2);
	pred = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:O, s:{}}", "name", name, "version",
			 version, "platform", "os", os, "arch", arch, "files", files, "programs",
			 objects, "license");
	assert_non_null(pred);
	if (signer_statement_build(p.artifact_name, p.artifact_sha256, pred, &statement, &err) !=
	    L3AF_OK)
		fail_msg("statement: %s", err.msg);
	p.envelope = envelope_of(signer, SIGNER_INTOTO_PAYLOAD_TYPE, statement);
	p.files = files;
	p.objects = objects;
	if (signer_entry_package(&p, &bytes, &len, &err) != L3AF_OK)
		fail_msg("package entry: %s", err.msg);
	append(f, bytes, len, &out->index);
	out->art = art;
	out->art_len = art_len;
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->version, sizeof(out->version), "%s", version);
	snprintf(out->platform, sizeof(out->platform), "%s", platform);
	snprintf(out->file, sizeof(out->file), "%s", p.artifact_name);
	json_decref(pred);
	json_decref(p.envelope);
	json_decref(files);
	json_decref(objects);
	l3af_free(statement);
	l3af_free(bytes);
}

void vfx_pkg_free(struct vfx_pkg *p)
{
	free(p->art);
	memset(p, 0, sizeof(*p));
}

void vfx_fill(struct vfx *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t buf[256];
		size_t len = tu_entry(1000000 + l3af_now_ns() % 1000000 + i, buf);
		uint64_t index;

		append(f, (const char *)buf, len, &index);
	}
}

char *vfx_bundle(struct vfx *f, uint64_t index, const uint64_t times[VFX_NWITNESS])
{
	struct tlog_bundle *b = calloc(1, sizeof(*b));
	struct signer_note_result nr;
	struct tlog_checkpoint cp;
	struct signer_entry e;
	struct l3af_err err = { 0 };
	char *note = NULL, *full, *text = NULL, *out;
	uint8_t *bytes = NULL;
	size_t len = 0, blen = 0, flen;

	assert_non_null(b);
	assert_int_equal(tlog_checkpoint_get(f->log, &note, &len, NULL), L3AF_OK);
	assert_int_equal(signer_note_open(note, len, &f->logvk, 1, &nr, NULL), L3AF_OK);
	assert_int_equal(tlog_checkpoint_parse(note, nr.text_len, &cp, NULL), L3AF_OK);
	full = malloc(len + VFX_NWITNESS * SIGNER_NOTE_LINE_MAX + 1);
	memcpy(full, note, len);
	flen = len;
	for (int i = 0; i < VFX_NWITNESS; i++) {
		char line[SIGNER_NOTE_LINE_MAX];

		if (!times || !times[i])
			continue;
		assert_int_equal(signer_note_sign_line(f->witness[i], note, nr.text_len, times[i],
						       line, sizeof(line), NULL), L3AF_OK);
		memcpy(full + flen, line, strlen(line));
		flen += strlen(line);
	}
	b->proof.index = index;
	assert_int_equal(tlog_prove_inclusion(f->log, index, cp.size, b->proof.proof,
					      &b->proof.nproof, NULL), L3AF_OK);
	assert_int_equal(tlog_entry_read(f->log, index, &bytes, &blen, NULL), L3AF_OK);
	memcpy(b->entry, bytes, blen);
	b->entry_len = blen;
	memset(&e, 0, sizeof(e));
	if (signer_entry_parse(bytes, blen, &e, NULL) == L3AF_OK && e.kind == SIGNER_ENTRY_PACKAGE) {
		uint8_t *kb = NULL;
		size_t klen = 0;

		b->has_keys = true;
		b->keys_index = e.pkg.keys_index;
		assert_int_equal(tlog_entry_read(f->log, b->keys_index, &kb, &klen, NULL), L3AF_OK);
		memcpy(b->keys_entry, kb, klen);
		b->keys_entry_len = klen;
		l3af_free(kb);
		assert_int_equal(tlog_prove_inclusion(f->log, b->keys_index, cp.size, b->kproof,
						      &b->nkproof, NULL), L3AF_OK);
	}
	signer_entry_clear(&e);
	l3af_free(bytes);
	if (tlog_bundle_format(b, full, flen, &text, &len, &err) != L3AF_OK)
		fail_msg("bundle: %s", err.msg);
	out = strdup(text);
	l3af_free(text);
	l3af_free(note);
	free(full);
	free(b);
	return out;
}

char *vfx_policy(const struct vfx *f, const char *tail)
{
	char *out = NULL;

	assert_true(asprintf(&out, "# test policy\nlog %s\nwitness w0 %s\nwitness w1 %s\n"
			     "witness w2 %s\n%s", f->logvkey, f->wvkey[0], f->wvkey[1], f->wvkey[2],
			     tail) > 0);
	return out;
}

char *vfx_consistency(struct vfx *f, uint64_t old, uint64_t new)
{
	uint8_t proof[TLOG_PROOF_MAX][TLOG_HASH_BYTES];
	size_t n = 0;
	json_t *arr = json_array(), *root;
	char *text;

	assert_int_equal(tlog_prove_consistency(f->log, old, new, proof, &n, NULL), L3AF_OK);
	for (size_t i = 0; i < n; i++) {
		char b64[48];

		assert_int_equal(l3af_base64_encode(b64, sizeof(b64), proof[i], 32), L3AF_OK);
		json_array_append_new(arr, json_string(b64));
	}
	root = json_pack("{s:I,s:I,s:o}", "new", (json_int_t)new, "old", (json_int_t)old, "proof",
			 arr);
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

static void add_entry(struct archive *a, const char *path, unsigned type, unsigned mode,
		      const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	if (link)
		archive_entry_set_symlink(e, link);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (data)
		assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

uint8_t *vfx_crafted_archive(const char *name, char kind, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	char top[128], path[256];

	assert_non_null(buf);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	snprintf(top, sizeof(top), "l3af_%s/", name);
	add_entry(a, top, AE_IFDIR, 0755, NULL, NULL);
	snprintf(path, sizeof(path), "%sREADME.md", top);
	add_entry(a, path, AE_IFREG, 0644, "# crafted\n", NULL);
	if (kind == 's') {
		snprintf(path, sizeof(path), "%slink", top);
		add_entry(a, path, AE_IFLNK, 0777, NULL, "/etc/passwd");
	} else if (kind == 'u') {
		snprintf(path, sizeof(path), "%ssuid", top);
		add_entry(a, path, AE_IFREG, 04755, "#!/bin/sh\n", NULL);
	} else {
		snprintf(path, sizeof(path), "%s../evil", top);
		add_entry(a, path, AE_IFREG, 0644, "evil\n", NULL);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len = used;
	return buf;
}
