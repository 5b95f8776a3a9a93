/*
 * Unit tests of the dispatcher (src/capture/capture.c): the host of a
 * shellcode's URL rewritten to the attacker's when it stands for it, and
 * a verdict said once a session.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "config.h"
#include "egress.h"
#include "sc.h"

static struct config	conf;

static void
origin(struct capture_origin *o, const char *session, const char *attacker)
{
	struct sockaddr_in	*sin = (void *)&o->attacker;
	struct sockaddr_in6	*sin6 = (void *)&o->attacker;

	memset(o, 0, sizeof(*o));
	snprintf(o->session, sizeof(o->session), "%s", session);
	if (inet_pton(AF_INET, attacker, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, attacker,
		    &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
}

static int
setup(void **state)
{
	char	err[512];

	(void)state;
	if (config_load(&conf, NULL, NULL, 0, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	egress_init(&conf, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&conf);
	return 0;
}

static void
url_is(const struct capture_origin *o, const char *url, const char *want)
{
	char	out[600];

	assert_int_equal(capture_url(o, url, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void
test_url_host(void **state)
{
	struct capture_origin	o, o6;
	char			out[64];

	(void)state;
	origin(&o, "0000000000000001", "198.51.100.7");
	origin(&o6, "0000000000000002", "2001:db8::5");
	/* Addresses that stand for the attacker's. */
	url_is(&o, "http://10.0.0.1/a.exe", "http://198.51.100.7/a.exe");
	url_is(&o, "ftp://1:1@0.0.0.0:8884/ssms.exe",
	    "ftp://1:1@198.51.100.7:8884/ssms.exe");
	url_is(&o, "tftp://192.168.1.20/x", "tftp://198.51.100.7/x");
	url_is(&o, "http://127.0.0.1:8080?q=1", "http://198.51.100.7:8080?q=1");
	url_is(&o, "http://[::1]:80/x", "http://198.51.100.7:80/x");
	url_is(&o6, "http://10.1.2.3/x", "http://[2001:db8::5]/x");
	url_is(&o6, "http://[fe80::1]/x", "http://[2001:db8::5]/x");
	/* The host is after the last '@' of the authority, not in the path. */
	url_is(&o, "ftp://a:b@c@10.1.1.1/x@10.2.2.2",
	    "ftp://a:b@c@198.51.100.7/x@10.2.2.2");
	/* Public addresses and names stay as they are. */
	url_is(&o, "http://203.0.113.9/a.exe", "http://203.0.113.9/a.exe");
	url_is(&o, "http://example.com:81/a", "http://example.com:81/a");
	url_is(&o, "http://[2001:db8::9]/a", "http://[2001:db8::9]/a");
	/* What does not parse, or does not fit. */
	assert_int_equal(capture_url(&o, "10.0.0.1/a.exe", out, sizeof(out)),
	    -1);
	assert_int_equal(capture_url(&o, "http:///a", out, sizeof(out)), -1);
	assert_int_equal(capture_url(&o, "http://[::1/a", out, sizeof(out)),
	    -1);
	assert_int_equal(capture_url(&o, "http://10.0.0.1/a", out, 20), -1);
}

/*
 * A host that a download.connect_to rule names is kept only for the
 * rule's port: the URL's own, else its scheme's.
 */
static void
test_url_rule_port(void **state)
{
	char			 rules[] = "download.connect_to="
	    "0.0.0.0:8884:127.0.0.1:,192.168.1.20:69:127.0.0.1:,"
	    "10.0.0.9:443::,10.0.0.8:21::", *ov[] = { rules };
	struct config		 c;
	struct capture_origin	 o;
	char			 err[512];

	(void)state;
	if (config_load(&c, NULL, ov, 1, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	egress_init(&c, NULL);
	origin(&o, "0000000000000003", "198.51.100.7");
	url_is(&o, "ftp://1:1@0.0.0.0:8884/ssms.exe",
	    "ftp://1:1@0.0.0.0:8884/ssms.exe");
	url_is(&o, "http://0.0.0.0/x", "http://198.51.100.7/x");
	url_is(&o, "http://0.0.0.0:88840/x", "http://198.51.100.7:88840/x");
	url_is(&o, "tftp://192.168.1.20/x", "tftp://192.168.1.20/x");
	url_is(&o, "http://192.168.1.20/x", "http://198.51.100.7/x");
	url_is(&o, "HTTPS://10.0.0.9/x", "HTTPS://10.0.0.9/x");
	url_is(&o, "http://10.0.0.9/x", "http://198.51.100.7/x");
	url_is(&o, "ftp://10.0.0.8/x", "ftp://10.0.0.8/x");
	url_is(&o, "ftp://10.0.0.8:2121/x", "ftp://198.51.100.7:2121/x");
	egress_init(&conf, NULL);
	config_free(&c);
}

static void
test_verdict_once_a_session(void **state)
{
	struct capture_origin	a, b;
	struct sc_result	r, r2;

	(void)state;
	origin(&a, "00000000000000aa", "198.51.100.7");
	origin(&b, "00000000000000bb", "198.51.100.7");
	memset(&r, 0, sizeof(r));
	r.shellcode = 1;
	r.nactions = 1;
	r.actions[0].kind = SC_BIND_SHELL;
	r.actions[0].evidence = SC_EV_EMULATED;
	r.actions[0].port = 1957;
	assert_int_equal(capture_seen(&a, &r), 0);
	assert_int_equal(capture_seen(&a, &r), 1);
	/* Another session, or another action: new. */
	assert_int_equal(capture_seen(&b, &r), 0);
	r2 = r;
	r2.actions[0].port = 1958;
	assert_int_equal(capture_seen(&a, &r2), 0);
	assert_int_equal(capture_seen(&a, &r2), 1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_url_rule_port),
		cmocka_unit_test(test_verdict_once_a_session),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
