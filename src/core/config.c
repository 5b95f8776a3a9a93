/*
 * The configuration (config.h): defaults, then the YAML file, then the -o
 * overrides, then the checks that span keys.  Everything is built in a
 * private struct config that is handed over only when the whole of it is
 * valid, so a caller never sees a half-applied configuration.
 *
 * Keys are dotted paths ("limits.idle_timeout").  A file may nest them as
 * mappings or spell them dotted; either way every leaf goes through one
 * table (config_keys[]) or, for services.NAME.*, through the service table
 * of proto.c.  Reading and checking one value is config_value.c's.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfyaml.h>

#include "addr.h"
#include "config.h"
#include "config_int.h"
#include "host.h"
#include "proto.h"

#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes of YAML we read */
#define CONFIG_KEY_MAX		256		/* a dotted key */
#define KNUM(name, type, field, min, max, def) \
	{ name, type, offsetof(struct config, field), min, max, def, NULL }
#define KSTR(name, type, field, def) \
	{ name, type, offsetof(struct config, field), 0, 0, 0, def }

/*
 * Every key but services.*, in the order config_dump() writes them; keys of
 * one section stay together.  sensor: and listen.address have defaults that
 * are computed (config_defaults()).
 */
static const struct config_key config_keys[] = {
	KSTR("sensor", CONFIG_T_NAME, sensor_name, NULL),
	KSTR("data_dir", CONFIG_T_DIR, data_dir, "var"),
	KSTR("user", CONFIG_T_USER, user, "sundew"),
	KNUM("sensors", CONFIG_T_INT, sensors, 0, 64, 0),
	KSTR("listen.address", CONFIG_T_ADDRS, listen_addr, NULL),
	KNUM("listen.backlog", CONFIG_T_INT, listen_backlog, 1, 65535, 4096),
	KNUM("limits.max_connections", CONFIG_T_U32, max_connections,
	    0, 10000000, 60000),
	KNUM("limits.per_source", CONFIG_T_U32, per_source, 0, 10000000, 64),
	KNUM("limits.idle_timeout", CONFIG_T_DURATION, idle_timeout,
	    1, UINT32_MAX, 120),
	KNUM("limits.session_timeout", CONFIG_T_DURATION, session_timeout,
	    1, UINT32_MAX, 600),
	/* At most what one message to the store carries (proc.h). */
	KNUM("limits.max_input", CONFIG_T_SIZE, max_input, 1, 64 * MIB, 4 * MIB),
	KNUM("limits.nofile", CONFIG_T_U64, nofile, 64, 1073741816, 131072),
	KNUM("output.json.enabled", CONFIG_T_BOOL, json_enabled, 0, 1, 1),
	KSTR("output.json.path", CONFIG_T_PATH, json_path, "log/sundew.json"),
	KNUM("output.json.max_size", CONFIG_T_SIZE, json_max_size,
	    0, UINT64_MAX, 100 * MIB),
	KNUM("output.json.max_age", CONFIG_T_DURATION, json_max_age,
	    0, UINT32_MAX, 86400),
	KNUM("output.json.keep", CONFIG_T_U32, json_keep, 0, 10000, 10),
	KNUM("output.json.format", CONFIG_T_FORMAT, json_format, 0, 1,
	    CONFIG_FORMAT_FLAT),
	KNUM("output.sqlite.enabled", CONFIG_T_BOOL, sqlite_enabled, 0, 1, 1),
	KSTR("output.sqlite.path", CONFIG_T_PATH, sqlite_path, "sundew.sqlite"),
	KSTR("host.name", CONFIG_T_NETBIOS, host_name, HOST_DEFAULT_NAME),
	KSTR("host.domain", CONFIG_T_NETBIOS, host_domain,
	    HOST_DEFAULT_DOMAIN),
	KSTR("host.version", CONFIG_T_WINVER, host_version,
	    HOST_DEFAULT_VERSION),
	KSTR("host.system_root", CONFIG_T_WINPATH, host_system_root,
	    HOST_DEFAULT_ROOT),
	KSTR("host.guid", CONFIG_T_GUID, host_guid, ""),
	KSTR("host.dns_domain", CONFIG_T_DNSNAME, host_dns_domain, ""),
	KSTR("host.share", CONFIG_T_SHARE, host_share, HOST_DEFAULT_SHARE),
	/* Up since this long before the daemon started; 0: a few days. */
	KNUM("host.uptime", CONFIG_T_DURATION, host_uptime, 0,
	    10 * 365 * 86400, 0),
	KNUM("shell.listen_timeout", CONFIG_T_DURATION, shell_listen_timeout,
	    1, 86400, 180),
	KNUM("shell.session_timeout", CONFIG_T_DURATION,
	    shell_session_timeout, 1, 86400, 600),
	KNUM("shell.max_open", CONFIG_T_U32, shell_max, 0, 65536, 256),
	KNUM("download.enabled", CONFIG_T_BOOL, download_enabled, 0, 1, 1),
	/* At most what one message to the store carries (proc.h). */
	KNUM("download.max_size", CONFIG_T_SIZE, download_max_size,
	    1, 64 * MIB, 16 * MIB),
	KNUM("download.timeout", CONFIG_T_DURATION, download_timeout,
	    1, 86400, 120),
	/* A server that trickles holds a slot no longer than this. */
	KNUM("download.min_speed", CONFIG_T_SIZE, download_min_speed,
	    0, 64 * MIB, 512),
	KNUM("download.min_speed_time", CONFIG_T_DURATION,
	    download_min_speed_time, 1, 86400, 30),
	KNUM("download.retries", CONFIG_T_INT, download_retries, 0, 10, 2),
	KNUM("download.retry_delay", CONFIG_T_DURATION, download_retry_delay,
	    0, 86400, 10),
	KNUM("download.max_concurrent", CONFIG_T_U32, download_max_concurrent,
	    0, 1000000, 256),
	KNUM("download.per_source", CONFIG_T_U32, download_per_source,
	    0, 1000000, 30),
	KNUM("download.url_interval", CONFIG_T_DURATION, download_url_interval,
	    0, 30 * 86400, 3600),
	KSTR("download.source_address", CONFIG_T_ADDR, download_source_address,
	    ""),
	KSTR("download.allow", CONFIG_T_CIDRS, download_allow, NULL),
	KSTR("download.connect_to", CONFIG_T_RULES, download_connect_to, NULL),
	KSTR("download.resolv_conf", CONFIG_T_FILE, download_resolv_conf,
	    "/etc/resolv.conf"),
	KSTR("download.hosts", CONFIG_T_FILE, download_hosts, "/etc/hosts"),
	KNUM("store.max_disk", CONFIG_T_SIZE, max_disk, 0, UINT64_MAX,
	    10 * GIB),
	KNUM("sandbox.seccomp", CONFIG_T_BOOL, seccomp, 0, 1, 1),
};
#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/* The two keys of every service. */
static const struct config_key config_svc_enabled =
	KNUM("enabled", CONFIG_T_SVC_ENABLED, services, 0, 1, 1);
