/*
 * The configuration: one YAML file (sundew.yaml), every key with a default,
 * validated as a whole before anything starts.  Errors name the file, the
 * line and the key.  `-o key=value` overrides any key; the value is read as
 * YAML, so lists work too (-o services.http.ports=[8080,8081]).
 */
#ifndef SUNDEW_CONFIG_H
#define SUNDEW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_PORTS	16	/* per service */
#define CONFIG_MAX_LISTEN	8	/* listen.address entries */
#define CONFIG_MAX_SERVICES	64
#define CONFIG_MAX_ALLOW	64	/* download.allow blocks */
#define CONFIG_MAX_CONNECT_TO	64	/* download.connect_to rules */

struct addr_cidr;	/* addr.h */
struct addr_rule;

enum config_format {
	CONFIG_FORMAT_FLAT = 0,		/* Cowrie/T-Pot style flat keys */
	CONFIG_FORMAT_ECS		/* Elastic Common Schema names */
};

struct config_service {
	const char	*name;		/* points into the service table */
	int		 enabled;
	uint16_t	 ports[CONFIG_MAX_PORTS];
	size_t		 nports;
};

struct config {
	char		*path;		/* file read; NULL: built-in defaults */
	/*
	 * NULL, or a line the user should read though the configuration is
	 * valid: "FILE: empty (no key set): the built-in defaults apply...".
	 */
	char		*warning;

	char		*sensor_name;	/* sensor:, default: the host name */
	char		*data_dir;	/* data_dir:, made absolute at load */
	char		*user;		/* user: the children drop to it */
	int		 sensors;	/* sensors:, 0 = one per CPU */

	char		*listen_addr[CONFIG_MAX_LISTEN];  /* listen.address */
	size_t		 nlisten_addr;
	int		 listen_backlog;	/* listen.backlog */

	/* limits.* */
	uint32_t	 max_connections;	/* all sensors together */
	uint32_t	 per_source;		/* open connections per address */
	uint32_t	 idle_timeout;		/* seconds without input */
	uint32_t	 session_timeout;	/* seconds in all */
	uint64_t	 max_input;		/* bytes kept per session */
	uint64_t	 nofile;		/* RLIMIT_NOFILE to ask for */

	/* output.* */
	int		 json_enabled;		/* output.json.enabled */
	char		*json_path;		/* relative to data_dir */
	uint64_t	 json_max_size;		/* bytes; rotate past it */
	uint32_t	 json_max_age;		/* seconds; rotate past it */
	uint32_t	 json_keep;		/* rotated files kept */
	enum config_format json_format;		/* output.json.format */
	int		 sqlite_enabled;	/* output.sqlite.enabled */
	char		*sqlite_path;		/* relative to data_dir */

	/*
	 * host.*: the one Windows host that every emulator presents (the
	 * shells' cmd.exe now, the SMB emulator's names later).
	 */
	char		*host_name;		/* NetBIOS name */
	char		*host_domain;		/* workgroup or domain */
	char		*host_version;		/* "5.1.2600" */
	char		*host_system_root;	/* "C:\\WINDOWS" */
	char		*host_guid;		/* "": derived from the names */
	char		*host_dns_domain;	/* "": a workgroup */
	char		*host_share;		/* the disk share, "SharedDocs" */
	uint32_t	 host_uptime;		/* seconds, 0: derived */

	/* shell.*: bind and connect-back shells */
	uint32_t	 shell_listen_timeout;	/* seconds a bind waits */
	uint32_t	 shell_session_timeout;	/* seconds a shell lasts */
	uint32_t	 shell_max;		/* open shells per sensor */
	/* download.*: every outbound connection (egress.h, download.h) */
	int		 download_enabled;
	uint64_t	 download_max_size;	/* bytes of one file */
	uint32_t	 download_timeout;	/* seconds of one try */
	uint64_t	 download_min_speed;	/* bytes/s, 0 = no floor */
	uint32_t	 download_min_speed_time; /* seconds below it */
	int		 download_retries;	/* tries after the first */
	uint32_t	 download_retry_delay;	/* seconds between tries */
	uint32_t	 download_max_concurrent; /* per sensor, 0 = no cap */
	uint32_t	 download_per_source;	/* a minute, 0 = no cap */
	uint32_t	 download_url_interval;	/* seconds a URL rests */
	char		*download_source_address; /* "" or an address */
	struct addr_cidr *download_allow;	/* let through the policy */
	size_t		 download_nallow;
	struct addr_rule *download_connect_to;	/* in order, first wins */
	size_t		 download_nconnect_to;
	char		*download_resolv_conf;	/* absolute, read at start */
	char		*download_hosts;	/* absolute, read at start */

	uint64_t	 max_disk;	/* store.max_disk: bytes, 0 = none */
	int		 seccomp;	/* sandbox.seccomp */

	struct config_service services[CONFIG_MAX_SERVICES];
	size_t		 nservices;
};

/*
 * Fills *conf from the file at path (NULL: defaults only), then applies the
 * "key=value" overrides.  On error returns -1 and writes one line to err:
 * "FILE:LINE: KEY: what is wrong" (for an override, "-o KEY: ...").
 * Nothing in *conf is to be used after an error; config_free() is safe.
 * A valid configuration may still come with conf->warning to show.
 */
int	config_load(struct config *conf, const char *path,
	    char *const *overrides, size_t noverrides, char *err, size_t errlen);
void	config_free(struct config *conf);

/* The configuration of the named service, or NULL. */
const struct config_service *config_service(const struct config *conf,
	    const char *name);

/* Writes the effective configuration as YAML (for `check-config -v`). */
void	config_dump(const struct config *conf, FILE *fp);

#endif
