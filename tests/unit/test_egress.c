/*
 * Unit tests of the egress policy (src/capture/egress.c) and the address
 * classes under it (src/core/addr.c): every class of both families at
 * its edges, download.allow, the connect_to rule syntax and its order,
 * the attacker's address for a private one, real connections on
 * loopback (refused, mapped, bound to download.source_address), and the
 * rate limits: the URL table shared by two processes, per source, per
 * sensor.  Every connection goes to 127.0.0.0/8 or ::1.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "capture.h"
#include "config.h"
#include "egress.h"

static struct config		 conf;
static struct egress_shared	*sh;
static uint32_t			 fake_now = 1000;

static uint32_t
test_clock(void)
{
	return fake_now;
}

/*
 * Loads the defaults and the overrides (NULL-terminated) and starts the
 * policy on them with a fresh shared table.
 */
static void
setup(const char *first, ...)
{
	char		*ov[16], err[512];
	const char	*o;
	va_list		 ap;
	size_t		 n = 0;

	va_start(ap, first);
	for (o = first; o != NULL && n < 16; o = va_arg(ap, const char *))
		ov[n++] = (char *)o;
	va_end(ap);
	config_free(&conf);
	if (config_load(&conf, NULL, ov, n, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	egress_shared_free(sh);
	sh = egress_shared_new(&conf);
	egress_init(&conf, sh);
	fake_now = 1000;
	egress_set_clock(test_clock);
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&conf);
	egress_shared_free(sh);
	sh = NULL;
	egress_set_clock(NULL);
	return 0;
}

/* The class name of a literal, "public" for none, "none" for no literal. */
static const char *
class_of(const char *s)
{
	struct sockaddr_storage	 ss;
	const char		*name;

	if (addr_parse(s, &ss) == 0)
		return "none";
	name = addr_class_name(addr_class((struct sockaddr *)&ss));
	return name != NULL ? name : "public";
}

struct class_case {
	const char	*addr;
	const char	*cls;
};

static void
check_classes(const struct class_case *c, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(class_of(c[i].addr), c[i].cls) != 0)
			fail_msg("%s: got %s, want %s", c[i].addr,
			    class_of(c[i].addr), c[i].cls);
}

/* Each IPv4 range at its first and last address and just outside. */
static void
test_classes_v4(void **state)
{
	static const struct class_case	c[] = {
		{ "0.0.0.0", "unspecified" }, { "0.255.255.255", "unspecified" },
		{ "1.0.0.0", "public" }, { "9.255.255.255", "public" },
		{ "10.0.0.0", "private" }, { "10.255.255.255", "private" },
		{ "11.0.0.0", "public" }, { "100.63.255.255", "public" },
		{ "100.64.0.0", "cgnat" }, { "100.127.255.255", "cgnat" },
		{ "100.128.0.0", "public" }, { "126.255.255.255", "public" },
		{ "127.0.0.0", "loopback" }, { "127.255.255.255", "loopback" },
		{ "128.0.0.0", "public" }, { "169.253.255.255", "public" },
		{ "169.254.0.0", "link-local" },
		{ "169.254.169.254", "link-local" },
		{ "169.254.255.255", "link-local" }, { "169.255.0.0", "public" },
		{ "172.15.255.255", "public" }, { "172.16.0.0", "private" },
		{ "172.31.255.255", "private" }, { "172.32.0.0", "public" },
		{ "191.255.255.255", "public" }, { "192.0.0.0", "reserved" },
		{ "192.0.0.255", "reserved" }, { "192.0.1.0", "public" },
		{ "192.0.2.0", "documentation" },
		{ "192.0.2.255", "documentation" }, { "192.0.3.0", "public" },
		{ "192.167.255.255", "public" }, { "192.168.0.0", "private" },
		{ "192.168.255.255", "private" }, { "192.169.0.0", "public" },
		{ "198.17.255.255", "public" }, { "198.18.0.0", "reserved" },
		{ "198.19.255.255", "reserved" }, { "198.20.0.0", "public" },
		{ "198.51.99.255", "public" }, { "198.51.100.7", "documentation" },
		{ "198.51.101.0", "public" }, { "203.0.112.255", "public" },
		{ "203.0.113.0", "documentation" },
		{ "203.0.113.255", "documentation" }, { "203.0.114.0", "public" },
		{ "223.255.255.255", "public" }, { "224.0.0.0", "multicast" },
		{ "239.255.255.255", "multicast" }, { "240.0.0.0", "reserved" },
		{ "255.255.255.254", "reserved" },
		{ "255.255.255.255", "broadcast" },
		{ "8.8.8.8", "public" }, { "98.114.205.102", "public" },
	};

	(void)state;
	check_classes(c, sizeof(c) / sizeof(c[0]));
}

