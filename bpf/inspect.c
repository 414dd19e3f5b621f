/*
 * inspect.c - the facts a repository judges, read from one BPF ELF object
 * without loading it (docs/policy-format.md, "Inspection"): the public entry
 * ebpf_inspect, which runs the steps in order, and the facts read through
 * libbpf (maps, licence). The steps live in elf_check.c (structure),
 * btf_check.c (.BTF, .BTF.ext CO-RE), inspect_progs.c (programs) and
 * inspect_calls.c (what subprograms add to each program).
 *
 * Security property: the bytes are untrusted. Every structural fact libbpf
 * relies on (class, byte order, e_machine, section bounds, program section
 * sizes, symbol and relocation indices) is checked with libelf (elf_check.c)
 * before the object reaches bpf_object__open_mem, and all our own parsing (the
 * .BTF.ext CO-RE records, relocations, the licence) is bounds-checked. Work
 * is bounded by EBPF_MAX_OBJECT_BYTES and EBPF_MAX_INSNS; lookups per
 * relocation or CO-RE record are binary searches, so no input is quadratic.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#define EBPF_INTERNAL_INSPECT
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ebpf.h"
#include "ebpf_internal.h"

/* ---- libbpf's messages -------------------------------------------------- */

/* libbpf prints through one process-wide callback. Ours drops everything
 * but keeps the last warning of the calling thread, for error texts. */
_Thread_local char ebpf_libbpf_last[256];
static pthread_once_t libbpf_print_once = PTHREAD_ONCE_INIT;

__attribute__((format(printf, 2, 0)))
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	size_t n;

	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(ebpf_libbpf_last, sizeof(ebpf_libbpf_last), fmt, ap);
	n = strlen(ebpf_libbpf_last);
	while (n > 0 && (ebpf_libbpf_last[n - 1] == '\n' || ebpf_libbpf_last[n - 1] == ' '))
		ebpf_libbpf_last[--n] = '\0';
	return 0;
}

static void libbpf_print_install(void)
{
	libbpf_set_print(libbpf_quiet);
	elf_version(EV_CURRENT);
}

/* ---- strings -------------------------------------------------------------- */

char *ebpf_dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = l3af_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Names end up in JSON and in messages: printable ASCII only. */
bool ebpf_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= max || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return n > 0;
}

/* ---- maps, licence -------------------------------------------------------- */

static enum l3af_status fill_map(struct inspect *in, const struct bpf_map *map,
				 struct ebpf_map *m, struct l3af_err *err)
{
	const char *name = bpf_map__name(map);
	const char *type = libbpf_bpf_map_type_str(bpf_map__type(map));

	if (!name || !ebpf_text_ok(name, 255))
		return l3af_fail(err, L3AF_E_INVALID, "%s: a map name is not printable ASCII",
				 in->file);
	m->name = ebpf_dup_str(name);
	if (!m->name)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	m->type = type ? type : "unknown";
	m->key_size = bpf_map__key_size(map);
	m->value_size = bpf_map__value_size(map);
	m->max_entries = bpf_map__max_entries(map);
	/* libbpf sets a pin path at open exactly for LIBBPF_PIN_BY_NAME. */
	m->pinned_by_name = bpf_map__pin_path(map) != NULL;
	m->internal = bpf_map__is_internal(map);
	return L3AF_OK;
}

static enum l3af_status collect_maps(struct inspect *in, struct l3af_err *err)
{
	struct bpf_map *map;
	enum l3af_status rc = L3AF_OK;
	size_t n = 0;

	bpf_object__for_each_map(map, in->bpf)
		n++;
	if (n > EBPF_MAX_MAPS)
		return l3af_fail(err, L3AF_E_LIMIT, "%s: %zu maps, more than %u", in->file, n,
				 EBPF_MAX_MAPS);
	in->obj->maps = l3af_calloc(n ? n : 1, sizeof(*in->obj->maps));
	if (!in->obj->maps)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	bpf_object__for_each_map(map, in->bpf) {
		rc = fill_map(in, map, &in->obj->maps[in->obj->nmaps++], err);
		if (rc != L3AF_OK)
			break;
	}
	return rc;
}

/* The "license" section holds a NUL-terminated string (the kernel reads it
 * up to the NUL). Absent or empty: no licence. */
static enum l3af_status collect_license(struct inspect *in, struct l3af_err *err)
{
	size_t idx = ebpf_find_sec(in, "license");
	Elf_Data *d = idx ? ebpf_sec_data(in, idx) : NULL;
	char text[EBPF_MAX_LICENSE_BYTES + 1];
	size_t n;

