/*
 * submit_fixture.c - see submit_fixture.h. The package, signing and HTTP
 * helpers follow test_submit.c.
 */
#include "testutil.h"
#include "httputil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "ebpf.h"
#include "submit_fixture.h"

#ifndef L3AF_BPF_OBJ_DIR
#error "L3AF_BPF_OBJ_DIR must name the compiled test objects"
#endif

/* ---- files and packages ---- */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

char *fx_read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	struct l3af_err err = {0};

	assert_int_equal(l3af_file_read(path, 256u << 20, &buf, len, &err), L3AF_OK);
	return buf;
}

char *fx_make_package(struct fx *f, const char *name, const char *obj, const char *note)
{
	char *src = NULL, *out = NULL, *path = NULL, *objpath = NULL;
	struct l3af_err err = {0};
	size_t len = 0;
	char *bytes;

	assert_true(asprintf(&src, "%s/src-%s", f->work, name) > 0);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_true(asprintf(&objpath, "%s/%s", L3AF_BPF_OBJ_DIR, obj) > 0);
	bytes = fx_read_all(objpath, &len);
	assert_true(asprintf(&path, "%s/%s", src, obj) > 0);
	write_file(path, bytes, len);
	l3af_free(bytes);
	free(path);
	assert_true(asprintf(&path, "%s/README.md", src) > 0);
	write_file(path, note, strlen(note));
	free(path);
	assert_true(asprintf(&path, "%s/LICENSE", src) > 0);
	write_file(path, "GPL-2.0\n", 8);
	free(path);
	assert_true(asprintf(&out, "%s/l3af_%s.tar.gz", f->work, name) > 0);
	assert_int_equal(ebpf_pkg_create(src, name, out, NULL, &err), L3AF_OK);
	free(src);
	free(objpath);
	return out;
}

char *fx_sign_package(const char *archive, const char *version,
		      const struct signer_privkey *key)
{
	struct l3af_err err = {0};
	struct ebpf_pkg *pkg = NULL;
	char *bytes, *manifest = NULL, *stmt = NULL, *env = NULL;
	const char *base = strrchr(archive, '/') + 1;
	size_t len = 0;
	uint8_t sha[32];
	json_t *progs = json_array();

	bytes = fx_read_all(archive, &len);
	assert_int_equal(l3af_sha256(bytes, len, sha), L3AF_OK);
	assert_int_equal(ebpf_pkg_read((const uint8_t *)bytes, len, &pkg, &err), L3AF_OK);
	assert_int_equal(ebpf_pkg_manifest_json(pkg, &manifest, &err), L3AF_OK);
	for (size_t i = 0; i < pkg->nfiles; i++) {
		struct ebpf_object *o = NULL;
		char *facts = NULL;
		if (pkg->files[i].kind != EBPF_KIND_BPF_ELF)
			continue;
		assert_int_equal(ebpf_inspect(pkg->files[i].data, pkg->files[i].size,
					      pkg->files[i].path, &o, &err), L3AF_OK);
		assert_int_equal(ebpf_object_to_json(o, &facts, &err), L3AF_OK);
		json_array_append_new(progs, json_loads(facts, 0, NULL));
		l3af_free(facts);
		ebpf_object_free(o);
	}
	json_t *pred = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:o}", "name", pkg->name,
				 "version", version, "platform", "os", "linux", "arch", "amd64",
				 "files", json_loads(manifest, 0, NULL), "programs", progs);
	assert_non_null(pred);
	assert_int_equal(signer_statement_build(base, sha, pred, &stmt, &err), L3AF_OK);
	assert_int_equal(signer_dsse_sign(key, SIGNER_INTOTO_PAYLOAD_TYPE, (const uint8_t *)stmt,
					  strlen(stmt), &env, &err),
			 L3AF_OK);
	json_decref(pred);
	l3af_free(stmt);
	l3af_free(manifest);
	l3af_free(bytes);
	ebpf_pkg_free(pkg);
	return env;
}

/* ---- HTTP ---- */

void fx_post_submit(CURL *h, const char *base, const char *env, const char *archive,
		    struct reply *r)
{
	fx_post_submit_as(h, base, env, archive, NULL, r);
}

void fx_post_submit_as(CURL *h, const char *base, const char *env, const char *archive,
		       const char *as_name, struct reply *r)
{
	fx_post_parts(h, base, env, archive, as_name, false, NULL, NULL, r);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	char *buf = ud;
	size_t have = strlen(buf), len = size * n;

	if (have + len < FX_HEADERS_BYTES) {
		memcpy(buf + have, p, len);
		buf[have + len] = '\0';
	}
	return len;
}

