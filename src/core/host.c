/*
 * The one Windows host (host.h): what the host.* keys say, and what a
 * real Windows of that version derives from it (the strings its SMB
 * session setup carries, the dialects it speaks, its shares).  What is
 * not configured is derived from the names by a hash, never drawn at
 * random, so that a restarted sensor tells the same story and two
 * sensors with different names tell different ones.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "config.h"
#include "host.h"
#include "log.h"

/* What a version of Windows says of itself. */
struct host_version {
	const char	*version;	/* as host.version spells it */
	uint8_t		 major, minor;
	uint16_t	 build;
	const char	*product;
	const char	*native_os;	/* SMB1 session setup */
	const char	*native_lanman;
	/*
	 * Windows before 6.0 spoke no SMB2 at all; 2.0.2 is given them
	 * anyway, since today's smbclient refuses a server with SMB1 only.
	 */
	uint16_t	 smb2_max;
	const char	*banner;	/* cmd.exe's two lines */
	const char	*docs;		/* the disk share's path */
};

#define HOST_DOCS5	"C:\\Documents and Settings\\All Users\\Documents"
#define HOST_DOCS6	"C:\\Users\\Public"

/*
 * The strings are those the service packs that were current at the end
 * of each version's life send (nmap's smb-os-discovery prints NativeOS
 * and, in brackets, NativeLanMan); Windows 10 still says 6.3 there.
 */