static const struct config_key config_svc_ports =
	KNUM("ports", CONFIG_T_SVC_PORTS, services, 1, 65535, 0);

/* Where a key got its value: line 0 and not override means the default. */
struct config_where {
	int		 line;		/* 1-based line in the file */
	int		 override;	/* set by -o */
};

#define CONFIG_NWHERE	(CONFIG_NKEYS + 2 * CONFIG_MAX_SERVICES)

/*
 * A section the file wrote (as a key: "limits:", "output.json:"): a
 * second one is an error, not merged silently.  Sections are the
 * prefixes of config_keys[] and services.NAME: this many at most.
 */
#define CONFIG_MAX_SECTIONS	(CONFIG_NKEYS + CONFIG_MAX_SERVICES + 1)
#define CONFIG_SECTION_MAX	64	/* the longest name checked */

struct config_section {
	char	name[CONFIG_SECTION_MAX];
	int	line;
};

/* A leaf key found by name: its table row and, for services, the index. */
struct config_ref {
	const struct config_key	*key;
	size_t			 svc;	/* services[] index */
	size_t			 where;	/* config_ctx.where[] index */
};

/*
 * Writes the one-line error: "FILE:LINE: KEY: message", "-o KEY: message"
 * for an override, "FILE: KEY: message" for a key that kept its default.
 * An empty key leaves out "KEY: ".  Returns -1.
 */
static int __attribute__((format(printf, 5, 0)))
config_verr(struct config_ctx *ctx, int override, int line, const char *key,
    const char *fmt, va_list ap)
{
	char	 skey[CONFIG_KEY_MAX];
	int	 n;

	if (ctx->errlen == 0)
		return -1;
	config_value_show(skey, sizeof(skey), key, strlen(key));
	if (override)
		n = snprintf(ctx->err, ctx->errlen, "-o %s: ", skey);
	else if (line > 0)
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: %s%s", ctx->file,
		    line, skey, *skey != '\0' ? ": " : "");
	else
		n = snprintf(ctx->err, ctx->errlen, "%s: %s%s",
		    ctx->file != NULL ? ctx->file : "defaults", skey,
		    *skey != '\0' ? ": " : "");
	if (n >= 0 && (size_t)n < ctx->errlen)
		vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
	return -1;
}

/* An error at line of the file, or in the -o being applied. */
int
config_err(struct config_ctx *ctx, int line, const char *key,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	config_verr(ctx, ctx->override, line, key, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error at the place a key was set (file line, -o or default). */
static int __attribute__((format(printf, 4, 5)))
config_err_at(struct config_ctx *ctx, const struct config_where *w,
    const char *key, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	config_verr(ctx, w->override, w->line, key, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Finds the leaf key called name.  Returns 0 and fills *ref (if not NULL),
 * or -1 when name is not a leaf (it may still be a section).
 */
static int
config_lookup(const char *name, struct config_ref *ref)
{
	const struct service_def	*def;
	struct config_ref		 scratch;
	const char			*leaf;
	char				 svc[CONFIG_KEY_MAX];
	size_t				 i, len;

	if (ref == NULL)
		ref = &scratch;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].name, name) == 0) {
			ref->key = &config_keys[i];
			ref->svc = 0;
			ref->where = i;
			return 0;
		}
	}
	if (strncmp(name, "services.", 9) != 0 ||
	    (leaf = strrchr(name + 9, '.')) == NULL)
		return -1;
	len = (size_t)(leaf - (name + 9));
	if (len >= sizeof(svc))
		return -1;
	memcpy(svc, name + 9, len);
	svc[len] = '\0';
	if ((def = proto_find(svc)) == NULL)
		return -1;
	ref->svc = (size_t)(def - proto_table);
	if (strcmp(leaf + 1, "enabled") == 0) {
		ref->key = &config_svc_enabled;
		ref->where = CONFIG_NKEYS + 2 * ref->svc;
	} else if (strcmp(leaf + 1, "ports") == 0) {
		ref->key = &config_svc_ports;
		ref->where = CONFIG_NKEYS + 2 * ref->svc + 1;
	} else
		return -1;
	return 0;
}