void fx_post_parts(CURL *h, const char *base, const char *env, const char *archive,
		   const char *as_name, bool artifact_first, struct curl_slist *headers,
		   char *got_headers, struct reply *r)
{
	char url[256];
	curl_mime *mime = curl_mime_init(h);
	curl_mimepart *envp, *artp;

	if (artifact_first) {
		artp = curl_mime_addpart(mime);
		envp = curl_mime_addpart(mime);
	} else {
		envp = curl_mime_addpart(mime);
		artp = curl_mime_addpart(mime);
	}
	curl_mime_name(envp, "envelope");
	curl_mime_data(envp, env, CURL_ZERO_TERMINATED);
	curl_mime_name(artp, "artifact");
	curl_mime_filedata(artp, archive);
	curl_mime_filename(artp, as_name ? as_name : strrchr(archive, '/') + 1);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s/v1/submit", base);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	if (headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (got_headers) {
		got_headers[0] = '\0';
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, got_headers);
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hu_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	r->curl = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_mime_free(mime);
	curl_easy_reset(h);
}

void fx_post_json(CURL *h, const char *base, const char *path, const char *body,
		  const char *ctype, struct reply *r)
{
	char url[256], hdr[128];
	struct curl_slist *hs = NULL;

	snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
	hs = curl_slist_append(hs, hdr);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hu_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	r->curl = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hs);
	curl_easy_reset(h);
}

json_t *fx_reply_json(const struct reply *r)
{
	json_t *j = json_loadb((const char *)r->body, r->len, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(j);
	return j;
}

const char *fx_error_code(const struct reply *r, char buf[static 64])
{
	json_t *j = json_loadb((const char *)r->body, r->len, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));

	snprintf(buf, 64, "%s", c ? c : "(none)");
	json_decref(j);
	return buf;
}

void fx_get_ok(struct fx *f, const char *path, struct reply *r)
{
	http_get(f->h, f->base, path, r);
	if (r->status != 200)
		fail_msg("GET %s: %ld %s", path, r->status, r->body);
}

void fx_expect_refusal(const struct reply *r, long status, const char *code)
{
	char buf[64];

	if (r->status != status || strcmp(fx_error_code(r, buf), code) != 0)
		fail_msg("want %ld %s, got %ld %s", status, code, r->status, r->body);
}

uint64_t fx_lookup_one(struct fx *f, const char *name)
{
	struct reply r;
	char path[256];
	json_t *j, *rows;
	uint64_t idx;

	snprintf(path, sizeof(path), "/v1/lookup?name=%s", name);
	fx_get_ok(f, path, &r);
	j = fx_reply_json(&r);
	rows = json_object_get(j, "entries");
	if (json_array_size(rows) != 1)
		fail_msg("lookup %s: %s", name, r.body);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
			    name);
	idx = (uint64_t)json_integer_value(json_object_get(json_array_get(rows, 0), "index"));
	json_decref(j);
	reply_free(&r);
	return idx;
}

uint64_t fx_log_size(struct fx *f)
{
	struct reply r;
	json_t *j;
	uint64_t n;

	fx_get_ok(f, "/healthz", &r);
	j = fx_reply_json(&r);
	n = (uint64_t)json_integer_value(json_object_get(j, "size"));
	json_decref(j);
	reply_free(&r);
	return n;
}

