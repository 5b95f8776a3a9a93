/*
 * The one Windows host that every emulator presents (DESIGN.md section 2):
 * names, OS version and build, SMB server GUID, boot time, shares and the
 * NTLM target information all come from the host.* block of the
 * configuration and agree everywhere, so that a scanner (nmap's smb-*
 * scripts) tells one story.  Nothing in a reply is random filler: what is
 * not configured is derived from what is (the GUID from the names), so a
 * sensor says the same after a restart.
 */
#ifndef SUNDEW_HOST_H
#define SUNDEW_HOST_H

#include <stddef.h>
#include <stdint.h>

struct config;

/*
 * What the host is when host.* does not say (config.c's defaults, and
 * host_get() before any configuration): an unpatched XP in a workgroup.
 */
#define HOST_DEFAULT_NAME	"ACCOUNTING-PC3"
#define HOST_DEFAULT_DOMAIN	"WORKGROUP"
#define HOST_DEFAULT_VERSION	"5.1.2600"
#define HOST_DEFAULT_ROOT	"C:\\WINDOWS"
#define HOST_DEFAULT_SHARE	"SharedDocs"

/* A share of the host's (tree connect, NetShareEnumAll, RAP). */
#define HOST_SHARE_DISK		0x00000000	/* STYPE_DISKTREE */
#define HOST_SHARE_IPC		0x00000003	/* STYPE_IPC */
#define HOST_SHARE_SPECIAL	0x80000000	/* STYPE_SPECIAL (ADMIN$, C$) */

struct host_share {
	const char	*name;		/* "IPC$" */
	uint32_t	 type;		/* HOST_SHARE_* */
	const char	*remark;	/* "Remote IPC" */
	const char	*path;		/* "C:\\WINDOWS", "" for IPC$ */
};

struct host {
	char		 name[16];	/* NetBIOS name, upper case */
	char		 domain[16];	/* workgroup or domain, upper case */
	char		 dns_name[64];	/* "accounting-pc3", lower case */
	char		 dns_domain[64];	/* "" in a workgroup */
	char		 version[16];	/* "5.1.2600", as configured */
	uint8_t		 major, minor;	/* 5.1 */
	uint16_t	 build;		/* 2600 */
	char		 native_os[64];	/* SMB1 NativeOS: "Windows 5.1" */
	char		 native_lanman[64];	/* "Windows 2000 LAN Manager" */
	char		 product[64];	/* "Windows XP", for cmd.exe and RAP */
	char		 system_root[64];	/* "C:\\WINDOWS" */
	uint8_t		 guid[16];	/* SMB server GUID */
	int64_t		 boot_us;	/* boot time, Unix microseconds */
	/* The highest SMB2 dialect the version speaks (0x0202 ... 0x0311). */
	uint16_t	 smb2_max;
	const struct host_share	*shares;
	size_t		 nshares;
};

/* Reads the host.* keys (after config_load); 0, or -1 with a log line. */
int			 host_init(const struct config *);
/* The host; host_init() must have run (defaults if never configured). */
const struct host	*host_get(void);
/* A share by name, case-insensitively; NULL if the host has none. */
const struct host_share	*host_share_find(const char *name, size_t len);
/* Unix microseconds as a Windows FILETIME (100 ns since 1601). */
uint64_t		 host_filetime(int64_t usec);
/*
 * The NTLM target information (AV pairs: NetBIOS and DNS computer and
 * domain names, timestamp) into buf; its length, 0 if cap is too small.
 */
size_t			 host_ntlm_target_info(uint8_t *buf, size_t cap);

/* The versions host.version may take, for the configuration's checks. */
int			 host_version_known(const char *version);
#define HOST_VERSIONS_TEXT \
	"expected 5.0.2195 (Windows 2000), 5.1.2600 (XP), 5.2.3790 (Server " \
	"2003), 6.0.6002 (Server 2008), 6.1.7601 (7), 6.2.9200 (Server " \
	"2012), 6.3.9600 (Server 2012 R2), 10.0.14393 (Server 2016), " \
	"10.0.17763 (Server 2019), 10.0.18362 or 10.0.18363 (10 1903, 1909)"
/* A GUID's text form ("{...}" or bare) into guid (NULL: check); 0 or -1. */
int			 host_guid_parse(const char *text, uint8_t *guid);
/*
 * cmd.exe's banner for a version (an unknown one: XP's): its two lines
 * and the blank line after them; its length, 0 if len is too small.
 */
size_t			 host_cmd_banner(const char *version, char *buf,
			    size_t len);

#endif