/* IPv6, and IPv4 inside IPv6 classified as the IPv4 it carries. */
static void
test_classes_v6(void **state)
{
	static const struct class_case	c[] = {
		{ "::", "unspecified" }, { "::1", "loopback" },
		{ "[::1]", "loopback" }, { "::2", "reserved" },
		{ "::10.0.0.1", "reserved" },		/* IPv4-compatible */
		{ "::ffff:127.0.0.1", "loopback" },
		{ "::ffff:10.1.2.3", "private" },
		{ "::ffff:169.254.169.254", "link-local" },
		{ "::ffff:8.8.8.8", "public" },
		{ "::ffff:255.255.255.255", "broadcast" },
		{ "64:ff9b::169.254.169.254", "link-local" },
		{ "64:ff9b::8.8.8.8", "public" },
		{ "64:ff9b:1::1", "private" },
		{ "2002:0a00:0001::1", "private" },	/* 6to4 of 10.0.0.1 */
		{ "2002:7f00:0001::1", "loopback" },
		{ "2002:0808:0808::1", "public" },
		{ "100::1", "reserved" },		/* discard-only */
		{ "1fff:ffff::1", "reserved" }, { "2000::1", "public" },
		{ "2001:2::1", "reserved" }, { "2001:3::1", "public" },
		{ "2001:10::1", "reserved" }, { "2001:20::1", "reserved" },
		{ "2001:db7:ffff::1", "public" },
		{ "2001:db8::1", "documentation" },
		{ "2001:db8:ffff::1", "documentation" },
		{ "2001:db9::1", "public" },
		{ "2001:4860:4860::8888", "public" },
		{ "3ffe::1", "public" }, { "3fff::1", "documentation" },
		{ "3fff:fff::1", "documentation" }, { "3fff:1000::1", "public" },
		{ "4000::1", "reserved" }, { "fbff::1", "reserved" },
		{ "fc00::", "private" }, { "fdff:ffff::1", "private" },
		{ "fe00::1", "reserved" }, { "fe80::1", "link-local" },
		{ "fe80::1%lo", "link-local" }, { "febf::1", "link-local" },
		{ "fec0::1", "private" }, { "ff02::1", "multicast" },
		{ "ff0e::1", "multicast" },
	};

	(void)state;
	check_classes(c, sizeof(c) / sizeof(c[0]));
}

/* What is no literal is not classified as one. */
static void
test_parse(void **state)
{
	static const char *const	bad[] = {
		"", "[]", "[", "[::1", "::1]", "[10.0.0.1]", "10.0.0.1 ",
		" 10.0.0.1", "10.0.0", "10.0.0.1.2", "256.0.0.1", "010.0.0.1",
		"example.com", "1::2::3", "fe80::1%", "::1:", "x",
	};
	struct sockaddr_storage	ss;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (addr_parse(bad[i], &ss) != 0)
			fail_msg("\"%s\" parsed as an address", bad[i]);
	assert_int_equal(addr_parse("10.0.0.1", &ss),
	    sizeof(struct sockaddr_in));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(addr_parse("[2001:db8::1]", &ss),
	    sizeof(struct sockaddr_in6));
	assert_int_equal(ss.ss_family, AF_INET6);
	/* The forms of inet_aton(), as Windows' inet_addr() reads them. */
	assert_int_not_equal(addr_parse_loose("127.1", &ss), 0);
	assert_string_equal(class_of("127.0.0.1"), "loopback");
	assert_int_equal(addr_parse_loose("10.0.0.1 ", &ss), 0);
	assert_int_equal(addr_parse_loose("", &ss), 0);
}