/* Whether name is a section: "", "limits", "output.json", "services.smb". */
static int
config_is_section(const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || strcmp(name, "services") == 0)
		return 1;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strncmp(config_keys[i].name, name, len) == 0 &&
		    config_keys[i].name[len] == '.')
			return 1;
	return strncmp(name, "services.", 9) == 0 &&
	    strchr(name + 9, '.') == NULL && proto_find(name + 9) != NULL;
}

/*
 * Reports an unknown key, with the closest known key or section as a
 * hint when it is only a typo away.
 */
static int
config_unknown(struct config_ctx *ctx, const char *name, int line)
{
	static const char	*const leaves[] = { "", ".enabled", ".ports" };
	char			 best[CONFIG_KEY_MAX], cand[CONFIG_KEY_MAX];
	const char		*kname, *dot;
	size_t			 i, j, bestd = SIZE_MAX;

	best[0] = '\0';
	for (i = 0; i < CONFIG_NKEYS; i++) {
		kname = config_keys[i].name;
		config_value_closer(name, kname, best, sizeof(best), &bestd);
		/* Its sections too: "limit" is close to "limits". */
		for (dot = strchr(kname, '.'); dot != NULL;
		    dot = strchr(dot + 1, '.')) {
			snprintf(cand, sizeof(cand), "%.*s",
			    (int)(dot - kname), kname);
			config_value_closer(name, cand, best, sizeof(best),
			    &bestd);
		}
	}
	config_value_closer(name, "services", best, sizeof(best), &bestd);
	for (i = 0; i < proto_table_len; i++) {
		for (j = 0; j < 3; j++) {
			snprintf(cand, sizeof(cand), "services.%s%s",
			    proto_table[i].name, leaves[j]);
			config_value_closer(name, cand, best, sizeof(best),
			    &bestd);
		}
	}
	if (bestd <= 3 && bestd <= strlen(name) / 2)
		return config_err(ctx, line, name,
		    "unknown key, did you mean %s?", best);
	if (strncmp(name, "services.", 9) == 0 &&
	    strchr(name + 9, '.') == NULL)
		return config_err(ctx, line, name, "unknown service");
	return config_err(ctx, line, name, "unknown key");
}

/* Stores the value of one leaf key. */
static int
config_set(struct config_ctx *ctx, const struct config_ref *ref,
    const char *name, struct fy_node *node, int line)
{
	struct config_where	*w = &ctx->where[ref->where];
	struct config_service	*svc = &ctx->conf->services[ref->svc];
	int			 v, rc;

	if (!ctx->override && w->line > 0)
		return config_err(ctx, line, name, "already set on line %d",
		    w->line);
	switch (ref->key->type) {
	case CONFIG_T_NAME:
	case CONFIG_T_DIR:
	case CONFIG_T_USER:
	case CONFIG_T_PATH:
	case CONFIG_T_NETBIOS:
	case CONFIG_T_WINVER:
	case CONFIG_T_WINPATH:
	case CONFIG_T_GUID:
	case CONFIG_T_DNSNAME:
	case CONFIG_T_SHARE:
	case CONFIG_T_FILE:
		rc = config_value_set_string(ctx, ref->key, name, node, line);
		break;
	case CONFIG_T_ADDR:
		rc = config_value_set_addr(ctx, ref->key, name, node, line);
		break;
	case CONFIG_T_CIDRS:
		rc = config_value_set_cidrs(ctx, name, node, line);
		break;
	case CONFIG_T_RULES:
		rc = config_value_set_rules(ctx, name, node, line);
		break;
	case CONFIG_T_INT:
	case CONFIG_T_U32:
	case CONFIG_T_U64:
	case CONFIG_T_DURATION:
	case CONFIG_T_SIZE:
		rc = config_value_set_num(ctx, ref->key, name, node, line);
		break;
	case CONFIG_T_BOOL:
	case CONFIG_T_FORMAT:
		if ((rc = config_value_get_word(ctx, name, node, line,
		    ref->key->type, &v)) != 0)
			break;
		/* The words' order is that of enum config_format. */
		config_value_num_put(ctx->conf, ref->key, (uint64_t)v);
		break;
	case CONFIG_T_ADDRS:
		rc = config_value_set_addrs(ctx, name, node, line);
		break;
	case CONFIG_T_SVC_ENABLED:
		if ((rc = config_value_get_word(ctx, name, node, line,
		    CONFIG_T_BOOL, &v)) == 0)
			svc->enabled = v;
		break;
	case CONFIG_T_SVC_PORTS:
		rc = config_value_set_ports(ctx, name, node, line, svc);
		break;
	default:
		rc = config_err(ctx, line, name, "internal: bad key type");
		break;
	}
	if (rc == 0) {
		w->line = ctx->override ? 0 : line;
		w->override = ctx->override;
	}
	return rc;
}

