/*
 * listen.c - listen addresses of the HTTP server (moved from server.c):
 * "HOST:PORT" or "[V6]:PORT", the port canonical decimal 0..65535, the host
 * resolved with getaddrinfo (AI_PASSIVE; numeric for IPv6).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define HOST_MAX 256                 /* host part of a listen address */

/* Split "HOST:PORT" / "[V6]:PORT" into host and a canonical port number. */
static enum l3af_status listen_split(const char *text, char host[static HOST_MAX],
				     bool *v6, uint64_t *port, struct l3af_err *err)
{
	const char *colon = strrchr(text, ':');
	const char *h = text, *h_end = colon;
	size_t hlen;

	if (!colon)
		return l3af_fail(err, L3AF_E_INVALID, "listen address '%s': want HOST:PORT", text);
	*v6 = text[0] == '[';
	if (*v6) {
		h = text + 1;
		h_end = colon - 1;
		if (h_end < h || *h_end != ']')
			return l3af_fail(err, L3AF_E_INVALID,
					 "listen address '%s': want [IPV6]:PORT", text);
	}
	hlen = (size_t)(h_end - h);
	if (hlen == 0 || hlen >= HOST_MAX)
		return l3af_fail(err, L3AF_E_INVALID, "listen address '%s': empty or long host",
				 text);
	if (!*v6 && memchr(h, ':', hlen))
		return l3af_fail(err, L3AF_E_INVALID,
				 "listen address '%s': write an IPv6 host in [brackets]", text);
	if (l3af_parse_u64(colon + 1, strlen(colon + 1), 65535, port) != L3AF_OK)
		return l3af_fail(err, L3AF_E_INVALID,
				 "listen address '%s': port must be 0..65535 without leading zeros",
				 text);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return L3AF_OK;
}

/* getaddrinfo answers that mean "no such host/address", not "could not ask". */
static bool gai_is_bad_input(int gai)
{
	return gai == EAI_NONAME || gai == EAI_FAMILY || gai == EAI_ADDRFAMILY ||
	       gai == EAI_NODATA;
}

enum l3af_status api_listen_resolve(const char *text, struct sockaddr_storage *addr,
				       uint16_t *port_out, struct l3af_err *err)
{
	char host[HOST_MAX], service[8];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	uint64_t port = 0;
	bool v6 = false;
	int gai;
	enum l3af_status rc = listen_split(text, host, &v6, &port, err);

	if (rc != L3AF_OK)
		return rc;
	if (v6) {
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	}
	*port_out = (uint16_t)port;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0)
		return l3af_fail(err, gai_is_bad_input(gai) ? L3AF_E_INVALID : L3AF_E_IO,
				 "listen address '%s': %s", text,
				 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
	if (res->ai_addrlen > sizeof(*addr))
		rc = l3af_fail(err, L3AF_E_INTERNAL, "listen address '%s': address too long", text);
	else
		memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return rc;
}

enum l3af_status api_listen_check(const char *listen, struct l3af_err *err)
{
	char host[HOST_MAX];
	uint64_t port;
	bool v6;

	return listen_split(listen, host, &v6, &port, err);
}
