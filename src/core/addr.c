/*
 * Address classes, CIDR blocks and connect_to rules (addr.h).  The
 * ranges are IANA's special-purpose registries (RFC 6890 and its
 * updates): what is not on them, or is on them as globally reachable, is
 * public.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* An IPv4 range: network in host order, prefix length, class. */
static const struct addr_range4 {
	uint32_t	 net;
	unsigned	 bits;
	enum addr_class	 cls;
} addr_ranges4[] = {
	{ 0x00000000, 8, ADDR_UNSPECIFIED },	/* 0/8: Linux takes 0.0.0.0 as itself */
	{ 0x0a000000, 8, ADDR_PRIVATE },
	{ 0x64400000, 10, ADDR_CGNAT },
	{ 0x7f000000, 8, ADDR_LOOPBACK },
	{ 0xa9fe0000, 16, ADDR_LINKLOCAL },
	{ 0xac100000, 12, ADDR_PRIVATE },
	{ 0xc0000000, 24, ADDR_RESERVED },	/* IETF protocol assignments */
	{ 0xc0000200, 24, ADDR_DOCUMENTATION },
	{ 0xc0a80000, 16, ADDR_PRIVATE },
	{ 0xc6120000, 15, ADDR_RESERVED },	/* benchmarking */
	{ 0xc6336400, 24, ADDR_DOCUMENTATION },
	{ 0xcb007100, 24, ADDR_DOCUMENTATION },
	{ 0xe0000000, 4, ADDR_MULTICAST },
	{ 0xffffffff, 32, ADDR_BROADCAST },	/* before 240/4, which holds it */
	{ 0xf0000000, 4, ADDR_RESERVED },
};

/* An IPv6 range: its first bytes, prefix length, class. */
static const struct addr_range6 {
	uint8_t		 net[6];
	unsigned	 bits;
	enum addr_class	 cls;
} addr_ranges6[] = {
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, ADDR_PRIVATE }, /* NAT64 */
	{ { 0x20, 0x01, 0x00, 0x02 }, 48, ADDR_RESERVED },  /* benchmarking */
	{ { 0x20, 0x01, 0x00, 0x10 }, 28, ADDR_RESERVED },  /* ORCHID */
	{ { 0x20, 0x01, 0x00, 0x20 }, 28, ADDR_RESERVED },  /* ORCHIDv2 */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, ADDR_DOCUMENTATION },
	{ { 0x3f, 0xff, 0x00, 0x00 }, 20, ADDR_DOCUMENTATION },
	{ { 0xfc, 0x00, 0x00, 0x00 }, 7, ADDR_PRIVATE },
	{ { 0xfe, 0x80, 0x00, 0x00 }, 10, ADDR_LINKLOCAL },
	{ { 0xfe, 0xc0, 0x00, 0x00 }, 10, ADDR_PRIVATE },   /* site-local */
	{ { 0xff, 0x00, 0x00, 0x00 }, 8, ADDR_MULTICAST },
};

static const char *const addr_class_names[] = {
	[ADDR_PUBLIC] = NULL,
	[ADDR_UNSPECIFIED] = "unspecified",
	[ADDR_LOOPBACK] = "loopback",
	[ADDR_PRIVATE] = "private",
	[ADDR_LINKLOCAL] = "link-local",
	[ADDR_CGNAT] = "cgnat",
	[ADDR_MULTICAST] = "multicast",
	[ADDR_BROADCAST] = "broadcast",
	[ADDR_DOCUMENTATION] = "documentation",
	[ADDR_RESERVED] = "reserved",
};

const char *
addr_class_name(enum addr_class c)
{
	if ((size_t)c >= sizeof(addr_class_names) / sizeof(addr_class_names[0]))
		return "reserved";
	return addr_class_names[c];
}

/* The class of an IPv4 address in network order. */
static enum addr_class
addr_class4(const uint8_t *b)
{
	uint32_t	a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
			    (uint32_t)b[2] << 8 | b[3];
	size_t		i;

	for (i = 0; i < sizeof(addr_ranges4) / sizeof(addr_ranges4[0]); i++)
		if (((a ^ addr_ranges4[i].net) >>
		    (32 - addr_ranges4[i].bits)) == 0)
			return addr_ranges4[i].cls;
	return ADDR_PUBLIC;
}

