/*
 * post.c - request bodies of the write routes: header checks before any
 * body byte is read (411, 413, 415, 503), the admin JSON body in memory,
 * and the multipart/form-data of /v1/submit through libmicrohttpd's post
 * processor: part "envelope" in memory (at most 1 MiB), part "artifact"
 * in memory up to API_ARTIFACT_MEM_MAX bytes (the common, small package:
 * no file to create), beyond that streamed into an unnamed O_TMPFILE under
 * DIR/tmp (at most max_artifact_bytes; it disappears with its descriptor).
 *
 * Resources: at most max_uploads submissions are in progress at once
 * (503 busy with Retry-After beyond, from the headers); an upload that
 * spills to DIR/tmp first reserves its remaining Content-Length from
 * max_spool_bytes (503 busy if the uploads in progress hold too much). The
 * envelope part comes first in a well-formed submission: it is
 * authenticated (api_submit_auth) when the artifact part starts, and a
 * refusal then keeps no artifact byte (the rest of the body is discarded).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PP_BUFFER 65536

enum post_kind { POST_SUBMIT, POST_ADMIN };

struct api_post {
	enum post_kind kind;
	struct api_server *s;
	struct MHD_PostProcessor *pp;
	/* the first refusal found while reading (answered at the end) */
	unsigned status;
	const char *code;
	char msg[256];
	/* envelope part, or the admin body */
	char *body;
	size_t body_len;
	bool have_env;
	/* artifact part: in art_mem, or in the file fd once over
	 * API_ARTIFACT_MEM_MAX */
	uint8_t *art_mem;
	size_t art_cap;
	int fd;
	bool have_art;
	uint64_t art_size;
	char art_name[SIGNER_SUBJECT_NAME_MAX + 1];
	const char *cur; /* the part being received: "envelope", "artifact", NULL */
	bool counted;       /* holds one of w->uploads */
	uint64_t length;    /* Content-Length */
	uint64_t reserved;  /* bytes of w->spooled it holds */
	bool refused_early; /* u.early is the answer */
	struct api_admission u;
};

static void post_refuse(struct api_post *p, unsigned status, const char *code, const char *msg)
{
	if (p->status)
		return;
	p->status = status;
	p->code = code;
	snprintf(p->msg, sizeof(p->msg), "%s", msg);
}

void api_post_free(struct api_post *p)
{
	if (!p)
		return;
	if (p->pp)
		MHD_destroy_post_processor(p->pp);
	if (p->fd >= 0)
		close(p->fd);
	if (p->reserved)
		atomic_fetch_sub(&p->s->w->spooled, p->reserved);
	if (p->counted)
		atomic_fetch_sub(&p->s->w->uploads, 1);
	api_admission_clear(&p->u);
	l3af_free(p->art_mem);
	l3af_free(p->body);
	l3af_free(p);
}

static bool append_body(struct api_post *p, const char *data, size_t n)
{
	char *nb;

	if (n > API_ENVELOPE_MAX - p->body_len) {
		post_refuse(p, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			    "the envelope is over 1 MiB");
		return false;
	}
	nb = l3af_realloc(p->body, p->body_len + n + 1);
	if (!nb) {
		post_refuse(p, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", "out of memory");
		return false;
	}
	memcpy(nb + p->body_len, data, n);
	p->body = nb;
	p->body_len += n;
	p->body[p->body_len] = '\0';
	return true;
}

static bool write_all(int fd, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, data, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		data += k;
		n -= (size_t)k;
	}
	return true;
}

static bool artifact_start(struct api_post *p, const char *filename)
{
	if (!filename || !filename[0] || strlen(filename) > SIGNER_SUBJECT_NAME_MAX ||
	    strchr(filename, '/')) {
		post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "part artifact needs a file name (the artifact name, no '/')");
		return false;
	}
	snprintf(p->art_name, sizeof(p->art_name), "%s", filename);
	return true;
}