/*
 * Notes that the file writes the section name at line; an error if it
 * wrote it before, as YAML has it for a key written twice (libfyaml's
 * "duplicate key", which FYPCF_ALLOW_DUPLICATE_KEYS turns off so that a
 * leaf written twice gets "already set on line N" from config_set).
 */
static int
config_section_once(struct config_ctx *ctx, const char *name, int line)
{
	struct config_section	*sec;
	size_t			 i;

	if (ctx->override || *name == '\0' ||
	    strlen(name) >= CONFIG_SECTION_MAX)
		return 0;
	for (i = 0; i < ctx->nsections; i++) {
		sec = &ctx->sections[i];
		if (strcmp(sec->name, name) == 0)
			return config_err(ctx, line, name, "section written "
			    "twice, first on line %d; put all its keys in one",
			    sec->line);
	}
	if (ctx->nsections == CONFIG_MAX_SECTIONS)
		return 0;	/* not reached: names are sections */
	sec = &ctx->sections[ctx->nsections++];
	snprintf(sec->name, sizeof(sec->name), "%s", name);
	sec->line = line;
	return 0;
}

/*
 * Applies node as the value of name: a leaf key gets it, a section takes a
 * mapping of its keys (or nothing), anything else is an unknown key.  line
 * is the line of the key that introduced node.
 */
static int
config_apply(struct config_ctx *ctx, const char *name, struct fy_node *node,
    int line)
{
	struct config_ref	 ref;
	struct fy_node_pair	*pair;
	struct fy_node		*knode;
	void			*iter = NULL;
	const char		*k;
	char			 child[CONFIG_KEY_MAX];
	size_t			 klen, nlen = strlen(name);
	int			 kline, n;

	if (config_lookup(name, &ref) == 0)
		return config_set(ctx, &ref, name, node, line);
	if (!config_is_section(name))
		return config_unknown(ctx, name, line);
	if (config_section_once(ctx, name, line) == -1)
		return -1;
	if (config_value_is_null(node))
		return 0;
	if (fy_node_is_alias(node))
		return config_err(ctx, line, name,
		    "YAML aliases are not supported");
	if (fy_node_get_type(node) != FYNT_MAPPING)
		return config_err(ctx, config_value_line(node, line), name,
		    "expected a mapping of keys (key: value), got %s",
		    fy_node_get_type(node) == FYNT_SEQUENCE ? "a list" :
		    "a single value");
	while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
		knode = fy_node_pair_key(pair);
		kline = config_value_line(knode, line);
		if (knode == NULL || fy_node_get_type(knode) != FYNT_SCALAR ||
		    fy_node_is_alias(knode) ||
		    (k = fy_node_get_scalar(knode, &klen)) == NULL)
			return config_err(ctx, kline, name,
			    "a key must be a plain word");
		if (klen == 0 || memchr(k, '\0', klen) != NULL)
			return config_err(ctx, kline, name,
			    "a key must not be empty or hold a NUL byte");
		n = snprintf(child, sizeof(child), "%s%s%.*s", name,
		    nlen > 0 ? "." : "", (int)klen, k);
		if (n < 0 || (size_t)n >= sizeof(child))
			return config_err(ctx, kline, name, "key too long");
		if (config_apply(ctx, child, fy_node_pair_value(pair),
		    kline) == -1)
			return -1;
	}
	return 0;
}