	if (!d || !d->d_buf || d->d_size == 0)
		return L3AF_OK;
	n = strnlen(d->d_buf, d->d_size);
	if (n == 0)
		return L3AF_OK;
	if (n > EBPF_MAX_LICENSE_BYTES)
		return l3af_fail(err, L3AF_E_INVALID, "%s: licence string longer than %d bytes",
				 in->file, EBPF_MAX_LICENSE_BYTES);
	memcpy(text, d->d_buf, n);
	text[n] = '\0';
	if (!ebpf_text_ok(text, EBPF_MAX_LICENSE_BYTES))
		return l3af_fail(err, L3AF_E_INVALID, "%s: licence string is not printable ASCII",
				 in->file);
	in->obj->license = ebpf_dup_str(text);
	if (!in->obj->license)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	in->obj->gpl_compatible = ebpf_license_gpl_compatible(text);
	return L3AF_OK;
}

/* ---- open and drive ------------------------------------------------------- */

static enum l3af_status new_object(struct inspect *in, struct l3af_err *err)
{
	json_t *utf8 = json_string(in->file); /* NULL: not UTF-8 (or no memory) */

	if (!utf8)
		return l3af_fail(err, L3AF_E_INVALID, "inspect: file name is not UTF-8");
	json_decref(utf8);
	in->obj = l3af_calloc(1, sizeof(*in->obj));
	if (!in->obj || !(in->obj->file = ebpf_dup_str(in->file)))
		return l3af_fail(err, L3AF_E_NOMEM, "%s: out of memory", in->file);
	return L3AF_OK;
}

/* libbpf names internal maps after the object ("<name>.rodata"); without a
 * name it would use the buffer's address, so always give one. */
static enum l3af_status open_bpf(struct inspect *in, struct l3af_err *err)
{
	const char *base = strrchr(in->file, '/');
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = base ? base + 1 : in->file);
	int e;

	ebpf_libbpf_last[0] = '\0';
	in->bpf = bpf_object__open_mem(in->buf, in->len, &opts);
	e = errno;
	if (in->bpf)
		return L3AF_OK;
	if (e == ENOMEM)
		return l3af_fail(err, L3AF_E_NOMEM, "%s: libbpf: out of memory", in->file);
	return l3af_fail(err, L3AF_E_INVALID, "%s: libbpf refused the object: %s", in->file,
			 ebpf_libbpf_last[0] ? ebpf_libbpf_last : strerror(e));
}

typedef enum l3af_status (*inspect_step)(struct inspect *in, struct l3af_err *err);

/* In order: nothing reaches libbpf before ebpf_elf_check passed. */
static const inspect_step inspect_steps[] = {
	ebpf_elf_check,     ebpf_check_btf,    new_object,   open_bpf,
	ebpf_collect_progs, ebpf_locate_progs, ebpf_collect_kfuncs, ebpf_collect_calls,
	ebpf_collect_core,
	collect_maps,       collect_license,
};

enum l3af_status ebpf_inspect(const uint8_t *elf, size_t len, const char *file_name,
			      struct ebpf_object **out, struct l3af_err *err)
{
	struct inspect in = {.file = file_name ? file_name : "<memory>", .buf = elf, .len = len};
	enum l3af_status rc = L3AF_OK;

	if (!out)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf_inspect: no output");
	*out = NULL;
	if (!elf && len)
		return l3af_fail(err, L3AF_E_INVALID, "ebpf_inspect: no input");
	pthread_once(&libbpf_print_once, libbpf_print_install);
	if (!elf)
		in.buf = (const uint8_t *)"";
	for (size_t i = 0; i < sizeof(inspect_steps) / sizeof(inspect_steps[0]); i++) {
		rc = inspect_steps[i](&in, err);
		if (rc != L3AF_OK)
			goto out;
	}
	*out = in.obj;
	in.obj = NULL;
out:
	ebpf_object_free(in.obj);
	l3af_free(in.ranges);
	bpf_object__close(in.bpf);
	if (in.elf)
		elf_end(in.elf);
	return rc;
}

static void prog_free(struct ebpf_prog *p)
{
	l3af_free(p->name);
	l3af_free(p->section);
	l3af_free(p->helpers);
	for (size_t i = 0; i < p->nkfuncs; i++)
		l3af_free(p->kfuncs[i]);
	l3af_free(p->kfuncs);
}

void ebpf_object_free(struct ebpf_object *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; obj->progs && i < obj->nprogs; i++)
		prog_free(&obj->progs[i]);
	for (size_t i = 0; obj->maps && i < obj->nmaps; i++)
		l3af_free(obj->maps[i].name);
	l3af_free(obj->progs);
	l3af_free(obj->maps);
	l3af_free(obj->license);
	l3af_free(obj->file);
	l3af_free(obj);
}