/* Whether the first bits of a and b (bytes) are the same. */
static int
addr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static enum addr_class
addr_class6(const uint8_t *b)
{
	static const uint8_t	zero[16], mapped[12] = { [10] = 0xff,
				    [11] = 0xff }, nat64[12] = { 0x00, 0x64,
				    0xff, 0x9b };
	uint8_t			net[16];
	size_t			i;

	if (memcmp(b, zero, 15) == 0)
		return b[15] == 0 ? ADDR_UNSPECIFIED : b[15] == 1 ?
		    ADDR_LOOPBACK : ADDR_RESERVED;
	/* IPv4 that a host or relay on the way delivers as IPv4. */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return addr_class4(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02)
		return addr_class4(b + 2);
	for (i = 0; i < sizeof(addr_ranges6) / sizeof(addr_ranges6[0]); i++) {
		memset(net, 0, sizeof(net));
		memcpy(net, addr_ranges6[i].net, sizeof(addr_ranges6[i].net));
		if (addr_prefix_eq(b, net, addr_ranges6[i].bits))
			return addr_ranges6[i].cls;
	}
	/* Only 2000::/3 is global unicast; the rest is unallocated. */
	return (b[0] & 0xe0) == 0x20 ? ADDR_PUBLIC : ADDR_RESERVED;
}

enum addr_class
addr_class(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return addr_class4((const uint8_t *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return addr_class6(((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr.s6_addr);
	return ADDR_RESERVED;
}

/* Fills ss with an address of family af from the bytes at a. */
static socklen_t
addr_fill(struct sockaddr_storage *ss, int af, const void *a)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, a, 16);
	return sizeof(*sin6);
}

socklen_t
addr_parse(const char *s, struct sockaddr_storage *ss)
{
	char		 buf[64], *zone;
	size_t		 len;
	uint8_t		 bin[16];
	int		 bracket = 0;

	len = strlen(s);
	if (len > 0 && s[0] == '[') {
		if (len < 2 || s[len - 1] != ']')
			return 0;
		bracket = 1;
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!bracket && inet_pton(AF_INET, buf, bin) == 1)
		return addr_fill(ss, AF_INET, bin);
	/* A zone names the interface, not the address: "fe80::1%eth0". */
	if ((zone = strchr(buf, '%')) != NULL && zone[1] != '\0')
		*zone = '\0';
	if (inet_pton(AF_INET6, buf, bin) == 1)
		return addr_fill(ss, AF_INET6, bin);
	return 0;
}

socklen_t
addr_parse_loose(const char *s, struct sockaddr_storage *ss)
{
	struct in_addr	 in;
	socklen_t	 len;
	const char	*p;

	if ((len = addr_parse(s, ss)) != 0)
		return len;
	/* inet_aton() stops at a blank: such a string is no literal. */
	for (p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p))
			return 0;
	if (*s == '\0' || inet_aton(s, &in) == 0)
		return 0;
	return addr_fill(ss, AF_INET, &in);
}

int
addr_is_private(const char *host)
{
	struct sockaddr_storage	ss;

	if (host == NULL || addr_parse_loose(host, &ss) == 0)
		return 0;
	switch (addr_class((struct sockaddr *)&ss)) {
	case ADDR_UNSPECIFIED:
	case ADDR_LOOPBACK:
	case ADDR_PRIVATE:
	case ADDR_LINKLOCAL:
	case ADDR_CGNAT:
		return 1;
	default:
		return 0;
	}
}

socklen_t
addr_unmap(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	static const uint8_t		 mapped[12] = { [10] = 0xff,
					    [11] = 0xff };
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	struct sockaddr_in		*sin = (struct sockaddr_in *)(void *)out;

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET6 &&
	    memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
		sin->sin_family = AF_INET;
		sin->sin_port = sin6->sin6_port;
		memcpy(&sin->sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
		return sizeof(*sin);
	}
	if (sa->sa_family == AF_INET) {
		memcpy(out, sa, sizeof(struct sockaddr_in));
		return sizeof(struct sockaddr_in);
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, sa, sizeof(struct sockaddr_in6));
		return sizeof(struct sockaddr_in6);
	}
	out->ss_family = sa->sa_family;
	return 0;
}