/* libfyaml's messages that are not collected: keep the first. */
static void
config_diag_output(struct fy_diag *diag, void *user, const char *buf,
    size_t len)
{
	struct config_ctx	*ctx = user;

	(void)diag;
	if (ctx->diag[0] != '\0')
		return;
	if (len > 7 && memcmp(buf, "[ERR]: ", 7) == 0) {
		buf += 7;
		len -= 7;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	config_value_clean(ctx->diag, sizeof(ctx->diag), buf, len, SIZE_MAX);
}

/*
 * Parses text as one YAML document.  Returns 0 and *docp (NULL for an
 * empty stream), with the parser in *parserp to free the document with;
 * or -1 after a message naming the line of the syntax error.  key is what
 * the message names for a -o value ("" for a file).
 */
static int
config_parse_yaml(struct config_ctx *ctx, const char *key, const char *text,
    size_t len, struct fy_parser **parserp, struct fy_document **docp)
{
	struct fy_diag_cfg	 dcfg;
	struct fy_parse_cfg	 pcfg;
	struct fy_diag		*diag;
	struct fy_diag_error	*e;
	struct fy_parser	*parser;
	struct fy_document	*doc, *extra;
	void			*iter = NULL;
	int			 rc = 0;

	*parserp = NULL;
	*docp = NULL;
	ctx->diag[0] = '\0';
	if (config_value_check_text(ctx, key, text, len) == -1)
		return -1;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = config_diag_output;
	dcfg.user = ctx;
	dcfg.colorize = false;
	if ((diag = fy_diag_create(&dcfg)) == NULL)
		return config_err(ctx, 0, key, "cannot create a YAML parser");
	fy_diag_set_collect_errors(diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	pcfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 |
	    FYPCF_DISABLE_RECYCLING | FYPCF_ALLOW_DUPLICATE_KEYS;
	pcfg.diag = diag;
	if ((parser = fy_parser_create(&pcfg)) == NULL) {
		fy_diag_destroy(diag);
		return config_err(ctx, 0, key, "cannot create a YAML parser");
	}
	if (fy_parser_set_string(parser, text, len) != 0) {
		rc = config_err(ctx, 0, key, "cannot read the YAML text");
		goto done;
	}
	doc = fy_parse_load_document(parser);
	if (doc != NULL && !fy_parser_get_stream_error(parser)) {
		/* A second document that holds something is a mistake. */
		extra = fy_parse_load_document(parser);
		if (extra != NULL && !config_value_is_null(
		    fy_document_root(extra)))
			rc = config_err(ctx, config_value_line(
			    fy_document_root(extra), 0), key,
			    "only one YAML document is allowed");
		if (extra != NULL)
			fy_parse_document_destroy(parser, extra);
	}
	if (rc == 0 && fy_parser_get_stream_error(parser)) {
		if ((e = fy_diag_errors_iterate(diag, &iter)) != NULL) {
			char	msg[256];

			const char	*m = e->msg != NULL ? e->msg : "?";

			config_value_clean(msg, sizeof(msg), m, strlen(m),
			    SIZE_MAX);
			rc = config_err(ctx, e->line > 0 ? e->line : 0, key,
			    "invalid YAML: %s (column %d)", msg, e->column);
		} else
			rc = config_err(ctx, 0, key, "invalid YAML: %s",
			    ctx->diag[0] != '\0' ? ctx->diag : "syntax error");
	}
	if (rc == -1) {
		if (doc != NULL)
			fy_parse_document_destroy(parser, doc);
		goto done;
	}
	*docp = doc;
	*parserp = parser;
	parser = NULL;
 done:
	if (parser != NULL)
		fy_parser_destroy(parser);
	fy_diag_destroy(diag);
	return rc;
}

/* Frees what config_parse_yaml() returned. */
static void
config_yaml_free(struct fy_parser *parser, struct fy_document *doc)
{
	if (doc != NULL)
		fy_parse_document_destroy(parser, doc);
	if (parser != NULL)
		fy_parser_destroy(parser);
}

/* Reads at most CONFIG_FILE_MAX bytes of path into a new buffer. */
static int
config_read(struct config_ctx *ctx, const char *path, char **bufp,
    size_t *lenp)
{
	struct stat	 st;
	FILE		*fp;

	*bufp = NULL;
	if ((fp = fopen(path, "re")) == NULL)
		return config_err(ctx, 0, "", "cannot open: %s",
		    strerror(errno));
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		return config_err(ctx, 0, "", "cannot open: %s",
		    strerror(EISDIR));
	}
	if ((*bufp = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		return config_err(ctx, 0, "", "out of memory");
	}
	*lenp = fread(*bufp, 1, CONFIG_FILE_MAX + 1, fp);
	if (ferror(fp))
		config_err(ctx, 0, "", "cannot read: %s", strerror(errno));
	else if (*lenp > CONFIG_FILE_MAX)
		config_err(ctx, 0, "", "larger than %d bytes; is it the right "
		    "file?", CONFIG_FILE_MAX);
	else {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	free(*bufp);
	*bufp = NULL;
	return -1;
}

/* Reads and applies the file at path. */
static int
config_load_file(struct config_ctx *ctx, const char *path)
{
	struct fy_parser	*parser;
	struct fy_document	*doc;
	struct fy_node		*root;
	char			*text;
	size_t			 len = 0;
	int			 rc;

	if (config_read(ctx, path, &text, &len) == -1)
		return -1;
	if (config_parse_yaml(ctx, "", text, len, &parser, &doc) == -1) {
		free(text);
		return -1;
	}
	root = doc != NULL ? fy_document_root(doc) : NULL;
	rc = config_apply(ctx, "", root, 1);
	config_yaml_free(parser, doc);
	free(text);
	return rc;
}

/*
 * A download.connect_to rule may start with '[' (an IPv6 HOST) or ':' (any
 * HOST), which YAML reads as a flow list or a mapping, or not at all:
 * "-o download.connect_to=[::1]:80:127.0.0.1:8080" then takes the value
 * as written, one string.  A value that YAML reads as a string or a list
 * stays as it was read.  rc is what config_parse_yaml() returned for it;
 * returns the same, or that of parsing the value as one string, whose
 * text (*rawp) the caller frees after the document.
 */
static int
config_override_raw(struct config_ctx *ctx, const char *key,
    const char *value, int rc, struct fy_parser **parserp,
    struct fy_document **docp, char **rawp)
{
	struct config_ref	 ref;
	struct fy_node		*root;
	char			*quoted, *q;
	size_t			 len = strlen(value);

	if (config_lookup(key, &ref) == -1 ||
	    ref.key->type != CONFIG_T_RULES)
		return rc;
	if (rc == 0 && (*docp == NULL ||
	    (root = fy_document_root(*docp)) == NULL ||
	    fy_node_get_type(root) != FYNT_MAPPING))
		return 0;
	config_yaml_free(*parserp, *docp);
	*parserp = NULL;
	*docp = NULL;
	if ((q = quoted = *rawp = malloc(2 * len + 3)) == NULL)
		return config_err(ctx, 0, key, "out of memory");
	*q++ = '"';
	for (; *value != '\0'; value++) {
		if (*value == '"' || *value == '\\')
			*q++ = '\\';
		*q++ = *value;
	}
	*q++ = '"';
	/* libfyaml reads the text in place: it lives as long as the doc. */
	return config_parse_yaml(ctx, key, quoted, (size_t)(q - quoted),
	    parserp, docp);
}

/* Applies one "key=value" override; the value is read as YAML. */
static int
config_override(struct config_ctx *ctx, const char *arg)
{
	struct fy_parser	*parser;
	struct fy_document	*doc;
	const char		*eq;
	char			 key[CONFIG_KEY_MAX], *raw = NULL;
	size_t			 klen;
	int			 rc;

	ctx->override = 1;
	if ((eq = strchr(arg, '=')) == NULL || eq == arg)
		return config_err(ctx, 0, arg, "expected key=value");
	/* Blanks around the key are a typing accident, not part of it. */
	while (*arg == ' ' || *arg == '\t')
		arg++;
	klen = (size_t)(eq - arg);
	while (klen > 0 && (arg[klen - 1] == ' ' || arg[klen - 1] == '\t'))
		klen--;
	if (klen == 0)
		return config_err(ctx, 0, eq, "expected key=value");
	if (klen >= sizeof(key))
		return config_err(ctx, 0, "", "key too long");
	memcpy(key, arg, klen);
	key[klen] = '\0';
	/* An unknown key is worth more than a YAML error in its value. */
	if (config_lookup(key, NULL) == -1 && !config_is_section(key))
		return config_unknown(ctx, key, 0);
	rc = config_parse_yaml(ctx, key, eq + 1, strlen(eq + 1), &parser,
	    &doc);
	if (config_override_raw(ctx, key, eq + 1, rc, &parser, &doc,
	    &raw) == -1) {
		free(raw);
		return -1;
	}
	rc = config_apply(ctx, key, doc != NULL ? fy_document_root(doc) : NULL,
	    0);
	config_yaml_free(parser, doc);
	free(raw);
	ctx->override = 0;
	return rc;
}

/* Sets every key to its default. */
static int
config_defaults(struct config_ctx *ctx)
{
	struct config		*conf = ctx->conf;
	const struct config_key	*k;
	char			 host[256], *p;
	size_t			 i, j;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		if (k->sdef != NULL) {
			if ((*(char **)(void *)((char *)conf + k->off) =
			    strdup(k->sdef)) == NULL)
				return config_err(ctx, 0, k->name,
				    "out of memory");
		} else if (k->type != CONFIG_T_NAME &&
		    k->type != CONFIG_T_ADDRS && k->type != CONFIG_T_CIDRS &&
		    k->type != CONFIG_T_RULES)
			config_value_num_put(conf, k, k->def);
	}

	/* The host name, made fit for a sensor name. */
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		snprintf(host, sizeof(host), "sundew");
	host[CONFIG_NAME_MAX] = '\0';
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '_')
			*p = '-';
	if ((conf->sensor_name = strdup(host)) == NULL ||
	    (conf->listen_addr[0] = strdup("0.0.0.0")) == NULL ||
	    (conf->listen_addr[1] = strdup("::")) == NULL)
		return config_err(ctx, 0, "", "out of memory");
	conf->nlisten_addr = 2;

	if (proto_table_len > CONFIG_MAX_SERVICES)
		return config_err(ctx, 0, "services", "internal: more than %d "
		    "services in the table", CONFIG_MAX_SERVICES);
	for (i = 0; i < proto_table_len; i++) {
		conf->services[i].name = proto_table[i].name;
		conf->services[i].enabled = 1;
		for (j = 0; j < 8 && j < CONFIG_MAX_PORTS &&
		    proto_table[i].ports[j] != 0; j++)
			conf->services[i].ports[j] = proto_table[i].ports[j];
		conf->services[i].nports = j;
	}
	conf->nservices = proto_table_len;
	return 0;
}

#define CONFIG_WHERE_PORTS(svc)	(CONFIG_NKEYS + 2 * (svc) + 1)

/*
 * Reports that services i and j share port, at whichever of the two was
 * set explicitly (i, the later one, if both were).
 */
static int
config_clash(struct config_ctx *ctx, size_t i, size_t j, unsigned port)
{
	const struct config_where	*wi, *wj, *wt;
	char				 key[CONFIG_KEY_MAX], seen[32];
	size_t				 t;

	wi = &ctx->where[CONFIG_WHERE_PORTS(i)];
	wj = &ctx->where[CONFIG_WHERE_PORTS(j)];
	if (wi->line == 0 && !wi->override && (wj->line > 0 || wj->override)) {
		t = i, i = j, j = t;
		wt = wi, wi = wj, wj = wt;
	}
	if (wj->override)
		snprintf(seen, sizeof(seen), "set by -o");
	else if (wj->line > 0)
		snprintf(seen, sizeof(seen), "line %d", wj->line);
	else
		snprintf(seen, sizeof(seen), "by default");
	snprintf(key, sizeof(key), "services.%s.ports", proto_table[i].name);
	return config_err_at(ctx, wi, key, "port %u is also used by "
	    "services.%s.ports (%s)", port, proto_table[j].name, seen);
}

/*
 * The checks that span services: an enabled service has a port, and no
 * two enabled services share a port of the same transport.
 */
static int
config_check_services(struct config_ctx *ctx)
{
	struct config			*conf = ctx->conf;
	const struct config_service	*a, *b;
	char				 key[CONFIG_KEY_MAX];
	size_t				 i, j, pi, pj;

	for (i = 0; i < conf->nservices; i++) {
		a = &conf->services[i];
		snprintf(key, sizeof(key), "services.%s.ports", a->name);
		if (a->enabled && a->nports == 0)
			return config_err_at(ctx,
			    &ctx->where[CONFIG_WHERE_PORTS(i)], key, "the "
			    "service is enabled but has no ports; set "
			    "services.%s.enabled: false to turn it off",
			    a->name);
		for (j = 0; a->enabled && j < i; j++) {
			b = &conf->services[j];
			if (!b->enabled || proto_table[i].transport !=
			    proto_table[j].transport)
				continue;
			for (pi = 0; pi < a->nports; pi++)
				for (pj = 0; pj < b->nports; pj++)
					if (a->ports[pi] == b->ports[pj])
						return config_clash(ctx, i, j,
						    a->ports[pi]);
		}
	}
	return 0;
}

/* Where the key called name (one of config_keys[]) was set. */
static const struct config_where *
config_where_of(struct config_ctx *ctx, const char *name)
{
	struct config_ref	ref;

	if (config_lookup(name, &ref) == -1)
		return &ctx->where[0];	/* not reached: names are ours */
	return &ctx->where[ref.where];
}

/*
 * The last step of a load: data_dir made absolute, then the checks that
 * span keys.
 */
static int
config_finish(struct config_ctx *ctx)
{
	struct config	*conf = ctx->conf;
	const char	*rel = conf->data_dir;
	char		*cwd, *abs;
	size_t		 len;

	len = strlen(conf->data_dir);
	while (len > 1 && conf->data_dir[len - 1] == '/')
		conf->data_dir[--len] = '\0';
	if (rel[0] != '/') {
		/* <limits.h> is shadowed by src/core/limits.h: no PATH_MAX. */
		if ((cwd = getcwd(NULL, 0)) == NULL)
			return config_err_at(ctx, config_where_of(ctx,
			    "data_dir"), "data_dir", "cannot find the current "
			    "directory: %s", strerror(errno));
		while (strncmp(rel, "./", 2) == 0)
			rel += 2;
		if (strcmp(rel, ".") == 0)
			rel = "";
		if (asprintf(&abs, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ||
		    *rel == '\0' ? "" : "/", rel) == -1) {
			free(cwd);
			return config_err_at(ctx, config_where_of(ctx,
			    "data_dir"), "data_dir", "out of memory");
		}
		free(cwd);
		free(conf->data_dir);
		conf->data_dir = abs;
	}
	if (strcmp(conf->json_path, conf->sqlite_path) == 0 &&
	    conf->json_enabled && conf->sqlite_enabled)
		return config_err_at(ctx, config_where_of(ctx,
		    "output.sqlite.path"), "output.sqlite.path",
		    "the same file as output.json.path");
	return config_check_services(ctx);
}

/*
 * A file that sets no key (empty, comments, sections without keys) is
 * most likely not what the operator meant to run with: the defaults
 * listen on every address.  Valid, but said.  -1 only without memory.
 */
static int
config_warn_empty(struct config_ctx *ctx, size_t noverrides)
{
	const struct config_where	*addr;
	size_t				 i;

	for (i = 0; i < CONFIG_NWHERE; i++)
		if (ctx->where[i].line > 0)
			return 0;
	addr = config_where_of(ctx, "listen.address");
	if (asprintf(&ctx->conf->warning, "%s: empty (no key set): the "
	    "built-in defaults %sapply%s", ctx->file, noverrides > 0 ?
	    "and the -o overrides " : "", addr->override ? "" : ", and "
	    "every port listens on all addresses (0.0.0.0 and ::)") == -1) {
		ctx->conf->warning = NULL;
		return config_err(ctx, 0, "", "out of memory");
	}
	return 0;
}

/*
 * *conf is overwritten, not freed: config_free() an older one first.  It
 * stays zeroed until the whole configuration has been checked.
 */
int
config_load(struct config *conf, const char *path, char *const *overrides,
    size_t noverrides, char *err, size_t errlen)
{
	struct config_ctx	 ctx;
	struct config_where	 where[CONFIG_NWHERE];
	struct config_section	 sections[CONFIG_MAX_SECTIONS];
	struct config		 tmp;
	size_t			 i;

	memset(conf, 0, sizeof(*conf));
	memset(&tmp, 0, sizeof(tmp));
	memset(&ctx, 0, sizeof(ctx));
	memset(where, 0, sizeof(where));
	ctx.conf = &tmp;
	ctx.where = where;
	ctx.sections = sections;
	ctx.file = path;
	ctx.err = err;
	ctx.errlen = err != NULL ? errlen : 0;
	if (errlen > 0 && err != NULL)
		err[0] = '\0';

	if (config_defaults(&ctx) == -1)
		goto fail;
	if (path != NULL) {
		if ((tmp.path = strdup(path)) == NULL) {
			config_err(&ctx, 0, "", "out of memory");
			goto fail;
		}
		if (config_load_file(&ctx, path) == -1)
			goto fail;
	}
	for (i = 0; i < noverrides; i++)
		if (config_override(&ctx, overrides[i]) == -1)
			goto fail;
	ctx.override = 0;
	if (config_finish(&ctx) == -1 ||
	    (path != NULL && config_warn_empty(&ctx, noverrides) == -1))
		goto fail;
	*conf = tmp;
	return 0;
 fail:
	config_free(&tmp);
	return -1;
}

void
config_free(struct config *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->warning);
	free(conf->sensor_name);
	free(conf->data_dir);
	free(conf->user);
	for (i = 0; i < conf->nlisten_addr && i < CONFIG_MAX_LISTEN; i++)
		free(conf->listen_addr[i]);
	free(conf->json_path);
	free(conf->sqlite_path);
	free(conf->host_name);
	free(conf->host_domain);
	free(conf->host_version);
	free(conf->host_system_root);
	free(conf->host_guid);
	free(conf->host_dns_domain);
	free(conf->host_share);
	free(conf->download_source_address);
	free(conf->download_allow);
	free(conf->download_connect_to);
	free(conf->download_resolv_conf);
	free(conf->download_hosts);
	memset(conf, 0, sizeof(*conf));
}

