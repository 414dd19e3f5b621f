/*
 * make_fixture.c - write a verifier fixture to a directory for the CLI and
 * Go example tests (run_cli.sh): a real log (vfixture), artifacts, bundles
 * and policies, and env.sh naming them. The log is closed on exit, ready
 * for l3af-tlogd to serve.
 *   make_fixture OUTDIR
 */
#include "vfixture.h"

static void put_pkg(struct vfx *f, const char *out, const char *tag, const struct vfx_pkg *p,
		    FILE *env)
{
	char name[64], *b;
	uint64_t times[VFX_NWITNESS];
	int64_t now = l3af_wall_s();

	times[0] = (uint64_t)now - 60;
	times[1] = (uint64_t)now - 30;
	times[2] = 0;
	snprintf(name, sizeof(name), "%s.tar.gz", tag);
	vfx_write(out, name, p->art, p->art_len);
	b = vfx_bundle(f, p->index, times);
	snprintf(name, sizeof(name), "%s.bundle", tag);
	vfx_write(out, name, b, strlen(b));
	free(b);
	fprintf(env, "%s_NAME=%s\n%s_VERSION=%s\n%s_PLATFORM=%s\n%s_FILE=%s\n", tag, p->name, tag,
		p->version, tag, p->platform, tag, p->file);
}

static void run(const char *out)
{
	struct vfx f;
	struct vfx_pkg ok, ok2, helper, exe;
	char path[1024], *pol;
	FILE *env;

	vfx_init(&f);
	vfx_package(&f, &(struct vfx_spec){ .name = NULL }, &ok);
	vfx_package(&f, &(struct vfx_spec){ .name = "acme-probe", .object = "write_user.bpf.o" },
		    &helper);
	/* The same artifact bytes logged again as another version: online mode
	 * must fetch the entry of the version it asks for. */
	vfx_package(&f, &(struct vfx_spec){ .version = "1.0.1", .art = ok.art,
					    .art_len = ok.art_len }, &ok2);
	vfx_package(&f, &(struct vfx_spec){ .name = "acme-exe", .exe = true, .object =
					    "xdp_tail.bpf.o" }, &exe);
	snprintf(path, sizeof(path), "%s/env.sh", out);
	env = fopen(path, "w");
	assert_non_null(env);
	fprintf(env, "LOGDIR=%s\nORIGIN=%s\n", f.logdir, VFX_ORIGIN);
	put_pkg(&f, out, "OK", &ok, env);
	put_pkg(&f, out, "OK2", &ok2, env);
	put_pkg(&f, out, "HELPER", &helper, env);
	put_pkg(&f, out, "EXE", &exe, env);
	fclose(env);
	pol = vfx_policy(&f, "group g 2 w0 w1 w2\nquorum g\n");
	vfx_write(out, "policy", pol, strlen(pol));
	free(pol);
	pol = vfx_policy(&f, "quorum none\n");
	vfx_write(out, "policy-dev", pol, strlen(pol));
	free(pol);
	vfx_write(out, "node.json", "{\"version\":1,\"max_checkpoint_age\":3600}\n", 40);
	vfx_pkg_free(&ok);
	vfx_pkg_free(&ok2);
	vfx_pkg_free(&helper);
	vfx_pkg_free(&exe);
	/* Keep the log on disk (the caller removes OUTDIR's sibling temp dir). */
	vfx_close(&f);
	signer_privkey_free(f.admin);
	signer_privkey_free(f.acme);
	signer_privkey_free(f.beta);
	for (int i = 0; i < VFX_NWITNESS; i++)
		signer_key_free(f.witness[i]);
	free(f.dir);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_fixture OUTDIR\n");
		return 2;
	}
	run(argv[1]);
	return 0;
}
