/*
 * Unit tests of the one host (src/core/host.c): the defaults, the strings
 * derived from each version, the GUID and boot time derived from the
 * names, the shares, the NTLM target information and the errors of the
 * host.* keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "host.h"

/* Loads the defaults with the overrides (NULL-terminated) into host. */
static void
load(const char *const *ov)
{
	struct config	conf;
	char		err[512];
	size_t		n = 0;

	while (ov != NULL && ov[n] != NULL)
		n++;
	if (config_load(&conf, NULL, (char *const *)ov, n, err,
	    sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(host_init(&conf), 0);
	config_free(&conf);
}

static int64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Before host_init: the built-in defaults, an XP in a workgroup. */
static void
test_defaults(void **state)
{
	const struct host	*h = host_get();
	int64_t			 up = now_us() - h->boot_us;

	(void)state;
	assert_string_equal(h->name, "ACCOUNTING-PC3");
	assert_string_equal(h->domain, "WORKGROUP");
	assert_string_equal(h->dns_name, "accounting-pc3");
	assert_string_equal(h->dns_domain, "");
	assert_string_equal(h->version, "5.1.2600");
	assert_int_equal(h->major, 5);
	assert_int_equal(h->minor, 1);
	assert_int_equal(h->build, 2600);
	assert_string_equal(h->native_os, "Windows 5.1");
	assert_string_equal(h->native_lanman, "Windows 2000 LAN Manager");
	assert_string_equal(h->product, "Windows XP");
	assert_string_equal(h->system_root, "C:\\WINDOWS");
	assert_int_equal(h->smb2_max, 0x0202);
	/* Up three to fourteen days, and the same on a second look. */
	assert_true(up >= 3 * 86400LL * 1000000 && up < 14 * 86400LL * 1000000);
	assert_true(host_get()->boot_us == h->boot_us);
	assert_int_equal(h->nshares, 4);
	assert_string_equal(h->shares[0].name, "IPC$");
	assert_int_equal(h->shares[0].type, 0x80000003);
	assert_string_equal(h->shares[0].remark, "Remote IPC");
	assert_string_equal(h->shares[1].name, "SharedDocs");
	assert_int_equal(h->shares[1].type, 0);
	assert_string_equal(h->shares[2].name, "ADMIN$");
	assert_string_equal(h->shares[2].remark, "Remote Admin");
	assert_string_equal(h->shares[2].path, "C:\\WINDOWS");
	assert_string_equal(h->shares[3].name, "C$");
	assert_string_equal(h->shares[3].remark, "Default share");
	/* The GUID is version 4 in form. */
	assert_int_equal(h->guid[7] & 0xf0, 0x40);
	assert_int_equal(h->guid[8] & 0xc0, 0x80);
}

/* Each version's strings, as that Windows sends them. */
static void
test_versions(void **state)
{
	static const struct {
		const char	*version;
		const char	*os, *lanman, *product;
		uint16_t	 smb2;
		uint8_t		 major, minor;
		uint16_t	 build;
	} cases[] = {
		{ "5.0.2195", "Windows 5.0", "Windows 2000 LAN Manager",
		    "Windows 2000", 0x0202, 5, 0, 2195 },
		{ "5.2.3790", "Windows Server 2003 3790 Service Pack 2",
		    "Windows Server 2003 5.2", "Windows Server 2003", 0x0202,
		    5, 2, 3790 },
		{ "6.0.6002",
		    "Windows Server (R) 2008 Standard 6002 Service Pack 2",
		    "Windows Server (R) 2008 Standard 6.0",
		    "Windows Server 2008", 0x0202, 6, 0, 6002 },
		{ "6.1.7601", "Windows 7 Professional 7601 Service Pack 1",
		    "Windows 7 Professional 6.1", "Windows 7 Professional",
		    0x0210, 6, 1, 7601 },
		{ "6.2.9200", "Windows Server 2012 Standard 9200",
		    "Windows Server 2012 Standard 6.2",
		    "Windows Server 2012 Standard", 0x0300, 6, 2, 9200 },
		{ "6.3.9600", "Windows Server 2012 R2 Standard 9600",
		    "Windows Server 2012 R2 Standard 6.3",
		    "Windows Server 2012 R2 Standard", 0x0302, 6, 3, 9600 },
		{ "10.0.18362", "Windows 10 Pro 18362", "Windows 10 Pro 6.3",
		    "Windows 10 Pro", 0x0311, 10, 0, 18362 },
		{ "10.0.17763", "Windows Server 2019 Standard 17763",
		    "Windows Server 2019 Standard 6.3",
		    "Windows Server 2019 Standard", 0x0311, 10, 0, 17763 },
	};
	const struct host	*h;
	char			 ov[64], b[160];
	const char		*list[2] = { ov, NULL };
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ov, sizeof(ov), "host.version=%s", cases[i].version);
		load(list);
		h = host_get();
		assert_string_equal(h->version, cases[i].version);
		assert_string_equal(h->native_os, cases[i].os);
		assert_string_equal(h->native_lanman, cases[i].lanman);
		assert_string_equal(h->product, cases[i].product);
		assert_int_equal(h->smb2_max, cases[i].smb2);
		assert_int_equal(h->major, cases[i].major);
		assert_int_equal(h->minor, cases[i].minor);
		assert_int_equal(h->build, cases[i].build);
	}
	assert_int_not_equal(host_cmd_banner("6.1.7601", b, sizeof(b)), 0);
	assert_string_equal(b, "Microsoft Windows [Version 6.1.7601]\r\n"
	    "Copyright (c) 2009 Microsoft Corporation.  All rights reserved."
	    "\r\n\r\n");
	load(NULL);
}