/* The addresses that stand for the attacker's own, and the others. */
static void
test_is_private(void **state)
{
	static const char *const	yes[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "127.0.0.1", "127.1",
		"0x7f000001", "0177.0.0.1", "172.16.0.1", "172.31.1.1",
		"192.168.1.1", "100.64.0.1", "169.254.1.1", "::", "::1",
		"[::1]", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0",
		"::ffff:192.168.1.1", "::ffff:0.0.0.0",
	};
	static const char *const	no[] = {
		"8.8.8.8", "172.32.0.1", "172.15.0.1", "192.169.0.1",
		"100.128.0.1", "98.114.205.102", "198.51.100.7",
		"2001:db8::1", "2001:4860::1", "224.0.0.1", "255.255.255.255",
		"240.0.0.1", "ff02::1", "example.com", "10.0.0.1 ", "10.0.0.1x",
		"", "[10.0.0.1]",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!addr_is_private(yes[i]))
			fail_msg("%s is the attacker's own", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (addr_is_private(no[i]))
			fail_msg("%s is not the attacker's own", no[i]);
	assert_false(addr_is_private(NULL));
}

/* egress_refused(): the class as the reason, unless allow lists it. */
static const char *
refused(const char *s)
{
	struct sockaddr_storage	ss;

	if (addr_parse(s, &ss) == 0)
		fail_msg("%s is no address", s);
	return egress_refused((struct sockaddr *)&ss);
}

static void
test_refused_and_allow(void **state)
{
	(void)state;
	setup(NULL);
	assert_null(refused("98.114.205.102"));
	assert_null(refused("2001:4860:4860::8888"));
	assert_string_equal(refused("127.0.0.1"), "loopback");
	assert_string_equal(refused("10.0.0.1"), "private");
	assert_string_equal(refused("169.254.169.254"), "link-local");
	assert_string_equal(refused("::1"), "loopback");
	assert_string_equal(refused("::ffff:10.0.0.1"), "private");
	assert_string_equal(refused("fd00::1"), "private");
	assert_string_equal(refused("203.0.113.1"), "documentation");

	setup("download.allow=[10.0.0.0/8, \"fd00::/8\", 192.0.2.1, "
	    "\"::ffff:169.254.0.0/112\"]", NULL);
	assert_null(refused("10.0.0.1"));
	assert_null(refused("10.255.255.255"));
	assert_null(refused("::ffff:10.0.0.1"));	/* the same address */
	assert_null(refused("fd00::1"));
	assert_null(refused("fdff:ffff::1"));
	assert_null(refused("192.0.2.1"));
	assert_null(refused("169.254.169.254"));	/* mapped block: IPv4 */
	assert_string_equal(refused("192.0.2.2"), "documentation");
	assert_string_equal(refused("fc00::1"), "private");
	assert_null(refused("11.0.0.1"));
	assert_string_equal(refused("172.16.0.1"), "private");
	assert_string_equal(refused("127.0.0.1"), "loopback");
	assert_string_equal(refused("::1"), "loopback");
	/* 6to4 of an allowed IPv4 is still IPv6 outside the block. */
	assert_string_equal(refused("2002:0a00:0001::1"), "private");
}

/* Rules in every form, parsed to their fields. */
static void
test_rule_syntax(void **state)
{
	static const struct {
		const char	*rule;
		const char	*host;
		uint16_t	 port;
		const char	*to_host;
		uint16_t	 to_port;
	} good[] = {
		{ "98.114.205.102:8884:127.0.0.1:8884", "98.114.205.102", 8884,
		    "127.0.0.1", 8884 },
		{ ":80:127.0.0.1:8080", "", 80, "127.0.0.1", 8080 },
		{ "::127.0.0.1:", "", 0, "127.0.0.1", 0 },
		{ "a.example:21:127.0.0.1", "a.example", 21, "127.0.0.1", 0 },
		{ "Evil-Host_1.example::[::1]:2121", "Evil-Host_1.example", 0,
		    "::1", 2121 },
		{ "[2001:db8::1]:21:[::1]:", "2001:db8::1", 21, "::1", 0 },
		{ "[::ffff:1.2.3.4]:1::65535", "::ffff:1.2.3.4", 1, "",
		    65535 },
		{ "1.2.3.4:80::", "1.2.3.4", 80, "", 0 },
	};
	static const struct {
		const char	*rule;
		const char	*why;
	} bad[] = {
		{ "", "expected HOST:PORT:TO_HOST:TO_PORT" },
		{ "1.2.3.4", "expected HOST:PORT:TO_HOST:TO_PORT" },
		{ "1.2.3.4:80", "expected HOST:PORT:TO_HOST:TO_PORT" },
		{ "1.2.3.4:80:127.0.0.1:1:2",
		    "expected HOST:PORT:TO_HOST:TO_PORT" },
		{ "1.2.3.4:0:127.0.0.1:1", "a port is a number from 1 to "
		    "65535" },
		{ "1.2.3.4:65536:127.0.0.1:1", "a port is a number from 1 to "
		    "65535" },
		{ "1.2.3.4:80:127.0.0.1:x", "a port is a number from 1 to "
		    "65535" },
		{ "1.2.3.4:-1:127.0.0.1:1", "a port is a number from 1 to "
		    "65535" },
		{ "1.2.3.4:80:localhost:1", "TO_HOST must be an IPv4 or IPv6 "
		    "address (IPv6 in brackets)" },
		{ "1.2.3.4:80:[127.0.0.1]:1", "TO_HOST must be an IPv4 or "
		    "IPv6 address (IPv6 in brackets)" },
		{ "[::1:80:127.0.0.1:1", "an IPv6 address lacks its closing "
		    "']'" },
		{ "[::1]80:127.0.0.1:1", "expected ':' after ']'" },
		{ "[nope]:80:127.0.0.1:1", "not an IPv6 address in brackets" },
		{ "a b:80:127.0.0.1:1", "a host holds only letters, digits, "
		    "'.', '-' and '_' (an IPv6 address stands in brackets)" },
		{ ":80::", "a rule for any HOST must give a TO_HOST, else it "
		    "lets every host through the egress policy" },
		{ ":::", "a rule for any HOST must give a TO_HOST, else it "
		    "lets every host through the egress policy" },
	};
	struct addr_rule	r;
	const char		*why;
	char			buf[600];
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = addr_rule_parse(good[i].rule, strlen(good[i].rule), &r);
		if (why != NULL)
			fail_msg("%s: %s", good[i].rule, why);
		assert_string_equal(r.host, good[i].host);
		assert_int_equal(r.port, good[i].port);
		assert_string_equal(r.to_host, good[i].to_host);
		assert_int_equal(r.to_port, good[i].to_port);
		/* Written back, it reads the same. */
		addr_rule_format(&r, buf, sizeof(buf));
		assert_null(addr_rule_parse(buf, strlen(buf), &r));
		assert_string_equal(r.host, good[i].host);
		assert_string_equal(r.to_host, good[i].to_host);
	}
	addr_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "1.2.3.4:80::");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = addr_rule_parse(bad[i].rule, strlen(bad[i].rule), &r);
		if (why == NULL || strcmp(why, bad[i].why) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].rule,
			    why != NULL ? why : "(accepted)", bad[i].why);
	}
}