const struct config_service *
config_service(const struct config *conf, const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < conf->nservices && i < CONFIG_MAX_SERVICES; i++)
		if (conf->services[i].name != NULL &&
		    strcmp(conf->services[i].name, name) == 0)
			return &conf->services[i];
	return NULL;
}

/* Writes s as a YAML double-quoted string. */
static void
config_dump_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(fp, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

/*
 * Writes the section headers that lead from the key prev to the key name
 * (both dotted) and returns the leaf part of name and its depth.
 */
static const char *
config_dump_sections(FILE *fp, const char *prev, const char *name,
    int *depth)
{
	const char	*p = prev, *n = name, *dot;
	int		 d = 0;

	/* Skip the sections that name shares with prev. */
	while ((dot = strchr(n, '.')) != NULL) {
		size_t	len = (size_t)(dot - n);

		if (p == NULL || strncmp(p, n, len) != 0 || p[len] != '.')
			break;
		p += len + 1;
		n = dot + 1;
		d++;
	}
	while ((dot = strchr(n, '.')) != NULL) {
		fprintf(fp, "%*s%.*s:\n", 2 * d, "", (int)(dot - n), n);
		n = dot + 1;
		d++;
	}
	*depth = d;
	return n;
}

/* Writes one key of config_keys[] with its value. */
static void
config_dump_key(FILE *fp, const struct config *conf,
    const struct config_key *k, const char *prev)
{
	const char	*leaf, *field = (const char *)conf + k->off;
	char		 buf[2 * ADDR_HOST_MAX];
	size_t		 i;
	int		 depth;

	leaf = config_dump_sections(fp, prev, k->name, &depth);
	fprintf(fp, "%*s%s: ", 2 * depth, "", leaf);
	switch (k->type) {
	case CONFIG_T_NAME:
	case CONFIG_T_DIR:
	case CONFIG_T_USER:
	case CONFIG_T_PATH:
	case CONFIG_T_NETBIOS:
	case CONFIG_T_WINVER:
	case CONFIG_T_WINPATH:
	case CONFIG_T_GUID:
	case CONFIG_T_DNSNAME:
	case CONFIG_T_SHARE:
	case CONFIG_T_FILE:
	case CONFIG_T_ADDR:
		config_dump_string(fp, *(char *const *)(const void *)field);
		break;
	case CONFIG_T_CIDRS:
		fputc('[', fp);
		for (i = 0; i < conf->download_nallow; i++) {
			addr_cidr_format(&conf->download_allow[i], buf,
			    sizeof(buf));
			fprintf(fp, "%s\"%s\"", i > 0 ? ", " : "", buf);
		}
		fputc(']', fp);
		break;
	case CONFIG_T_RULES:
		fputc('[', fp);
		for (i = 0; i < conf->download_nconnect_to; i++) {
			addr_rule_format(&conf->download_connect_to[i], buf,
			    sizeof(buf));
			fprintf(fp, "%s\"%s\"", i > 0 ? ", " : "", buf);
		}
		fputc(']', fp);
		break;
	case CONFIG_T_BOOL:
		fputs(config_value_num_get(conf, k) ? "true" : "false", fp);
		break;
	case CONFIG_T_FORMAT:
		fputs(conf->json_format == CONFIG_FORMAT_ECS ? "ecs" : "flat",
		    fp);
		break;
	case CONFIG_T_ADDRS:
		fputc('[', fp);
		for (i = 0; i < conf->nlisten_addr; i++) {
			if (i > 0)
				fputs(", ", fp);
			config_dump_string(fp, conf->listen_addr[i]);
		}
		fputc(']', fp);
		break;
	default:
		config_value_fmt_num(buf, sizeof(buf), k,
		    config_value_num_get(conf, k));
		fputs(buf, fp);
		break;
	}
	fputc('\n', fp);
}

void
config_dump(const struct config *conf, FILE *fp)
{
	const struct config_service	*svc;
	size_t				 i, j;

	fprintf(fp, "# sundew: the effective configuration\n");
	for (i = 0; i < CONFIG_NKEYS; i++)
		config_dump_key(fp, conf, &config_keys[i],
		    i > 0 ? config_keys[i - 1].name : NULL);
	fprintf(fp, "services:\n");
	for (i = 0; i < conf->nservices && i < CONFIG_MAX_SERVICES; i++) {
		svc = &conf->services[i];
		fprintf(fp, "  %s:\n    enabled: %s\n    ports: [", svc->name,
		    svc->enabled ? "true" : "false");
		for (j = 0; j < svc->nports && j < CONFIG_MAX_PORTS; j++)
			fprintf(fp, "%s%u", j > 0 ? ", " : "", svc->ports[j]);
		fprintf(fp, "]\n");
	}
}