/* The GUID: the same for the same names, different for another name. */
static void
test_guid(void **state)
{
	static const char *const other[] = { "host.name=FILESRV01", NULL };
	static const char *const dom[] = { "host.domain=CORP", NULL };
	static const char *const set[] = {
		"host.guid=\"{4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f60}\"", NULL
	};
	static const uint8_t	 want[16] = {
		0x52, 0x7e, 0x6f, 0x4a, 0xc1, 0x93, 0x2b, 0x4d,
		0x8e, 0x0f, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60
	};
	uint8_t			 a[16], b[16];
	int64_t			 boot;

	(void)state;
	load(NULL);
	memcpy(a, host_get()->guid, 16);
	boot = host_get()->boot_us;
	load(NULL);
	assert_memory_equal(host_get()->guid, a, 16);
	assert_true(host_get()->boot_us == boot);
	load(other);
	memcpy(b, host_get()->guid, 16);
	assert_memory_not_equal(a, b, 16);
	assert_true(host_get()->boot_us != boot);
	load(dom);
	assert_memory_not_equal(host_get()->guid, a, 16);
	assert_memory_not_equal(host_get()->guid, b, 16);
	load(set);
	assert_memory_equal(host_get()->guid, want, 16);
	load(NULL);
}

/* The operator's keys: DNS domain, share, uptime, system root. */
static void
test_keys(void **state)
{
	static const char *const ov[] = {
		"host.name=filesrv01", "host.dns_domain=Corp.Example.com",
		"host.share=Public", "host.uptime=2d", "host.system_root=C:\\WINNT",
		NULL
	};
	const struct host	*h;
	const struct host_share	*s;
	int64_t			 up;

	(void)state;
	load(ov);
	h = host_get();
	up = now_us() - h->boot_us;
	assert_string_equal(h->name, "FILESRV01");
	assert_string_equal(h->dns_name, "filesrv01");
	assert_string_equal(h->dns_domain, "corp.example.com");
	assert_true(up >= 2 * 86400LL * 1000000 &&
	    up < 2 * 86400LL * 1000000 + 60LL * 1000000);
	assert_non_null(s = host_share_find("public", 6));
	assert_string_equal(s->name, "Public");
	assert_null(host_share_find("SharedDocs", 10));
	assert_non_null(s = host_share_find("admin$\0", 7));
	assert_string_equal(s->path, "C:\\WINNT");
	assert_non_null(host_share_find("ipc$", 4));
	assert_null(host_share_find("ipc", 3));
	assert_null(host_share_find("IPC$X", 5));
	load(NULL);
}