/*
 * egress_map() as a string: "to_host:to_port" for a rule's TO_HOST (past
 * the policy), "policy to_host:to_port" for a destination that the
 * policy still judges, "-" for one left as it was (no brackets).
 */
static const char *
mapped(const char *host, uint16_t port)
{
	static char	out[128];
	char		to[64], same[64];
	uint16_t	to_port = 0;
	size_t		len = strlen(host);
	int		bypass;

	bypass = egress_map(host, port, to, sizeof(to), &to_port);
	if (host[0] == '[')
		snprintf(same, sizeof(same), "%.*s", (int)(len - 2), host + 1);
	else
		snprintf(same, sizeof(same), "%s", host);
	if (!bypass && to_port == port && strcmp(to, same) == 0)
		return "-";
	snprintf(out, sizeof(out), "%s%s:%u", bypass ? "" : "policy ", to,
	    to_port);
	return out;
}

/* Rules as a list and as one comma string; the first that names wins. */
static void
test_map_order(void **state)
{
	static const char	*const forms[] = {
		"download.connect_to=[\"1.2.3.4:80:127.0.0.1:8080\", "
		    "\":80:127.0.0.2:\", \"1.2.3.4::127.0.0.3:9\", "
		    "\"[2001:db8::1]:21:[::1]:2121\", \"Evil.Example:80::81\"]",
		"download.connect_to=1.2.3.4:80:127.0.0.1:8080,:80:127.0.0.2:,"
		    " 1.2.3.4::127.0.0.3:9 ,[2001:db8::1]:21:[::1]:2121,"
		    "Evil.Example:80::81",
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < 2; i++) {
		setup(forms[i], NULL);
		assert_int_equal(conf.download_nconnect_to, 5);
		assert_string_equal(mapped("1.2.3.4", 80), "127.0.0.1:8080");
		assert_string_equal(mapped("5.6.7.8", 80), "127.0.0.2:80");
		assert_string_equal(mapped("1.2.3.4", 21), "127.0.0.3:9");
		assert_string_equal(mapped("5.6.7.8", 21), "-");
		assert_string_equal(mapped("2001:db8::1", 21), "::1:2121");
		assert_string_equal(mapped("[2001:DB8:0::1]", 21), "::1:2121");
		assert_string_equal(mapped("2001:db8::2", 21), "-");
		/* Names as curl compares them: any case. */
		assert_string_equal(mapped("evil.example", 80),
		    "127.0.0.2:80");	/* rule 2 comes first */
		assert_string_equal(mapped("1.2.3.4", 443), "127.0.0.3:9");
		assert_string_equal(mapped("1.2.3.40", 443), "-");
	}
	setup("download.connect_to=[\"Evil.Example:80::81\", "
	    "\"[::1]:99::\"]", NULL);
	/* Without TO_HOST: the port changes, the policy still judges. */
	assert_string_equal(mapped("EVIL.example", 80),
	    "policy EVIL.example:81");
	assert_string_equal(mapped("evil.example.org", 80), "-");
	assert_string_equal(mapped("[::1]", 99), "-");
}