int
addr_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	const void		*a;

	if (len > 0)
		buf[0] = '\0';
	if (addr_unmap(sa, &ss) == 0)
		return -1;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)(void *)&ss)->sin_addr;
	else
		a = &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
	return inet_ntop(ss.ss_family, a, buf, (socklen_t)len) != NULL ? 0 : -1;
}

/* The address bytes of sa, IPv4-mapped made IPv4; its family or 0. */
static int
addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	struct sockaddr_storage	ss;

	if (addr_unmap(sa, &ss) == 0)
		return 0;
	if (ss.ss_family == AF_INET)
		memcpy(out, &((struct sockaddr_in *)(void *)&ss)->sin_addr, 4);
	else
		memcpy(out, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr,
		    16);
	return ss.ss_family;
}

int
addr_cidr_parse(const char *s, struct addr_cidr *c, char *why, size_t whylen)
{
	struct sockaddr_storage	 ss;
	struct addr_cidr	 net;
	const char		*slash;
	char			 a[64], *end, show[96];
	unsigned long		 bits;
	unsigned		 max, i;

	memset(c, 0, sizeof(*c));
	slash = strchr(s, '/');
	snprintf(a, sizeof(a), "%.*s", slash != NULL ? (int)(slash - s) :
	    (int)strlen(s), s);
	if ((slash != NULL && (size_t)(slash - s) >= sizeof(a)) ||
	    addr_parse(a, &ss) == 0 || strchr(a, '%') != NULL) {
		snprintf(why, whylen, "expected an address or a block such as "
		    "10.0.0.0/8 or fd00::/8");
		return -1;
	}
	c->family = addr_bytes((struct sockaddr *)&ss, c->addr);
	max = ss.ss_family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1]) ||
		    (bits = strtoul(slash + 1, &end, 10)) > max ||
		    *end != '\0') {
			snprintf(why, whylen, "the prefix length must be 0 to "
			    "%u", max);
			return -1;
		}
	}
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8: addr_bytes() unmapped it. */
	if (c->family == AF_INET && ss.ss_family == AF_INET6) {
		if (bits < 96) {
			snprintf(why, whylen, "an IPv4-mapped block needs a "
			    "prefix of 96 or more");
			return -1;
		}
		bits -= 96;
		max = 32;
	}
	c->bits = (unsigned)bits;
	net = *c;
	for (i = c->bits; i < max; i++)
		net.addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	if (memcmp(net.addr, c->addr, sizeof(c->addr)) != 0) {
		addr_cidr_format(&net, show, sizeof(show));
		snprintf(why, whylen, "host bits set: did you mean %s?", show);
		return -1;
	}
	return 0;
}

int
addr_cidr_match(const struct addr_cidr *c, const struct sockaddr *sa)
{
	uint8_t	b[16];

	return addr_bytes(sa, b) == c->family &&
	    addr_prefix_eq(b, c->addr, c->bits);
}

void
addr_cidr_format(const struct addr_cidr *c, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->bits);
}

/*
 * Reads one host field of a rule at *p (up to end): "[v6]", or a name or
 * IPv4 literal up to the next ':'.  Copies it, without brackets, into
 * out; *p is left on the ':' after it or at end.
 */