/* The artifact outgrew memory: move it to an unnamed temporary file. */
static bool artifact_spill(struct api_post *p)
{
	struct api_write *w = p->s->w;
	uint64_t want = p->length, held = atomic_load(&w->spooled);

	/* reserve what is left of the body: the file never grows beyond it */
	do {
		if (want > w->max_spool || held > w->max_spool - want) {
			api_diag(p->s, "submit: spool limit: %llu bytes spooled, %llu more asked",
				 (unsigned long long)held, (unsigned long long)want);
			post_refuse(p, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				    "too many large uploads in progress; retry later");
			return false;
		}
	} while (!atomic_compare_exchange_weak(&w->spooled, &held, held + want));
	p->reserved = want;
	p->fd = open(w->tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		api_diag(p->s, "submit: O_TMPFILE in %s: %s", w->tmp, strerror(errno));
		post_refuse(p, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			    "internal error; the operator has the details");
		return false;
	}
	if (!write_all(p->fd, (const char *)p->art_mem, p->art_size)) {
		api_diag(p->s, "submit: write to temporary file: %s", strerror(errno));
		post_refuse(p, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			    "the server is short of space; retry later");
		return false;
	}
	l3af_free(p->art_mem);
	p->art_mem = NULL;
	p->art_cap = 0;
	return true;
}

/* Append a chunk of the artifact (size checked by the caller). */
static void artifact_add(struct api_post *p, const char *data, size_t size)
{
	if (p->fd < 0 && p->art_size + size <= API_ARTIFACT_MEM_MAX) {
		if (p->art_size + size > p->art_cap) {
			size_t cap = p->art_cap ? p->art_cap : 4096;
			uint8_t *n;
			while (cap < p->art_size + size)
				cap *= 2;
			n = l3af_realloc(p->art_mem, cap);
			if (!n) {
				post_refuse(p, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
					    "out of memory");
				return;
			}
			p->art_mem = n;
			p->art_cap = cap;
		}
		memcpy(p->art_mem + p->art_size, data, size);
		p->art_size += size;
		return;
	}
	if (p->fd < 0 && !artifact_spill(p))
		return;
	if (!write_all(p->fd, data, size)) {
		api_diag(p->s, "submit: write to temporary file: %s", strerror(errno));
		post_refuse(p, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
			    "the server is short of space; retry later");
		return;
	}
	p->art_size += size;
}

/* MHD's post processor: called for each chunk of each part. */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *filename, const char *content_type,
			       const char *transfer_encoding, const char *data, uint64_t off,
			       size_t size)
{
	struct api_post *p = cls;

	if (p->status)
		return MHD_YES; /* keep reading, answer at the end */
	if (off == 0) {
		/* a new part starts */
		if (!strcmp(key, "envelope")) {
			if (p->have_env)
				goto dup;
			p->have_env = true;
			p->cur = "envelope";
		} else if (!strcmp(key, "artifact")) {
			if (p->have_art)
				goto dup;
			if (!p->have_env) {
				/* Authentication needs the envelope: an artifact sent
				 * first would be kept (spooled) unauthenticated. */
				post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request",
					    "the envelope part must come before the artifact part");
				return MHD_YES;
			}
			p->have_art = true;
			p->cur = "artifact";
			if (!artifact_start(p, filename))
				return MHD_YES;
			if (!api_submit_auth(p->s, &p->u, p->body ? p->body : "", p->body_len,
					     p->art_name)) {
				/* refused before any artifact byte is kept */
				post_refuse(p, p->u.early.status, p->u.early.code, "");
				p->refused_early = true;
				return MHD_YES;
			}
		} else {
			post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request",
				    "unknown part (want envelope and artifact)");
			return MHD_YES;
		}
	}
	if (!p->cur || strcmp(p->cur, key) != 0) {
		post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request", "malformed multipart body");
		return MHD_YES;
	}
	if (!strcmp(key, "envelope")) {
		append_body(p, data, size);
		return MHD_YES;
	}
	if (size > p->s->w->max_artifact - p->art_size) {
		post_refuse(p, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			    "the artifact is over the server's limit");
		return MHD_YES;
	}
	artifact_add(p, data, size);
	return MHD_YES;
dup:
	post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request", "a part appears twice");
	return MHD_YES;
}