/* An origin whose attacker has address a. */
static void
origin(struct capture_origin *o, const char *a)
{
	memset(o, 0, sizeof(*o));
	if (addr_parse(a, &o->attacker) == 0)
		fail_msg("%s is no address", a);
}

static const char *
host_for(const struct capture_origin *o, const char *h, uint16_t port)
{
	static char	out[128];

	egress_host(o, h, port, out, sizeof(out));
	return out;
}

static void
test_host(void **state)
{
	struct capture_origin	v4, mapped4, v6;

	(void)state;
	origin(&v4, "98.114.205.102");
	origin(&mapped4, "::ffff:98.114.205.102");
	origin(&v6, "2001:4860::5");
	setup(NULL);
	assert_string_equal(host_for(&v4, "0.0.0.0", 80), "98.114.205.102");
	assert_string_equal(host_for(&v4, "192.168.1.10", 80),
	    "98.114.205.102");
	assert_string_equal(host_for(&v4, "127.1", 80), "98.114.205.102");
	assert_string_equal(host_for(&v4, "fe80::1", 80), "98.114.205.102");
	assert_string_equal(host_for(&mapped4, "10.0.0.5", 80),
	    "98.114.205.102");
	assert_string_equal(host_for(&v6, "10.0.0.5", 80), "2001:4860::5");
	assert_string_equal(host_for(&v4, "8.8.8.8", 80), "8.8.8.8");
	assert_string_equal(host_for(&v4, "203.0.113.7", 80), "203.0.113.7");
	assert_string_equal(host_for(&v4, "evil.example", 80), "evil.example");
	assert_string_equal(host_for(NULL, "10.0.0.5", 80), "10.0.0.5");

	/* A rule that names the host keeps it; one for any host does not. */
	setup("download.connect_to=0.0.0.0:8884:127.0.0.1:8884,"
	    ":21:127.0.0.1:2121", NULL);
	assert_string_equal(host_for(&v4, "0.0.0.0", 8884), "0.0.0.0");
	assert_string_equal(mapped("0.0.0.0", 8884), "127.0.0.1:8884");
	assert_string_equal(host_for(&v4, "10.0.0.1", 21), "98.114.205.102");
	/* Another port than the rule's: the address is the attacker's. */
	assert_string_equal(host_for(&v4, "0.0.0.0", 80), "98.114.205.102");
	assert_string_equal(host_for(&v4, "0.0.0.0", 0), "98.114.205.102");
	/* A rule for any port keeps it for every port. */
	setup("download.connect_to=0.0.0.0::127.0.0.1:", NULL);
	assert_string_equal(host_for(&v4, "0.0.0.0", 80), "0.0.0.0");
	assert_string_equal(host_for(&v4, "0.0.0.0", 0), "0.0.0.0");
}