static const char *
addr_rule_host(const char **p, const char *end, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	const char		*s = *p, *e;
	size_t			 n;
	int			 bracket = 0;

	if (s < end && *s == '[') {
		if ((e = memchr(s, ']', (size_t)(end - s))) == NULL)
			return "an IPv6 address lacks its closing ']'";
		bracket = 1;
		s++;
		*p = e + 1;
		if (*p < end && **p != ':')
			return "expected ':' after ']'";
	} else {
		if ((e = memchr(s, ':', (size_t)(end - s))) == NULL)
			e = end;
		*p = e;
	}
	n = (size_t)(e - s);
	if (n >= outlen)
		return "host name too long";
	if (memchr(s, '\0', n) != NULL)
		return "a host holds no NUL byte";
	memcpy(out, s, n);
	out[n] = '\0';
	if (bracket)
		return addr_parse(out, &ss) == 0 ||
		    ss.ss_family != AF_INET6 ? "not an IPv6 address in "
		    "brackets" : NULL;
	for (; s < e; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_')
			return "a host holds only letters, digits, '.', '-' "
			    "and '_' (an IPv6 address stands in brackets)";
	return NULL;
}

/* Reads a port field (empty: 0) of a rule up to the next ':' or end. */
static const char *
addr_rule_port(const char **p, const char *end, uint16_t *port)
{
	const char	*s = *p;
	unsigned long	 v = 0;

	*port = 0;
	for (; *p < end && **p != ':'; (*p)++) {
		if (!isdigit((unsigned char)**p))
			return "a port is a number from 1 to 65535";
		v = v * 10 + (unsigned long)(**p - '0');
		if (v > 65535)
			return "a port is a number from 1 to 65535";
	}
	if (*p > s && v == 0)
		return "a port is a number from 1 to 65535";
	*port = (uint16_t)v;
	return NULL;
}

const char *
addr_rule_parse(const char *s, size_t len, struct addr_rule *r)
{
	struct sockaddr_storage	 ss;
	const char		*p = s, *end = s + len, *why;

	memset(r, 0, sizeof(*r));
	if ((why = addr_rule_host(&p, end, r->host, sizeof(r->host))) != NULL)
		return why;
	if (p == end || *p++ != ':')
		return "expected HOST:PORT:TO_HOST:TO_PORT";
	if ((why = addr_rule_port(&p, end, &r->port)) != NULL)
		return why;
	if (p == end || *p++ != ':')
		return "expected HOST:PORT:TO_HOST:TO_PORT";
	/* TO_HOST: the sensor connects to it without resolving a name. */
	if (addr_rule_host(&p, end, r->to_host, sizeof(r->to_host)) != NULL ||
	    (r->to_host[0] != '\0' && addr_parse(r->to_host, &ss) == 0))
		return "TO_HOST must be an IPv4 or IPv6 address (IPv6 in "
		    "brackets)";
	if (p < end) {
		p++;
		if ((why = addr_rule_port(&p, end, &r->to_port)) != NULL)
			return why;
		if (p != end)
			return "expected HOST:PORT:TO_HOST:TO_PORT";
	}
	if (r->host[0] == '\0' && r->to_host[0] == '\0')
		return "a rule for any HOST must give a TO_HOST, else it lets "
		    "every host through the egress policy";
	return NULL;
}

int
addr_rule_match(const struct addr_rule *r, const char *host, uint16_t port)
{
	struct sockaddr_storage	 a, b;
	char			 h[ADDR_HOST_MAX];
	size_t			 len;

	if (r->port != 0 && r->port != port)
		return 0;
	if (r->host[0] == '\0')
		return 1;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= sizeof(h))
		return 0;
	memcpy(h, host, len);
	h[len] = '\0';
	/* Addresses as addresses: "::FFFF:0:1" is "::ffff:0.0.0.1". */
	if (addr_parse(h, &a) != 0 && addr_parse(r->host, &b) != 0) {
		if (a.ss_family != b.ss_family)
			return 0;
		if (a.ss_family == AF_INET)
			return memcmp(&((struct sockaddr_in *)(void *)&a)->
			    sin_addr, &((struct sockaddr_in *)(void *)&b)->
			    sin_addr, 4) == 0;
		return memcmp(&((struct sockaddr_in6 *)(void *)&a)->sin6_addr,
		    &((struct sockaddr_in6 *)(void *)&b)->sin6_addr, 16) == 0;
	}
	return strcasecmp(h, r->host) == 0;
}

void
addr_rule_format(const struct addr_rule *r, char *buf, size_t len)
{
	char	port[8] = "", to_port[8] = "";

	if (r->port != 0)
		snprintf(port, sizeof(port), "%u", r->port);
	if (r->to_port != 0)
		snprintf(to_port, sizeof(to_port), "%u", r->to_port);
	snprintf(buf, len, "%s%s%s:%s:%s%s%s:%s",
	    strchr(r->host, ':') != NULL ? "[" : "", r->host,
	    strchr(r->host, ':') != NULL ? "]" : "", port,
	    strchr(r->to_host, ':') != NULL ? "[" : "", r->to_host,
	    strchr(r->to_host, ':') != NULL ? "]" : "", to_port);
}