static const struct host_version host_versions[] = {
	{ "5.0.2195", 5, 0, 2195, "Windows 2000", "Windows 5.0",
	    "Windows 2000 LAN Manager", 0x0202,
	    "Microsoft Windows 2000 [Version 5.00.2195]\r\n"
	    "(C) Copyright 1985-2000 Microsoft Corp.", HOST_DOCS5 },
	{ "5.1.2600", 5, 1, 2600, "Windows XP", "Windows 5.1",
	    "Windows 2000 LAN Manager", 0x0202,
	    "Microsoft Windows XP [Version 5.1.2600]\r\n"
	    "(C) Copyright 1985-2001 Microsoft Corp.", HOST_DOCS5 },
	{ "5.2.3790", 5, 2, 3790, "Windows Server 2003",
	    "Windows Server 2003 3790 Service Pack 2",
	    "Windows Server 2003 5.2", 0x0202,
	    "Microsoft Windows [Version 5.2.3790]\r\n"
	    "(C) Copyright 1985-2003 Microsoft Corp.", HOST_DOCS5 },
	{ "6.0.6002", 6, 0, 6002, "Windows Server 2008",
	    "Windows Server (R) 2008 Standard 6002 Service Pack 2",
	    "Windows Server (R) 2008 Standard 6.0", 0x0202,
	    "Microsoft Windows [Version 6.0.6002]\r\n"
	    "Copyright (c) 2006 Microsoft Corporation.  All rights reserved.",
	    HOST_DOCS6 },
	{ "6.1.7601", 6, 1, 7601, "Windows 7 Professional",
	    "Windows 7 Professional 7601 Service Pack 1",
	    "Windows 7 Professional 6.1", 0x0210,
	    "Microsoft Windows [Version 6.1.7601]\r\n"
	    "Copyright (c) 2009 Microsoft Corporation.  All rights reserved.",
	    HOST_DOCS6 },
	{ "6.2.9200", 6, 2, 9200, "Windows Server 2012 Standard",
	    "Windows Server 2012 Standard 9200",
	    "Windows Server 2012 Standard 6.2", 0x0300,
	    "Microsoft Windows [Version 6.2.9200]\r\n"
	    "(c) 2012 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
	{ "6.3.9600", 6, 3, 9600, "Windows Server 2012 R2 Standard",
	    "Windows Server 2012 R2 Standard 9600",
	    "Windows Server 2012 R2 Standard 6.3", 0x0302,
	    "Microsoft Windows [Version 6.3.9600]\r\n"
	    "(c) 2013 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
	{ "10.0.14393", 10, 0, 14393, "Windows Server 2016 Standard",
	    "Windows Server 2016 Standard 14393",
	    "Windows Server 2016 Standard 6.3", 0x0311,
	    "Microsoft Windows [Version 10.0.14393]\r\n"
	    "(c) 2016 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
	/* 1903 and 1909, the builds of SMBGhost (CVE-2020-0796). */
	{ "10.0.18362", 10, 0, 18362, "Windows 10 Pro",
	    "Windows 10 Pro 18362", "Windows 10 Pro 6.3", 0x0311,
	    "Microsoft Windows [Version 10.0.18362.30]\r\n"
	    "(c) 2019 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
	{ "10.0.18363", 10, 0, 18363, "Windows 10 Pro",
	    "Windows 10 Pro 18363", "Windows 10 Pro 6.3", 0x0311,
	    "Microsoft Windows [Version 10.0.18363.418]\r\n"
	    "(c) 2019 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
	{ "10.0.17763", 10, 0, 17763, "Windows Server 2019 Standard",
	    "Windows Server 2019 Standard 17763",
	    "Windows Server 2019 Standard 6.3", 0x0311,
	    "Microsoft Windows [Version 10.0.17763]\r\n"
	    "(c) 2018 Microsoft Corporation. All rights reserved.",
	    HOST_DOCS6 },
};
#define HOST_NVERSIONS	(sizeof(host_versions) / sizeof(host_versions[0]))

#define HOST_NSHARES	4
#define HOST_DAY	86400LL

static struct {
	int			 ready;
	int64_t			 start_us;	/* first host_init of the tree */
	struct host		 h;
	char			 share[16];
	char			 admin_path[64];
	char			 docs_path[64];
	struct host_share	 shares[HOST_NSHARES];
} host;

/* The table's row of a host.version value, or NULL. */
static const struct host_version *
host_version_find(const char *version)
{
	size_t	i;

	for (i = 0; version != NULL && i < HOST_NVERSIONS; i++)
		if (strcmp(host_versions[i].version, version) == 0)
			return &host_versions[i];
	return NULL;
}

/* The version, or the default one's if it is none that we know. */
static const struct host_version *
host_version_or_default(const char *version)
{
	const struct host_version	*v = host_version_find(version);

	return v != NULL ? v : host_version_find(HOST_DEFAULT_VERSION);
}

int
host_version_known(const char *version)
{
	return host_version_find(version) != NULL;
}

size_t
host_cmd_banner(const char *version, char *buf, size_t len)
{
	const struct host_version	*v = host_version_or_default(version);
	int				 n;

	n = snprintf(buf, len, "%s\r\n\r\n", v->banner);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* The value of one hex digit, or -1. */
static int
host_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", braces allowed, into the
 * wire form: the first three groups little-endian, as a GUID is sent.
 */
int
host_guid_parse(const char *text, uint8_t *guid)
{
	static const uint8_t	 order[16] = {
		3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15
	};
	uint8_t			 raw[16];
	size_t			 len = strlen(text), i, k = 0;
	int			 hi, lo;

	if (len == 38 && text[0] == '{' && text[37] == '}') {
		text++;
		len = 36;
	}
	if (len != 36)
		return -1;
	for (i = 0; i < 36; ) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i++] != '-')
				return -1;
			continue;
		}
		if ((hi = host_hex((unsigned char)text[i])) == -1 ||
		    (lo = host_hex((unsigned char)text[i + 1])) == -1)
			return -1;
		raw[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	if (guid != NULL)
		for (i = 0; i < 16; i++)
			guid[i] = raw[order[i]];
	return 0;
}

/* SHA-256 of what, label, name and domain: the seed of what is derived. */
static void
host_hash(const char *label, const char *name, const char *domain,
    uint8_t out[32])
{
	char		 in[128];
	unsigned int	 n = 32;
	int		 len;

	len = snprintf(in, sizeof(in), "%s\\%s\\%s", label, name, domain);
	if (len < 0 || (size_t)len >= sizeof(in) ||
	    EVP_Digest(in, (size_t)len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0x5a, 32);
}

/* The time of day in Unix microseconds. */
static int64_t
host_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* src into dst (cap bytes with the NUL), upper or lower case. */
static void
host_copy_case(char *dst, size_t cap, const char *src, int upper)
{
	size_t	i;

	for (i = 0; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = (char)(upper ? toupper((unsigned char)src[i]) :
		    tolower((unsigned char)src[i]));
	dst[i] = '\0';
}

/* The four shares of a stock install, their paths after the host's. */
static void
host_shares(const struct host_version *v)
{
	struct host_share	*s = host.shares;
	struct host		*h = &host.h;

	snprintf(host.admin_path, sizeof(host.admin_path), "%s",
	    h->system_root);
	snprintf(host.docs_path, sizeof(host.docs_path), "%s", v->docs);
	/* The order in which a stock install lists them. */
	s[0] = (struct host_share){ "IPC$",
	    HOST_SHARE_IPC | HOST_SHARE_SPECIAL, "Remote IPC", "" };
	s[1] = (struct host_share){ host.share, HOST_SHARE_DISK, "",
	    host.docs_path };
	s[2] = (struct host_share){ "ADMIN$",
	    HOST_SHARE_DISK | HOST_SHARE_SPECIAL, "Remote Admin",
	    host.admin_path };
	s[3] = (struct host_share){ "C$", HOST_SHARE_DISK | HOST_SHARE_SPECIAL,
	    "Default share", "C:\\" };
	h->shares = host.shares;
	h->nshares = HOST_NSHARES;
}

/*
 * Fills the host from the values of the keys (NULL or 0: the default).
 * uptime 0: three to fourteen days, by the names.
 */
static void
host_set(const char *name, const char *domain, const char *version,
    const char *root, const char *guid, const char *dns_domain,
    const char *share, uint32_t uptime)
{
	const struct host_version	*v;
	struct host			*h = &host.h;
	uint8_t				 d[32];
	uint64_t			 up;

	v = host_version_or_default(version);
	memset(h, 0, sizeof(*h));
	host_copy_case(h->name, sizeof(h->name), name != NULL ? name :
	    HOST_DEFAULT_NAME, 1);
	host_copy_case(h->domain, sizeof(h->domain), domain != NULL ?
	    domain : HOST_DEFAULT_DOMAIN, 1);
	host_copy_case(h->dns_name, sizeof(h->dns_name), h->name, 0);
	host_copy_case(h->dns_domain, sizeof(h->dns_domain),
	    dns_domain != NULL ? dns_domain : "", 0);
	snprintf(h->version, sizeof(h->version), "%s", v->version);
	h->major = v->major;
	h->minor = v->minor;
	h->build = v->build;
	snprintf(h->native_os, sizeof(h->native_os), "%s", v->native_os);
	snprintf(h->native_lanman, sizeof(h->native_lanman), "%s",
	    v->native_lanman);
	snprintf(h->product, sizeof(h->product), "%s", v->product);
	snprintf(h->system_root, sizeof(h->system_root), "%s",
	    root != NULL ? root : HOST_DEFAULT_ROOT);
	h->smb2_max = v->smb2_max;

	host_hash("guid", h->name, h->domain, d);
	if (guid == NULL || *guid == '\0' || host_guid_parse(guid, h->guid)) {
		memcpy(h->guid, d, 16);
		/* A version 4 GUID, as Windows makes them. */
		h->guid[7] = (uint8_t)((h->guid[7] & 0x0f) | 0x40);
		h->guid[8] = (uint8_t)((h->guid[8] & 0x3f) | 0x80);
	}
	up = uptime;
	if (up == 0) {
		host_hash("uptime", h->name, h->domain, d);
		up = 3 * HOST_DAY + ((uint64_t)d[0] << 24 | (uint64_t)d[1] <<
		    16 | (uint64_t)d[2] << 8 | d[3]) % (11 * HOST_DAY);
	}
	if (host.start_us == 0)
		host.start_us = host_now_us();
	h->boot_us = host.start_us - (int64_t)up * 1000000;

	snprintf(host.share, sizeof(host.share), "%s", share != NULL ?
	    share : HOST_DEFAULT_SHARE);
	host_shares(v);
	host.ready = 1;
}

int
host_init(const struct config *conf)
{
	if (conf == NULL) {
		log_warnx("host: no configuration");
		return -1;
	}
	host_set(conf->host_name, conf->host_domain, conf->host_version,
	    conf->host_system_root, conf->host_guid, conf->host_dns_domain,
	    conf->host_share, conf->host_uptime);
	if (strcmp(host.h.version, conf->host_version != NULL ?
	    conf->host_version : host.h.version) != 0) {
		log_warnx("host: unknown version %s", conf->host_version);
		return -1;
	}
	return 0;
}

const struct host *
host_get(void)
{
	if (!host.ready)
		host_set(NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0);
	return &host.h;
}

const struct host_share *
host_share_find(const char *name, size_t len)
{
	const struct host	*h = host_get();
	size_t			 i;

	while (len > 0 && name[len - 1] == '\0')
		len--;
	for (i = 0; i < h->nshares; i++)
		if (strlen(h->shares[i].name) == len &&
		    strncasecmp(h->shares[i].name, name, len) == 0)
			return &h->shares[i];
	return NULL;
}

uint64_t
host_filetime(int64_t usec)
{
	/* 11644473600 s between 1601-01-01 and 1970-01-01. */
	return (uint64_t)(usec + 11644473600LL * 1000000) * 10;
}

/* One AV pair of a UTF-16LE string; its length, 0 if it does not fit. */
static size_t
host_av_str(uint8_t *p, size_t cap, uint16_t id, const char *s)
{
	size_t	i, n = strlen(s);

	if (cap < 4 || n * 2 > cap - 4)
		return 0;
	p[0] = (uint8_t)id;
	p[1] = (uint8_t)(id >> 8);
	p[2] = (uint8_t)(n * 2);
	p[3] = (uint8_t)(n * 2 >> 8);
	for (i = 0; i < n; i++) {
		p[4 + 2 * i] = (uint8_t)s[i];
		p[5 + 2 * i] = 0;
	}
	return 4 + n * 2;
}

size_t
host_ntlm_target_info(uint8_t *buf, size_t cap)
{
	const struct host	*h = host_get();
	char			 fqdn[128];
	size_t			 at = 0, n, i;
	uint64_t		 ft;

	/*
	 * A host in a workgroup is its own DNS domain, as a standalone
	 * Windows answers; a domain member names its domain.
	 */
	if (h->dns_domain[0] != '\0')
		snprintf(fqdn, sizeof(fqdn), "%s.%s", h->dns_name,
		    h->dns_domain);
	else
		snprintf(fqdn, sizeof(fqdn), "%s", h->dns_name);
	if ((n = host_av_str(buf, cap, 2, h->domain)) == 0)	/* NbDomain */
		return 0;
	at += n;
	if ((n = host_av_str(buf + at, cap - at, 1, h->name)) == 0)
		return 0;
	at += n;
	if ((n = host_av_str(buf + at, cap - at, 4, h->dns_domain[0] != '\0' ?
	    h->dns_domain : h->dns_name)) == 0)
		return 0;
	at += n;
	if ((n = host_av_str(buf + at, cap - at, 3, fqdn)) == 0)
		return 0;
	at += n;
	/* Windows before Vista sent no timestamp. */
	if (h->major >= 6) {
		if (cap - at < 12)
			return 0;
		buf[at] = 7;
		buf[at + 1] = 0;
		buf[at + 2] = 8;
		buf[at + 3] = 0;
		ft = host_filetime(host_now_us());
		for (i = 0; i < 8; i++)
			buf[at + 4 + i] = (uint8_t)(ft >> (8 * i));
		at += 12;
	}
	if (cap - at < 4)
		return 0;
	memset(buf + at, 0, 4);		/* MsvAvEOL */
	return at + 4;
}