/* A listening socket on addr (127.0.0.1 or ::1); its port in *port. */
static int
listener(const char *addr, uint16_t *port)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd;

	len = addr_parse(addr, &ss);
	assert_int_not_equal(len, 0);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(listen(fd, 8), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/*
 * Waits for the connection fd to be made and accepts it on l; returns
 * the peer's address as text (what download.source_address bound).
 */
static const char *
accepted(int fd, int l)
{
	static char		peer[64];
	struct pollfd		pfd = { .fd = fd, .events = POLLOUT };
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			a, err = -1;

	assert_int_equal(poll(&pfd, 1, 5000), 1);
	len = sizeof(err);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	assert_int_equal(err, 0);
	len = sizeof(ss);
	a = accept(l, (struct sockaddr *)&ss, &len);
	assert_true(a >= 0);
	assert_int_equal(addr_ntop((struct sockaddr *)&ss, peer,
	    sizeof(peer)), 0);
	close(a);
	close(fd);
	return peer;
}

static void
test_connect(void **state)
{
	const char	*why;
	char		 rule[128], srcrule[128];
	uint16_t	 port, port6;
	int		 l, l6, fd;

	(void)state;
	l = listener("127.0.0.1", &port);
	l6 = listener("::1", &port6);

	/* Refused by the policy: nothing is made. */
	setup(NULL);
	why = NULL;
	assert_int_equal(egress_connect("127.0.0.1", port, &why), -1);
	assert_string_equal(why, "loopback");
	assert_int_equal(egress_connect("::1", port6, &why), -1);
	assert_string_equal(why, "loopback");
	assert_int_equal(egress_connect("::ffff:127.0.0.1", port, &why), -1);
	assert_string_equal(why, "loopback");
	assert_int_equal(egress_connect("10.0.0.1", 80, &why), -1);
	assert_string_equal(why, "private");
	assert_int_equal(egress_connect("evil.example", 80, &why), -1);
	assert_string_equal(why, "bad_address");
	assert_int_equal(egress_connect("198.51.100.7", 0, &why), -1);
	assert_string_equal(why, "bad_port");

	/* A rule maps a public address to the listener, and it passes. */
	snprintf(rule, sizeof(rule), "download.connect_to=98.114.205.102:"
	    "8884:127.0.0.1:%u,[2001:db8::7]:21:[::1]:%u", port, port6);
	setup(rule, NULL);
	fd = egress_connect("98.114.205.102", 8884, &why);
	assert_true(fd >= 0);
	assert_string_equal(accepted(fd, l), "127.0.0.1");
	fd = egress_connect("2001:db8::7", 21, &why);
	assert_true(fd >= 0);
	assert_string_equal(accepted(fd, l6), "::1");
	/* Not the port the rule names: the policy refuses the original. */
	assert_int_equal(egress_connect("127.0.0.1", port, &why), -1);
	assert_string_equal(why, "loopback");

	/*
	 * A rule without TO_HOST changes the port only: what the host is
	 * still goes through the policy (allow lets it through).
	 */
	snprintf(rule, sizeof(rule), "download.connect_to=127.0.0.1:1::%u,"
	    "[::1]:::%u", port, port6);
	setup(rule, NULL);
	assert_int_equal(egress_connect("127.0.0.1", 1, &why), -1);
	assert_string_equal(why, "loopback");
	assert_int_equal(egress_connect("::1", 1, &why), -1);
	assert_string_equal(why, "loopback");
	setup(rule, "download.allow=127.0.0.0/8", NULL);
	fd = egress_connect("127.0.0.1", 1, &why);
	assert_true(fd >= 0);
	assert_string_equal(accepted(fd, l), "127.0.0.1");
	snprintf(rule, sizeof(rule), "download.connect_to=98.114.205.102:"
	    "8884:127.0.0.1:%u,[2001:db8::7]:21:[::1]:%u", port, port6);

	/* allow lets loopback through; source_address binds the socket. */
	setup("download.allow=127.0.0.0/8", "download.source_address=127.0.0.2",
	    NULL);
	fd = egress_connect("127.0.0.1", port, &why);
	assert_true(fd >= 0);
	assert_string_equal(accepted(fd, l), "127.0.0.2");
	assert_int_equal(egress_connect("::1", port6, &why), -1);
	assert_string_equal(why, "loopback");
	snprintf(srcrule, sizeof(srcrule), "download.connect_to=[::2]:1:[::1]:"
	    "%u", port6);
	setup("download.source_address=127.0.0.2", srcrule, NULL);
	assert_int_equal(egress_connect("::2", 1, &why), -1);
	assert_string_equal(why, "source_family");
	setup("download.source_address=::1", srcrule, NULL);
	fd = egress_connect("::2", 1, &why);
	assert_true(fd >= 0);
	assert_string_equal(accepted(fd, l6), "::1");

	/* Nothing goes out with download.enabled false, even mapped. */
	setup(rule, "download.enabled=false", NULL);
	assert_int_equal(egress_connect("98.114.205.102", 8884, &why), -1);
	assert_string_equal(why, "disabled");
	close(l);
	close(l6);
}

/* egress_claim_url() as a string: "ok" or the reason. */
static const char *
claim(const struct capture_origin *o, const char *url)
{
	const char	*why = egress_claim_url(o, url);

	return why != NULL ? why : "ok";
}

/*
 * Lock-step between the test and its child.  The child checks with
 * CHILD_CHECK and _exit()s: a cmocka failure there would run the rest of
 * the tests in it.
 */
static void
step_send(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void
step_wait(int fd)
{
	char	c;

	assert_int_equal(read(fd, &c, 1), 1);
}

/* In the child: a failed check ends it with status 1. */
#define CHILD_CHECK(cond) do { if (!(cond)) _exit(1); } while (0)

/*
 * Two processes share the URL table: what one holds in flight or has
 * fetched the other may not fetch, until the interval is over; a dead
 * one's claims go back with egress_shared_reset().
 */
static void
test_url_shared(void **state)
{
	struct capture_origin	o;
	int			to_child[2], to_parent[2], status;
	char			c;
	pid_t			pid;

	(void)state;
	origin(&o, "98.114.205.102");
	setup("download.url_interval=10m", "download.per_source=0", NULL);
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(to_parent), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		CHILD_CHECK(egress_claim_url(&o, "http://a/x.exe") == NULL);
		CHILD_CHECK(egress_claim_url(&o, "http://a/y.exe") == NULL);
		CHILD_CHECK(egress_claim_url(&o, "http://a/z.exe") == NULL);
		CHILD_CHECK(write(to_parent[1], "x", 1) == 1);
		CHILD_CHECK(read(to_child[0], &c, 1) == 1);
		egress_release_url("http://a/x.exe", 1);
		egress_release_url("http://a/y.exe", 0);
		CHILD_CHECK(write(to_parent[1], "x", 1) == 1);
		CHILD_CHECK(read(to_child[0], &c, 1) == 1);
		_exit(0);	/* dies holding z.exe */
	}
	assert_true(pid > 0);
	/* Only the child writes these: a child that failed ends the reads. */
	close(to_parent[1]);
	close(to_child[0]);
	step_wait(to_parent[0]);
	assert_string_equal(claim(&o, "http://a/x.exe"), "duplicate");
	assert_string_equal(claim(&o, "http://a/y.exe"), "duplicate");
	assert_string_equal(claim(&o, "http://a/z.exe"), "duplicate");
	assert_string_equal(claim(&o, "http://a/X.exe"), "ok");
	step_send(to_child[1]);
	step_wait(to_parent[0]);
	/* Fetched: it rests; released unfetched: free at once. */
	assert_string_equal(claim(&o, "http://a/x.exe"), "duplicate");
	assert_string_equal(claim(&o, "http://a/y.exe"), "ok");
	step_send(to_child[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(claim(&o, "http://a/z.exe"), "duplicate");
	egress_shared_reset(sh, pid);
	assert_string_equal(claim(&o, "http://a/z.exe"), "ok");
	close(to_child[1]);
	close(to_parent[0]);

	/* The interval: still resting a second before, free at its end. */
	fake_now += 599;
	assert_string_equal(claim(&o, "http://a/x.exe"), "duplicate");
	fake_now += 1;
	assert_string_equal(claim(&o, "http://a/x.exe"), "ok");
}

/*
 * The same URL offered 1,000 times, by two processes at once: fetched
 * once.  A claim that no sensor released goes stale after the time a
 * fetch may take with its retries.
 */
static void
test_url_thousand(void **state)
{
	struct capture_origin	o;
	int			p[2], status, mine = 0, theirs = -1, i;
	char			c;
	pid_t			pid;

	(void)state;
	origin(&o, "98.114.205.102");
	setup("download.per_source=0", "download.max_concurrent=0",
	    "download.timeout=60s", "download.retries=1",
	    "download.retry_delay=5s", NULL);
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		for (i = 0; i < 500; i++)
			if (egress_claim_url(&o, "http://b/w.exe") == NULL)
				mine++;
		c = (char)mine;
		_exit(write(p[1], &c, 1) == 1 ? 0 : 1);
	}
	assert_true(pid > 0);
	close(p[1]);
	for (i = 0; i < 500; i++)
		if (egress_claim_url(&o, "http://b/w.exe") == NULL)
			mine++;
	assert_int_equal(read(p[0], &c, 1), 1);
	theirs = c;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(mine + theirs, 1);
	/* 60 s x 2 tries + 5 s between + 60 s of margin = 185 s. */
	fake_now += 184;
	assert_string_equal(claim(&o, "http://b/w.exe"), "duplicate");
	fake_now += 1;
	assert_string_equal(claim(&o, "http://b/w.exe"), "ok");
	close(p[0]);
}

/* download.per_source: starts per address a minute, all processes. */
static void
test_per_source(void **state)
{
	struct capture_origin	a, a6, compat, b;
	int			status;
	pid_t			pid;

	(void)state;
	origin(&a, "98.114.205.102");
	origin(&compat, "::98.114.205.102");
	origin(&a6, "::ffff:98.114.205.102");	/* the same address */
	origin(&b, "2001:4860::9");
	setup("download.per_source=3", "download.max_concurrent=0", NULL);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		CHILD_CHECK(egress_claim_url(&a, "http://c/1") == NULL);
		CHILD_CHECK(egress_claim_url(&a6, "http://c/2") == NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(claim(&a, "http://c/3"), "ok");
	/* A duplicate starts nothing: it is not counted, nor refused so. */
	assert_string_equal(claim(&a, "http://c/1"), "duplicate");
	assert_string_equal(claim(&a, "http://c/4"), "source_rate");
	assert_string_equal(claim(&a6, "http://c/4"), "source_rate");
	/* IPv4-compatible ::a.b.c.d is another address. */
	assert_string_equal(claim(&compat, "http://c/4"), "ok");
	assert_string_equal(claim(&b, "http://c/4b"), "ok");
	assert_string_equal(claim(&b, "http://c/5"), "ok");
	assert_string_equal(claim(&b, "http://c/6"), "ok");
	assert_string_equal(claim(&b, "http://c/7"), "source_rate");
	/* A minute after the window began, a new one. */
	fake_now += 59;
	assert_string_equal(claim(&a, "http://c/8"), "source_rate");
	fake_now += 1;
	assert_string_equal(claim(&a, "http://c/8"), "ok");
	assert_string_equal(claim(&a, "http://c/9"), "ok");
	assert_string_equal(claim(&a, "http://c/10"), "ok");
	assert_string_equal(claim(&a, "http://c/11"), "source_rate");

	/* 0: no cap. */
	setup("download.per_source=0", "download.max_concurrent=0", NULL);
	for (status = 0; status < 100; status++) {
		char	url[32];

		snprintf(url, sizeof(url), "http://d/%d", status);
		assert_string_equal(claim(&a, url), "ok");
	}
}

/*
 * An IPv6 attacker holds a /64 at least: its sources count as one, so
 * that 2^64 addresses do not give it 2^64 times download.per_source.
 */
static void
test_per_source_ipv6_prefix(void **state)
{
	struct capture_origin	x1, x2, x3, other;

	(void)state;
	origin(&x1, "2001:db8:1:2::9");
	origin(&x2, "2001:db8:1:2:ffff:ffff:ffff:fffe");
	origin(&x3, "2001:db8:1:2:8000::1");
	origin(&other, "2001:db8:1:3::9");	/* the next /64 */
	setup("download.per_source=2", "download.max_concurrent=0", NULL);
	assert_string_equal(claim(&x1, "http://p/1"), "ok");
	assert_string_equal(claim(&x2, "http://p/2"), "ok");
	assert_string_equal(claim(&x3, "http://p/3"), "source_rate");
	assert_string_equal(claim(&x1, "http://p/3"), "source_rate");
	assert_string_equal(claim(&other, "http://p/3"), "ok");
	assert_string_equal(claim(&other, "http://p/4"), "ok");
	assert_string_equal(claim(&other, "http://p/5"), "source_rate");
}

/* download.max_concurrent: this process's open claims. */
static void
test_max_concurrent(void **state)
{
	struct capture_origin	a, b;

	(void)state;
	origin(&a, "98.114.205.102");
	origin(&b, "98.114.205.103");
	setup("download.max_concurrent=2", "download.per_source=0", NULL);
	assert_int_equal(egress_active(), 0);
	assert_string_equal(claim(&a, "http://e/1"), "ok");
	assert_string_equal(claim(&b, "http://e/2"), "ok");
	assert_int_equal(egress_active(), 2);
	assert_string_equal(claim(&b, "http://e/3"), "max_concurrent");
	/* A duplicate says so, even when the cap is reached. */
	assert_string_equal(claim(&b, "http://e/1"), "duplicate");
	egress_release_url("http://e/1", 1);
	assert_int_equal(egress_active(), 1);
	assert_string_equal(claim(&b, "http://e/3"), "ok");
	assert_string_equal(claim(&b, "http://e/4"), "max_concurrent");
	egress_release_url("http://e/2", 0);
	egress_release_url("http://e/3", 0);
	assert_int_equal(egress_active(), 0);
	/* Disabled: nothing is claimed. */
	setup("download.enabled=no", NULL);
	assert_string_equal(claim(&a, "http://e/9"), "disabled");
	assert_int_equal(egress_active(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_v4),
		cmocka_unit_test(test_classes_v6),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_is_private),
		cmocka_unit_test_teardown(test_refused_and_allow, teardown),
		cmocka_unit_test(test_rule_syntax),
		cmocka_unit_test_teardown(test_map_order, teardown),
		cmocka_unit_test_teardown(test_host, teardown),
		cmocka_unit_test_teardown(test_connect, teardown),
		cmocka_unit_test_teardown(test_url_shared, teardown),
		cmocka_unit_test_teardown(test_url_thousand, teardown),
		cmocka_unit_test_teardown(test_per_source, teardown),
		cmocka_unit_test_teardown(test_per_source_ipv6_prefix, teardown),
		cmocka_unit_test_teardown(test_max_concurrent, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