/* Does the Content-Type header have media type `want` (parameters allowed)? */
static bool media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	return ctype && strncasecmp(ctype, want, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

enum MHD_Result api_post_begin(struct api_server *s, struct MHD_Connection *c, const char *url,
			       struct api_post **post)
{
	struct api_write *w = s->w;
	bool submit = !strcmp(url, "/v1/submit");
	const char *len_text = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_TYPE);
	uint64_t len = 0, cap = submit ? w->max_artifact + API_ENVELOPE_MAX + API_MULTIPART_SLACK
				       : API_ENVELOPE_MAX;
	struct api_post *p;

	if (!len_text || MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return api_refuse(s, c, MHD_HTTP_LENGTH_REQUIRED, "length_required",
				  "a POST needs a Content-Length", NULL);
	if (l3af_parse_u64(len_text, strlen(len_text), UINT64_MAX, &len) != L3AF_OK)
		return api_refuse(s, c, MHD_HTTP_BAD_REQUEST, "bad_request",
				  "malformed Content-Length", NULL);
	if (len > cap)
		return api_refuse(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				  submit ? "the request is over the server's artifact limit"
					 : "an admin request is at most 1 MiB",
				  NULL);
	if (!media_type_is(ctype, submit ? "multipart/form-data" : "application/json"))
		return api_refuse(s, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
				  submit ? "POST /v1/submit takes multipart/form-data"
					 : "POST /v1/admin takes application/json",
				  NULL);
	if (!w->has_root)
		return api_refuse(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "no_admin_root",
				  "no admin root: the log has no admin.root entry 0", NULL);
	p = l3af_calloc(1, sizeof(*p));
	if (!p)
		return api_send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				      "out of memory", NULL);
	p->kind = submit ? POST_SUBMIT : POST_ADMIN;
	p->s = s;
	p->fd = -1;
	p->length = len;
	if (submit && atomic_fetch_add(&w->uploads, 1) >= w->max_uploads) {
		atomic_fetch_sub(&w->uploads, 1);
		l3af_free(p);
		return api_refuse_busy(s, c, "too many submissions in progress; retry later");
	}
	p->counted = submit;
	if (submit) {
		p->pp = MHD_create_post_processor(c, PP_BUFFER, on_part, p);
		if (!p->pp) {
			api_post_free(p);
			return api_refuse(s, c, MHD_HTTP_BAD_REQUEST, "bad_request",
					  "malformed multipart/form-data header (boundary?)", NULL);
		}
	}
	*post = p;
	return MHD_YES;
}

enum MHD_Result api_post_data(struct api_server *s, struct api_post *p, const char *data,
			      size_t *size)
{
	if (p->kind == POST_ADMIN) {
		if (!p->status)
			append_body(p, data, *size);
	} else if (!p->status && MHD_post_process(p->pp, data, *size) != MHD_YES) {
		post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request", "malformed multipart body");
	}
	*size = 0;
	return MHD_YES;
}

enum MHD_Result api_post_finish(struct api_server *s, struct MHD_Connection *c,
				struct api_post *p)
{
	if (p->kind == POST_SUBMIT && !p->status && p->pp) {
		/* MHD_destroy_post_processor flushes the last part and reports a
		 * body that ended inside a part. */
		if (MHD_destroy_post_processor(p->pp) != MHD_YES)
			post_refuse(p, MHD_HTTP_BAD_REQUEST, "bad_request",
				    "malformed multipart body");
		p->pp = NULL;
	}
	if (p->refused_early && !strcmp(p->u.early.code, "busy"))
		return api_refuse_busy(s, c, p->u.early.err.msg);
	if (p->refused_early)
		return api_refuse(s, c, p->status, p->code, p->u.early.err.msg, NULL);
	if (p->status && !strcmp(p->code, "busy"))
		return api_refuse_busy(s, c, p->msg);
	if (p->status)
		return api_refuse(s, c, p->status, p->code, p->msg, NULL);
	if (p->kind == POST_ADMIN)
		return api_admin_finish(s, c, p->body ? p->body : "", p->body_len);
	if (!p->have_env || !p->have_art)
		return api_refuse(s, c, MHD_HTTP_BAD_REQUEST, "bad_request",
				  "a submission needs the parts envelope and artifact", NULL);
	return api_submit_finish(s, c, &p->u, p->body ? p->body : "", p->body_len,
				 p->fd < 0 ? (p->art_mem ? p->art_mem : (const uint8_t *)"") : NULL,
				 p->fd, p->art_size, p->art_name);
}