int fx_connect(const struct fx *f)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_port = htons(api_server_port(f->srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

size_t fx_tmp_files(const struct fx *f)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/tmp", f->dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* ---- fixture ---- */

void fx_server_start(struct fx *f)
{
	struct l3af_err err = {0};

	f->cfg.listen = "127.0.0.1:0";
	f->cfg.data_dir = f->dir;
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
	if (api_server_start(f->log, &f->cfg, &f->srv, &err) != L3AF_OK)
		fail_msg("api_server_start: %s", err.msg);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", api_server_port(f->srv));
}

void fx_server_stop(struct fx *f)
{
	api_server_stop(f->srv);
	tlog_close(f->log);
	f->srv = NULL;
	f->log = NULL;
}

void fx_setup(struct fx *f, const struct api_config *cfg)
{
	struct l3af_err err = {0};
	struct signer_admin_root root = {.version = 1, .threshold = 1, .nadmins = 1};
	char *entry = NULL;
	size_t len = 0;
	uint64_t idx = 99;

	memset(f, 0, sizeof(*f));
	if (cfg)
		f->cfg = *cfg;
	f->dir = tu_tempdir("submit");
	f->work = tu_tempdir("submit-work");
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &f->admin, &err), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ED25519, &f->acme, &err), L3AF_OK);
	assert_int_equal(signer_privkey_generate(SIGNER_ALG_ECDSA_P256, &f->other, &err), L3AF_OK);
	assert_int_equal(tlog_create(f->dir, FX_ORIGIN, &err), L3AF_OK);
	snprintf(root.origin, sizeof(root.origin), "%s", FX_ORIGIN);
	root.admins[0] = *signer_privkey_pubkey(f->admin);
	assert_int_equal(signer_entry_admin_root(&root, &entry, &len, &err), L3AF_OK);
	assert_int_equal(tlog_open(f->dir, TLOG_OPEN_WRITER, &f->log, &err), L3AF_OK);
	assert_int_equal(tlog_append(f->log, &(struct tlog_entry){(uint8_t *)entry, len}, 1, &idx,
				     &err),
			 L3AF_OK);
	assert_int_equal(idx, 0);
	tlog_close(f->log);
	f->log = NULL;
	l3af_free(entry);
	fx_server_start(f);
	f->h = curl_easy_init();
	assert_non_null(f->h);
}

void fx_teardown(struct fx *f)
{
	struct l3af_err err = {0};

	fx_server_stop(f);
	if (tlog_fsck(f->dir, NULL, NULL, &err) != L3AF_OK)
		fail_msg("tlog_fsck: %s", err.msg);
	curl_easy_cleanup(f->h);
	signer_privkey_free(f->admin);
	signer_privkey_free(f->acme);
	signer_privkey_free(f->other);
	tu_rmtree(f->dir);
	tu_rmtree(f->work);
}

char *fx_admin_request(const struct signer_privkey *key, const char *action,
		       const char *publisher, uint64_t version, const char *ns,
		       const struct signer_privkey *pub)
{
	int64_t now = time(NULL);

	return fx_admin_request_at(key, action, publisher, version, ns, pub, now - 5, now + 300);
}

char *fx_admin_request_at(const struct signer_privkey *key, const char *action,
			  const char *publisher, uint64_t version, const char *ns,
			  const struct signer_privkey *pub, int64_t not_before, int64_t not_after)
{
	struct signer_admin_request req = {0};
	struct l3af_err err = {0};
	char *payload = NULL, *env = NULL;
	FILE *rnd = fopen("/dev/urandom", "rb");

	assert_non_null(rnd);
	assert_int_equal(fread(req.nonce, 1, 16, rnd), 16);
	fclose(rnd);
	snprintf(req.action, sizeof(req.action), "%s", action);
	snprintf(req.origin, sizeof(req.origin), "%s", FX_ORIGIN);
	req.not_before = not_before;
	req.not_after = not_after;
	snprintf(req.params.publisher, sizeof(req.params.publisher), "%s", publisher);
	req.params.version = version;
	req.params.nnamespaces = 1;
	snprintf(req.params.namespaces[0], sizeof(req.params.namespaces[0]), "%s", ns);
	req.params.threshold = 1;
	req.params.nkeys = 1;
	req.params.keys[0] = *signer_privkey_pubkey(pub);
	assert_int_equal(signer_admin_request_build(&req, &payload, &err), L3AF_OK);
	assert_int_equal(signer_dsse_sign(key, SIGNER_ADMIN_PAYLOAD_TYPE, (const uint8_t *)payload,
					  strlen(payload), &env, &err),
			 L3AF_OK);
	l3af_free(payload);
	return env;
}

uint64_t fx_register(struct fx *f, const char *id, const char *ns,
		     const struct signer_privkey *pub)
{
	char *env = fx_admin_request(f->admin, "publisher.register", id, 1, ns, pub);
	struct reply r;
	json_t *j;
	uint64_t idx;

	fx_post_json(f->h, f->base, "/v1/admin", env, "application/json", &r);
	if (r.status != 200)
		fail_msg("register %s: %ld %s", id, r.status, r.body);
	j = fx_reply_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "publisher")), id);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	idx = (uint64_t)json_integer_value(json_object_get(j, "index"));
	json_decref(j);
	reply_free(&r);
	l3af_free(env);
	return idx;
}