/* A key's bad value: an error that names where and which key. */
static void
test_errors(void **state)
{
	static const struct {
		const char	*override;
		const char	*err;
	} cases[] = {
		{ "host.guid=4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f6",
		    "-o host.guid: expected a GUID such as "
		    "4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f60, or \"\", got "
		    "\"4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f6\"" },
		{ "host.guid=4a6f7e52x93c1-4d2b-8e0f-1b2c3d4e5f60",
		    "-o host.guid: expected a GUID such as "
		    "4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f60, or \"\", got "
		    "\"4a6f7e52x93c1-4d2b-8e0f-1b2c3d4e5f60\"" },
		{ "host.dns_domain=corp..example", "-o host.dns_domain: "
		    "expected a DNS domain such as corp.example.com, got "
		    "\"corp..example\"" },
		{ "host.dns_domain=corp_x", "-o host.dns_domain: may hold "
		    "only letters, digits, '-' and '.' (a DNS domain), got "
		    "\"corp_x\"" },
		{ "host.share=Shared$", "-o host.share: may hold only "
		    "letters, digits, '-' and '_' (a share name), got "
		    "\"Shared$\"" },
		{ "host.share=ABCDEFGHIJKLM", "-o host.share: longer than 12 "
		    "characters (a share name), got \"ABCDEFGHIJKLM\"" },
		{ "host.share=\"\"", "-o host.share: must not be empty, got "
		    "\"\"" },
		{ "host.uptime=-1", NULL },
	};
	struct config	conf;
	char		err[512], *ov;
	size_t		i;
	FILE		*fp;
	char		path[] = "/tmp/test_host.XXXXXX";
	int		fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ov = (char *)cases[i].override;
		assert_int_equal(config_load(&conf, NULL, &ov, 1, err,
		    sizeof(err)), -1);
		config_free(&conf);
		if (cases[i].err != NULL)
			assert_string_equal(err, cases[i].err);
		else
			assert_non_null(strstr(err, "host.uptime"));
	}
	/* In a file: its name and the line. */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	fputs("host:\n  name: X\n  guid: nope\n", fp);
	fclose(fp);
	assert_int_equal(config_load(&conf, path, NULL, 0, err, sizeof(err)),
	    -1);
	config_free(&conf);
	unlink(path);
	assert_non_null(strstr(err, ":3: host.guid: expected a GUID"));
}

/* The AV pairs: names in UTF-16LE, a timestamp from Vista on, EOL. */
static void
test_target_info(void **state)
{
	static const char *const ov6[] = {
		"host.version=6.1.7601", "host.dns_domain=corp.local", NULL
	};
	static const uint8_t	xp[] = {
		2, 0, 18, 0, 'W', 0, 'O', 0, 'R', 0, 'K', 0, 'G', 0, 'R', 0,
		'O', 0, 'U', 0, 'P', 0,
		1, 0, 28, 0, 'A', 0, 'C', 0, 'C', 0, 'O', 0, 'U', 0, 'N', 0,
		'T', 0, 'I', 0, 'N', 0, 'G', 0, '-', 0, 'P', 0, 'C', 0, '3', 0,
		4, 0, 28, 0, 'a', 0, 'c', 0, 'c', 0, 'o', 0, 'u', 0, 'n', 0,
		't', 0, 'i', 0, 'n', 0, 'g', 0, '-', 0, 'p', 0, 'c', 0, '3', 0,
		3, 0, 28, 0, 'a', 0, 'c', 0, 'c', 0, 'o', 0, 'u', 0, 'n', 0,
		't', 0, 'i', 0, 'n', 0, 'g', 0, '-', 0, 'p', 0, 'c', 0, '3', 0,
		0, 0, 0, 0
	};
	uint8_t		b[512];
	size_t		n, at;
	uint64_t	ft, now;

	(void)state;
	load(NULL);
	n = host_ntlm_target_info(b, sizeof(b));
	assert_int_equal(n, sizeof(xp));
	assert_memory_equal(b, xp, sizeof(xp));
	assert_int_equal(host_ntlm_target_info(b, sizeof(xp) - 1), 0);
	load(ov6);
	n = host_ntlm_target_info(b, sizeof(b));
	/* NbDomain, NbComputer, DnsDomain "corp.local", DnsComputer. */
	at = 4 + 18 + 4 + 28;
	assert_int_equal(b[at], 4);
	assert_int_equal(b[at + 2], 20);
	at += 4 + 20;
	assert_int_equal(b[at], 3);
	assert_int_equal(b[at + 2], 2 * strlen("accounting-pc3.corp.local"));
	at += 4 + b[at + 2];
	assert_int_equal(b[at], 7);
	assert_int_equal(b[at + 2], 8);
	memcpy(&ft, b + at + 4, 8);
	now = host_filetime(now_us());
	assert_true(ft <= now && now - ft < 10ULL * 1000 * 1000 * 10);
	assert_int_equal(n, at + 12 + 4);
	load(NULL);
}

static void
test_filetime(void **state)
{
	(void)state;
	assert_true(host_filetime(0) == 116444736000000000ULL);
	assert_true(host_filetime(1000000) == 116444736010000000ULL);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_guid),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_target_info),
		cmocka_unit_test(test_filetime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
