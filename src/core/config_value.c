/*
 * The values of the configuration (config_int.h): reading one YAML scalar,
 * parsing durations, sizes, booleans, ports and addresses, checking names
 * and paths, the UTF-8 check of a whole text, and the "did you mean" hint
 * for a mistyped key.  The key table, loading, overrides and the dump are
 * config.c's; errors go through its config_err(), so they name the file,
 * the line and the key.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libfyaml.h>

#include "addr.h"
#include "config.h"
#include "config_int.h"
#include "host.h"

#define CONFIG_VALUE_MAX	1024		/* a scalar value */
#define CONFIG_USER_MAX		32		/* user: */
#define CONFIG_SHOW_MAX		40		/* a value in a message */

static const char config_what_duration[] =
    "a duration such as 90s, 5m or 1h";
static const char config_what_size[] = "a size such as 512, 64KiB or 100MiB";

/*
 * Copies at most max bytes of s into dst for a message, replacing what is
 * not printable ASCII or is a quote by '?'.
 */
void
config_value_clean(char *dst, size_t dstlen, const char *s, size_t len,
    size_t max)
{
	size_t	i, o = 0;

	if (dstlen == 0)
		return;
	for (i = 0; i < len && o + 1 < dstlen; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (i == max) {
			if (o + 4 < dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		dst[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	dst[o] = '\0';
}

/* A value quoted in a message: cleaned, cut at CONFIG_SHOW_MAX. */
void
config_value_show(char *dst, size_t dstlen, const char *s, size_t len)
{
	config_value_clean(dst, dstlen, s, len, CONFIG_SHOW_MAX);
}

/* 1-based line of a node: its own token, else its first child's. */
int
config_value_line(struct fy_node *node, int fallback)
{
	struct fy_token		*tok;
	const struct fy_mark	*mark;
	struct fy_node_pair	*pair;
	void			*iter = NULL;

	if (node == NULL)
		return fallback;
	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR:
		if ((tok = fy_node_get_scalar_token(node)) != NULL &&
		    (mark = fy_token_start_mark(tok)) != NULL)
			return mark->line + 1;
		return fallback;
	case FYNT_SEQUENCE:
		return config_value_line(fy_node_sequence_iterate(node, &iter),
		    fallback);
	case FYNT_MAPPING:
		if ((pair = fy_node_mapping_iterate(node, &iter)) == NULL)
			return fallback;
		return config_value_line(fy_node_pair_key(pair), fallback);
	}
	return fallback;
}

/* A plain "", "~" or "null": `key:` with nothing after it. */
int
config_value_is_null(struct fy_node *node)
{
	const char	*s;
	size_t		 len;

	if (node == NULL)
		return 1;
	if (fy_node_get_type(node) != FYNT_SCALAR ||
	    fy_node_get_style(node) != FYNS_PLAIN)
		return 0;
	if ((s = fy_node_get_scalar(node, &len)) == NULL || len == 0)
		return 1;
	return (len == 1 && s[0] == '~') ||
	    (len == 4 && (memcmp(s, "null", 4) == 0 ||
	    memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/*
 * Copies the scalar value of node into buf (NUL-terminated).  Anything
 * else (nothing, an alias, a list, a mapping, an over-long or NUL-holding
 * value) is an error that says what was expected.
 */
static int
config_scalar(struct config_ctx *ctx, const char *key, struct fy_node *node,
    int line, const char *what, char *buf, size_t buflen)
{
	const char	*s;
	size_t		 len;

	if (config_value_is_null(node))
		return config_err(ctx, line, key, "expected %s, got nothing",
		    what);
	if (fy_node_is_alias(node))
		return config_err(ctx, line, key,
		    "YAML aliases are not supported");
	if (fy_node_get_type(node) == FYNT_SEQUENCE)
		return config_err(ctx, line, key, "expected %s, got a list",
		    what);
	if (fy_node_get_type(node) == FYNT_MAPPING)
		return config_err(ctx, line, key,
		    "expected %s, got a mapping", what);
	if ((s = fy_node_get_scalar(node, &len)) == NULL)
		return config_err(ctx, line, key, "unreadable value");
	if (len >= buflen)
		return config_err(ctx, line, key,
		    "value too long (at most %zu characters)", buflen - 1);
	if (memchr(s, '\0', len) != NULL)
		return config_err(ctx, line, key, "value holds a NUL byte");
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/*
 * Reads a decimal number at the start of s into *v and points *end past
 * it.  Returns 0, -1 when there are no digits, -2 when the number is
 * negative or does not fit in 64 bits (out of range either way).
 */
static int
config_parse_u64(const char *s, uint64_t *v, const char **end)
{
	int	neg = 0;

	*v = 0;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned	d = (unsigned)(*s - '0');

		if (*v > (UINT64_MAX - d) / 10) {
			while (isdigit((unsigned char)s[1]))
				s++;
			neg = 1;	/* overflow: out of range as well */
			continue;
		}
		*v = *v * 10 + d;
	}
	*end = s;
	return neg ? -2 : 0;
}

/*
 * The units of durations and sizes.  For each kind, the first unit whose
 * multiplier divides a value is how config_dump() writes it.
 */
static const struct config_unit {
	enum config_type	 type;
	const char		*name;
	uint64_t		 mult;
} config_units[] = {
	{ CONFIG_T_DURATION, "d", 86400 }, { CONFIG_T_DURATION, "h", 3600 },
	{ CONFIG_T_DURATION, "m", 60 }, { CONFIG_T_DURATION, "s", 1 },
	{ CONFIG_T_DURATION, "", 1 },
	{ CONFIG_T_SIZE, "TiB", 1024 * GIB }, { CONFIG_T_SIZE, "GiB", GIB },
	{ CONFIG_T_SIZE, "MiB", MIB }, { CONFIG_T_SIZE, "KiB", KIB },
	{ CONFIG_T_SIZE, "", 1 }, { CONFIG_T_SIZE, "B", 1 },
	{ CONFIG_T_SIZE, "T", 1024 * GIB }, { CONFIG_T_SIZE, "G", GIB },
	{ CONFIG_T_SIZE, "M", MIB }, { CONFIG_T_SIZE, "K", KIB },
	{ CONFIG_T_SIZE, "TB", 1000000000000ULL },
	{ CONFIG_T_SIZE, "GB", 1000000000ULL },
	{ CONFIG_T_SIZE, "MB", 1000000ULL }, { CONFIG_T_SIZE, "KB", 1000ULL },
};
#define CONFIG_NUNITS	(sizeof(config_units) / sizeof(config_units[0]))

/*
 * Parses a duration (seconds, or a number with s, m, h or d) or a size
 * (bytes, or a number with a unit of config_units[], any case).  Returns
 * 0, -1 for garbage, -2 for a value that does not fit in 64 bits.
 */
static int
config_parse_unit(enum config_type type, const char *s, uint64_t *v)
{
	const char	*end;
	size_t		 i;
	int		 rc;

	if ((rc = config_parse_u64(s, v, &end)) == -1)
		return -1;
	for (i = 0; i < CONFIG_NUNITS; i++)
		if (config_units[i].type == type &&
		    (type == CONFIG_T_SIZE ? strcasecmp(end,
		    config_units[i].name) : strcmp(end, config_units[i].name))
		    == 0)
			break;
	if (i == CONFIG_NUNITS)
		return -1;
	if (rc == -2 || *v > UINT64_MAX / config_units[i].mult)
		return -2;
	*v *= config_units[i].mult;
	return 0;
}

/* Writes a number of the key's kind as a user would: "2h", "4MiB". */
void
config_value_fmt_num(char *dst, size_t len, const struct config_key *k,
    uint64_t v)
{
	size_t	i;

	for (i = 0; v != 0 && i < CONFIG_NUNITS; i++) {
		if (config_units[i].type == k->type &&
		    v % config_units[i].mult == 0) {
			snprintf(dst, len, "%llu%s", (unsigned long long)
			    (v / config_units[i].mult), config_units[i].name);
			return;
		}
	}
	snprintf(dst, len, "%llu", (unsigned long long)v);
}

/* The number-valued field of k in conf, whatever its width. */
uint64_t
config_value_num_get(const struct config *conf, const struct config_key *k)
{
	const void	*f = (const char *)conf + k->off;

	switch (k->type) {
	case CONFIG_T_INT:
	case CONFIG_T_BOOL:
		return (uint64_t)*(const int *)f;
	case CONFIG_T_FORMAT:
		return (uint64_t)*(const enum config_format *)f;
	case CONFIG_T_U32:
	case CONFIG_T_DURATION:
		return *(const uint32_t *)f;
	default:
		return *(const uint64_t *)f;
	}
}

/* Stores v, already checked against k's range, in k's field. */
void
config_value_num_put(struct config *conf, const struct config_key *k,
    uint64_t v)
{
	void	*f = (char *)conf + k->off;

	switch (k->type) {
	case CONFIG_T_INT:
	case CONFIG_T_BOOL:
		*(int *)f = (int)v;
		break;
	case CONFIG_T_FORMAT:
		*(enum config_format *)f = (enum config_format)v;
		break;
	case CONFIG_T_U32:
	case CONFIG_T_DURATION:
		*(uint32_t *)f = (uint32_t)v;
		break;
	default:
		*(uint64_t *)f = v;
		break;
	}
}

/*
 * Parses a number-valued key (int, u32, u64, duration, size) and stores it
 * in the struct field the key names, checking its range.
 */
int
config_value_set_num(struct config_ctx *ctx, const struct config_key *k,
    const char *key, struct fy_node *node, int line)
{
	char		 buf[CONFIG_VALUE_MAX], show[64], lo[32], hi[32];
	const char	*what = "an integer", *end;
	uint64_t	 v;
	int		 rc;

	if (k->type == CONFIG_T_DURATION)
		what = config_what_duration;
	else if (k->type == CONFIG_T_SIZE)
		what = config_what_size;
	if (config_scalar(ctx, key, node, line, what, buf, sizeof(buf)) == -1)
		return -1;
	line = config_value_line(node, line);
	if (k->type == CONFIG_T_DURATION || k->type == CONFIG_T_SIZE)
		rc = config_parse_unit(k->type, buf, &v);
	else if ((rc = config_parse_u64(buf, &v, &end)) == 0 && *end != '\0')
		rc = -1;
	config_value_show(show, sizeof(show), buf, strlen(buf));
	if (rc == -1)
		return config_err(ctx, line, key, "expected %s, got \"%s\"",
		    what, show);
	if (rc == -2 || v < k->min || v > k->max) {
		config_value_fmt_num(lo, sizeof(lo), k, k->min);
		config_value_fmt_num(hi, sizeof(hi), k, k->max);
		return config_err(ctx, line, key,
		    "must be between %s and %s, got \"%s\"", lo, hi, show);
	}
	config_value_num_put(ctx->conf, k, v);
	return 0;
}

/*
 * Reads a boolean (false/true, no/yes, off/on) or an output.json.format
 * (flat/ecs), in any case, into *v as 0 or 1.
 */
int
config_value_get_word(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line, enum config_type type, int *v)
{
	static const char	*const bools[] = {
		"false", "true", "no", "yes", "off", "on"
	};
	static const char	*const formats[] = { "flat", "ecs" };
	const char		*const *words = bools, *what = "true or false";
	char			 buf[CONFIG_VALUE_MAX], show[64];
	size_t			 i, n = 6;

	if (type == CONFIG_T_FORMAT) {
		words = formats;
		n = 2;
		what = "flat or ecs";
	}
	if (config_scalar(ctx, key, node, line, what, buf, sizeof(buf)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcasecmp(buf, words[i]) == 0) {
			*v = (int)(i % 2);
			return 0;
		}
	}
	config_value_show(show, sizeof(show), buf, strlen(buf));
	return config_err(ctx, config_value_line(node, line), key,
	    "expected %s, got \"%s\"", what, show);
}

/*
 * Checks a string value against its kind: a sensor name, a user name, a
 * data directory or a path under it.  Returns NULL or what is wrong.
 */
static const char *
config_check_string(enum config_type type, const char *s)
{
	const char	*p, *comp;
	size_t		 len = strlen(s);

	if (len == 0 && type != CONFIG_T_GUID && type != CONFIG_T_DNSNAME)
		return "must not be empty";
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "must not hold control characters";
	switch (type) {
	case CONFIG_T_NAME:
		if (len > CONFIG_NAME_MAX)
			return "longer than 64 characters";
		for (p = s; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != '_')
				return "may hold only letters, digits, '.', "
				    "'-' and '_'";
		break;
	case CONFIG_T_USER:
		if (len > CONFIG_USER_MAX)
			return "longer than 32 characters";
		if (strpbrk(s, "/: \t") != NULL)
			return "is not a user name";
		break;
	case CONFIG_T_NETBIOS:
		/* What a NetBIOS name may hold and every tool shows. */
		if (len > 15)
			return "longer than 15 characters (a NetBIOS name)";
		for (p = s; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_')
				return "may hold only letters, digits, '-' and "
				    "'_' (a NetBIOS name)";
		break;
	case CONFIG_T_WINVER:
		if (!host_version_known(s))
			return HOST_VERSIONS_TEXT;
		break;
	case CONFIG_T_GUID:
		if (len > 0 && host_guid_parse(s, NULL) == -1)
			return "expected a GUID such as "
			    "4a6f7e52-93c1-4d2b-8e0f-1b2c3d4e5f60, or \"\"";
		break;
	case CONFIG_T_DNSNAME:
		/* The host's own name and a dot come before it: 63 in all. */
		if (len > 48)
			return "longer than 48 characters (a DNS domain)";
		for (p = s; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '.')
				return "may hold only letters, digits, '-' and "
				    "'.' (a DNS domain)";
		if (len > 0 && (s[0] == '.' || s[len - 1] == '.' ||
		    strstr(s, "..") != NULL))
			return "expected a DNS domain such as corp.example.com";
		break;
	case CONFIG_T_SHARE:
		/* RAP's NetShareEnum has 13 bytes for a name. */
		if (len > 12)
			return "longer than 12 characters (a share name)";
		for (p = s; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_')
				return "may hold only letters, digits, '-' and "
				    "'_' (a share name)";
		break;
	case CONFIG_T_WINPATH:
		if (len > 48 || toupper((unsigned char)s[0]) != 'C' ||
		    s[1] != ':' || s[2] != '\\' || s[len - 1] == '\\' ||
		    strstr(s, "\\\\") != NULL)
			return "expected a directory of drive C such as "
			    "C:\\WINDOWS (at most 48 characters)";
		for (p = s + 3; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '\\' &&
			    *p != ' ' && *p != '_' && *p != '-' && *p != '.')
				return "may hold only letters, digits, blanks, "
				    "'\\', '_', '-' and '.'";
		break;
	case CONFIG_T_FILE:
		if (s[0] != '/')
			return "must be an absolute path (it is read before "
			    "the chroot)";
		if (s[len - 1] == '/')
			return "must name a file, not a directory";
		break;
	case CONFIG_T_PATH:
		if (s[0] == '/')
			return "must be relative to data_dir";
		if (s[len - 1] == '/')
			return "must name a file, not a directory";
		for (comp = s; comp != NULL; comp = strchr(comp, '/')) {
			if (*comp == '/')
				comp++;
			if (strncmp(comp, "..", 2) == 0 &&
			    (comp[2] == '/' || comp[2] == '\0'))
				return "must not contain \"..\"";
		}
		break;
	default:
		break;
	}
	return NULL;
}

/* Sets a string-valued key. */
int
config_value_set_string(struct config_ctx *ctx, const struct config_key *k,
    const char *key, struct fy_node *node, int line)
{
	char		 buf[CONFIG_VALUE_MAX], show[64];
	const char	*what = "a string", *why;
	char		**field = (char **)(void *)((char *)ctx->conf + k->off);
	char		*dup;

	if (k->type == CONFIG_T_PATH)
		what = "a relative path";
	else if (k->type == CONFIG_T_FILE)
		what = "an absolute path";
	else if (k->type == CONFIG_T_DIR)
		what = "a directory";
	if (config_scalar(ctx, key, node, line, what, buf, sizeof(buf)) == -1)
		return -1;
	line = config_value_line(node, line);
	if ((why = config_check_string(k->type, buf)) != NULL) {
		config_value_show(show, sizeof(show), buf, strlen(buf));
		return config_err(ctx, line, key, "%s, got \"%s\"", why, show);
	}
	if ((dup = strdup(buf)) == NULL)
		return config_err(ctx, line, key, "out of memory");
	free(*field);
	*field = dup;
	return 0;
}

/*
 * Calls fn for each item of a value that may be one scalar or a list of
 * them (listen.address, services.NAME.ports).  Returns the number of
 * items, or -1 after fn or a nested collection failed.
 */
static int
config_each_item(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line, const char *what,
    int (*fn)(struct config_ctx *, const char *, const char *, int, void *),
    void *arg)
{
	char		 buf[CONFIG_VALUE_MAX];
	struct fy_node	*item = node;
	void		*iter = NULL;
	int		 n, seq, iline;

	seq = node != NULL && fy_node_get_type(node) == FYNT_SEQUENCE &&
	    !fy_node_is_alias(node);
	if (seq)
		item = fy_node_sequence_iterate(node, &iter);
	for (n = 0; seq ? item != NULL : n == 0; n++) {
		iline = config_value_line(item, line);
		if (config_scalar(ctx, key, item, iline, what, buf,
		    sizeof(buf)) == -1 || fn(ctx, key, buf, iline, arg) == -1)
			return -1;
		if (seq)
			item = fy_node_sequence_iterate(node, &iter);
	}
	return n;
}

/* A new listen.address list being built. */
struct config_addrs {
	char	*addr[CONFIG_MAX_LISTEN];
	size_t	 n;
};

static int
config_add_addr(struct config_ctx *ctx, const char *key, const char *s,
    int line, void *arg)
{
	struct config_addrs	*a = arg;
	unsigned char		 bin[16];
	char			 show[64];
	size_t			 i;

	config_value_show(show, sizeof(show), s, strlen(s));
	if (inet_pton(AF_INET, s, bin) != 1 && inet_pton(AF_INET6, s, bin) != 1)
		return config_err(ctx, line, key,
		    "expected an IPv4 or IPv6 address, got \"%s\"", show);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->addr[i], s) == 0)
			return config_err(ctx, line, key,
			    "address %s is listed twice", show);
	if (a->n == CONFIG_MAX_LISTEN)
		return config_err(ctx, line, key,
		    "at most %d addresses", CONFIG_MAX_LISTEN);
	if ((a->addr[a->n] = strdup(s)) == NULL)
		return config_err(ctx, line, key, "out of memory");
	a->n++;
	return 0;
}

/* Sets listen.address; the old list goes only once the new one is whole. */
int
config_value_set_addrs(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line)
{
	struct config_addrs	 a;
	struct config		*conf = ctx->conf;
	size_t			 i;
	int			 n;

	memset(&a, 0, sizeof(a));
	n = config_each_item(ctx, key, node, line,
	    "an IPv4 or IPv6 address", config_add_addr, &a);
	if (n == 0)
		config_err(ctx, line, key, "needs at least one address");
	if (n <= 0) {
		for (i = 0; i < a.n; i++)
			free(a.addr[i]);
		return -1;
	}
	for (i = 0; i < conf->nlisten_addr; i++)
		free(conf->listen_addr[i]);
	memcpy(conf->listen_addr, a.addr, sizeof(a.addr));
	conf->nlisten_addr = a.n;
	return 0;
}

static int
config_add_port(struct config_ctx *ctx, const char *key, const char *s,
    int line, void *arg)
{
	struct config_service	*p = arg;
	const char		*end;
	char			 show[64];
	uint64_t		 v;
	size_t			 i;
	int			 rc;

	config_value_show(show, sizeof(show), s, strlen(s));
	if ((rc = config_parse_u64(s, &v, &end)) == -1 || *end != '\0')
		return config_err(ctx, line, key,
		    "expected a port number, got \"%s\"", show);
	if (rc == -2 || v < 1 || v > 65535)
		return config_err(ctx, line, key,
		    "must be between 1 and 65535, got \"%s\"", show);
	for (i = 0; i < p->nports; i++)
		if (p->ports[i] == v)
			return config_err(ctx, line, key,
			    "port %llu is listed twice", (unsigned long long)v);
	if (p->nports == CONFIG_MAX_PORTS)
		return config_err(ctx, line, key, "at most %d ports",
		    CONFIG_MAX_PORTS);
	p->ports[p->nports++] = (uint16_t)v;
	return 0;
}

/* Sets services.NAME.ports; an empty list is checked in config_finish(). */
int
config_value_set_ports(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line, struct config_service *svc)
{
	struct config_service	p;

	memset(&p, 0, sizeof(p));
	if (config_each_item(ctx, key, node, line, "a port number",
	    config_add_port, &p) == -1)
		return -1;
	memcpy(svc->ports, p.ports, sizeof(p.ports));
	svc->nports = p.nports;
	return 0;
}

/*
 * Sets a key that holds one address or nothing (download.source_address):
 * `key:`, `key: ""` and -o key= leave it empty.
 */
int
config_value_set_addr(struct config_ctx *ctx, const struct config_key *k,
    const char *key, struct fy_node *node, int line)
{
	struct sockaddr_storage	 ss;
	char			 buf[CONFIG_VALUE_MAX], show[64];
	char			**field = (char **)(void *)((char *)ctx->conf +
				    k->off);
	char			*dup;

	buf[0] = '\0';
	if (!config_value_is_null(node) && config_scalar(ctx, key, node, line,
	    "an IPv4 or IPv6 address", buf, sizeof(buf)) == -1)
		return -1;
	line = config_value_line(node, line);
	if (buf[0] != '\0' && (addr_parse(buf, &ss) == 0 ||
	    strpbrk(buf, "[%") != NULL)) {
		config_value_show(show, sizeof(show), buf, strlen(buf));
		return config_err(ctx, line, key, "expected an IPv4 or IPv6 "
		    "address or nothing, got \"%s\"", show);
	}
	if ((dup = strdup(buf)) == NULL)
		return config_err(ctx, line, key, "out of memory");
	free(*field);
	*field = dup;
	return 0;
}

/* A list being built from a key's items: at most max of size bytes. */
struct config_list {
	void	*items;
	size_t	 n, max, size;
};

/* One item of download.allow: an address block. */
static int
config_add_cidr(struct config_ctx *ctx, const char *key, const char *s,
    int line, void *arg)
{
	struct config_list	*l = arg;
	struct addr_cidr	*c = l->items;
	char			 why[128], show[64];

	config_value_show(show, sizeof(show), s, strlen(s));
	if (l->n == l->max)
		return config_err(ctx, line, key, "at most %zu blocks",
		    l->max);
	if (addr_cidr_parse(s, &c[l->n], why, sizeof(why)) == -1)
		return config_err(ctx, line, key, "%s, got \"%s\"", why, show);
	l->n++;
	return 0;
}

/* One item of download.connect_to: one rule or several, comma-separated. */
static int
config_add_rules(struct config_ctx *ctx, const char *key, const char *s,
    int line, void *arg)
{
	struct config_list	*l = arg;
	struct addr_rule	*r = l->items;
	const char		*end, *why;
	char			 show[64];
	size_t			 len;

	for (;; s = end + 1) {
		if ((end = strchr(s, ',')) == NULL)
			end = s + strlen(s);
		/* Blanks around a rule: "a:1:b:2, c:3:d:4". */
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		len = (size_t)(end - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		config_value_show(show, sizeof(show), s, len);
		if (l->n == l->max)
			return config_err(ctx, line, key, "at most %zu rules",
			    l->max);
		if ((why = addr_rule_parse(s, len, &r[l->n])) != NULL)
			return config_err(ctx, line, key, "%s, got \"%s\"",
			    why, show);
		l->n++;
		if (*end == '\0')
			return 0;
	}
}

/*
 * Builds the list a key names (nothing or [] is none) with add for each
 * item: at most max items of size bytes.  On success *list is a new copy
 * of n items (NULL for none) for the caller; on failure nothing changes.
 */
static int
config_set_list(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line, const char *what,
    int (*add)(struct config_ctx *, const char *, const char *, int, void *),
    size_t max, size_t size, void **list, size_t *n)
{
	struct config_list	 l = { NULL, 0, max, size };
	int			 rc = 0;

	*list = NULL;
	if ((l.items = calloc(max, size)) == NULL)
		return config_err(ctx, line, key, "out of memory");
	if (!config_value_is_null(node) && config_each_item(ctx, key, node,
	    line, what, add, &l) == -1)
		rc = -1;
	if (rc == 0 && l.n > 0 && (*list = malloc(l.n * size)) == NULL)
		rc = config_err(ctx, line, key, "out of memory");
	if (*list != NULL)
		memcpy(*list, l.items, l.n * size);
	*n = l.n;
	free(l.items);
	return rc;
}

/* Sets download.allow: one block or a list; nothing or [] is none. */
int
config_value_set_cidrs(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line)
{
	struct config	*conf = ctx->conf;
	void		*list;
	size_t		 n;

	if (config_set_list(ctx, key, node, line,
	    "an address block such as 10.0.0.0/8", config_add_cidr,
	    CONFIG_MAX_ALLOW, sizeof(struct addr_cidr), &list, &n) == -1)
		return -1;
	free(conf->download_allow);
	conf->download_allow = list;
	conf->download_nallow = n;
	return 0;
}

/*
 * Sets download.connect_to: rules in curl's --connect-to syntax, as a list
 * or as one comma-separated string (for -o); nothing or [] is none.
 */
int
config_value_set_rules(struct config_ctx *ctx, const char *key,
    struct fy_node *node, int line)
{
	struct config	*conf = ctx->conf;
	void		*list;
	size_t		 n;

	if (config_set_list(ctx, key, node, line,
	    "rules HOST:PORT:TO_HOST:TO_PORT", config_add_rules,
	    CONFIG_MAX_CONNECT_TO, sizeof(struct addr_rule), &list,
	    &n) == -1)
		return -1;
	free(conf->download_connect_to);
	conf->download_connect_to = list;
	conf->download_nconnect_to = n;
	return 0;
}

/* Edit distance of two short strings (capped at 64 characters each). */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	row[65], i, j, la, lb, prev, tmp, best;

	la = strlen(a) > 64 ? 64 : strlen(a);
	lb = strlen(b) > 64 ? 64 : strlen(b);
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/*
 * Keeps cand in best when it is closer to name than best is; on a tie the
 * one sharing a longer start with name wins ("htp": http, not ftp).
 */
void
config_value_closer(const char *name, const char *cand, char *best,
    size_t bestlen, size_t *bestd)
{
	size_t	d = config_distance(name, cand), pc = 0, pb = 0;

	while (name[pc] != '\0' && name[pc] == cand[pc])
		pc++;
	while (name[pb] != '\0' && name[pb] == best[pb])
		pb++;
	if (d < *bestd || (d == *bestd && pc > pb)) {
		snprintf(best, bestlen, "%s", cand);
		*bestd = d;
	}
}

/*
 * YAML is UTF-8 without control characters.  Checked before libfyaml sees
 * the text: 0.7.12 loops forever on some invalid UTF-8 (after a '%').
 */
int
config_value_check_text(struct config_ctx *ctx, const char *key,
    const char *text, size_t len)
{
	const unsigned char	*s = (const unsigned char *)text;
	size_t			 i, j, n, col = 1;
	uint32_t		 cp;
	int			 line = 1;

	for (i = 0; i < len; i += n, col++) {
		n = 1;
		if (s[i] == '\n') {
			line++;
			col = 0;
		} else if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\r') ||
		    s[i] == 0x7f)
			return config_err(ctx, line, key, "invalid YAML: "
			    "control character 0x%02x (column %zu)", s[i], col);
		if (s[i] < 0x80)
			continue;
		n = s[i] >= 0xc2 && s[i] <= 0xdf ? 2 : s[i] >= 0xe0 &&
		    s[i] <= 0xef ? 3 : s[i] >= 0xf0 && s[i] <= 0xf4 ? 4 : 0;
		cp = s[i] & (0x7f >> n);
		for (j = 1; n != 0 && j < n; j++) {
			if (i + j >= len || (s[i + j] & 0xc0) != 0x80)
				n = 0;
			else
				cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (n == 0 || (n == 3 && (cp < 0x800 ||
		    (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return config_err(ctx, line, key, "invalid YAML: not "
			    "UTF-8 (column %zu)", col);
	}
	return 0;
}
