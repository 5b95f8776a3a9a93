/*
 * Internal interface of the configuration loader, shared by config.c (the
 * key table, loading, overrides, checks across keys, dump) and
 * config_value.c (reading, parsing and checking one value).  config.h is
 * the API; no other file includes this one.
 */
#ifndef SUNDEW_CONFIG_INT_H
#define SUNDEW_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CONFIG_NAME_MAX		64		/* sensor: */

#define KIB	1024ULL
#define MIB	(1024ULL * KIB)
#define GIB	(1024ULL * MIB)

enum config_type {
	CONFIG_T_NAME,		/* sensor: letters, digits, '.', '-', '_' */
	CONFIG_T_DIR,		/* data_dir: any path, made absolute */
	CONFIG_T_USER,		/* a user name */
	CONFIG_T_PATH,		/* relative to data_dir, no ".." */
	CONFIG_T_INT,		/* int */
	CONFIG_T_U32,		/* uint32_t */
	CONFIG_T_U64,		/* uint64_t */
	CONFIG_T_DURATION,	/* uint32_t seconds: 90, "90s", "5m" */
	CONFIG_T_SIZE,		/* uint64_t bytes: 512, "64KiB" */
	CONFIG_T_BOOL,		/* int 0/1 */
	CONFIG_T_FORMAT,	/* enum config_format */
	CONFIG_T_ADDRS,		/* listen.address */
	CONFIG_T_SVC_ENABLED,	/* services.NAME.enabled */
	CONFIG_T_SVC_PORTS,	/* services.NAME.ports */
	CONFIG_T_NETBIOS,	/* host.name, host.domain: a NetBIOS name */
	CONFIG_T_WINVER,	/* host.version: a version cmd.exe knows */
	CONFIG_T_WINPATH,	/* host.system_root: C:\NAME\... */
	CONFIG_T_GUID,		/* host.guid: "" or a GUID's text form */
	CONFIG_T_DNSNAME,	/* host.dns_domain: "" or a DNS name */
	CONFIG_T_SHARE,		/* host.share: a disk share's name */
	CONFIG_T_FILE,		/* an absolute path, read before the chroot */
	CONFIG_T_ADDR,		/* char *: "" or an IPv4 or IPv6 address */
	CONFIG_T_CIDRS,		/* download.allow */
	CONFIG_T_RULES		/* download.connect_to */
};

struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 off;	/* offsetof(struct config, ...) */
	uint64_t		 min;
	uint64_t		 max;
	uint64_t		 def;	/* numbers, booleans, formats */
	const char		*sdef;	/* strings */
};

struct config_where;	/* config.c */
struct config_section;	/* config.c */
struct fy_node;

/* The state of one config_load(). */
struct config_ctx {
	struct config		*conf;
	const char		*file;		/* for messages */
	int			 override;	/* applying -o */
	char			*err;
	size_t			 errlen;
	char			 diag[256];	/* libfyaml's last message */
	struct config_where	*where;		/* CONFIG_NWHERE, config.c */
	struct config_section	*sections;	/* written in the file */
	size_t			 nsections;
};

/* config.c */

/*
 * Writes the one-line error for key at line of the file, or in the -o
 * being applied: "FILE:LINE: KEY: message".  Returns -1.
 */
int	config_err(struct config_ctx *ctx, int line, const char *key,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* config_value.c */

/*
 * Copies at most max bytes of s into dst for a message, replacing what is
 * not printable ASCII or is a quote by '?'.  config_value_show() cuts it
 * at the length of a value quoted in a message.
 */
void	config_value_clean(char *dst, size_t dstlen, const char *s,
	    size_t len, size_t max);
void	config_value_show(char *dst, size_t dstlen, const char *s,
	    size_t len);

/* 1-based line of a node: its own token, else its first child's. */
int	config_value_line(struct fy_node *node, int fallback);
/* A plain "", "~" or "null": `key:` with nothing after it. */
int	config_value_is_null(struct fy_node *node);

/* The number-valued field of k in conf, whatever its width. */
uint64_t config_value_num_get(const struct config *conf,
	    const struct config_key *k);
/* Stores v, already checked against k's range, in k's field. */
void	config_value_num_put(struct config *conf,
	    const struct config_key *k, uint64_t v);
/* Writes a number of the key's kind as a user would: "2h", "4MiB". */
void	config_value_fmt_num(char *dst, size_t len,
	    const struct config_key *k, uint64_t v);

/*
 * Setters of one key from its YAML node (line: the line of the key).
 * Each returns 0, or -1 after config_err() says what is wrong.
 */
int	config_value_set_num(struct config_ctx *ctx,
	    const struct config_key *k, const char *key, struct fy_node *node,
	    int line);
int	config_value_set_string(struct config_ctx *ctx,
	    const struct config_key *k, const char *key, struct fy_node *node,
	    int line);
int	config_value_set_addrs(struct config_ctx *ctx, const char *key,
	    struct fy_node *node, int line);
int	config_value_set_ports(struct config_ctx *ctx, const char *key,
	    struct fy_node *node, int line, struct config_service *svc);
/* download.source_address, download.allow, download.connect_to. */
int	config_value_set_addr(struct config_ctx *ctx,
	    const struct config_key *k, const char *key, struct fy_node *node,
	    int line);
int	config_value_set_cidrs(struct config_ctx *ctx, const char *key,
	    struct fy_node *node, int line);
int	config_value_set_rules(struct config_ctx *ctx, const char *key,
	    struct fy_node *node, int line);
/* A boolean, or with CONFIG_T_FORMAT flat/ecs, into *v as 0 or 1. */
int	config_value_get_word(struct config_ctx *ctx, const char *key,
	    struct fy_node *node, int line, enum config_type type, int *v);

/*
 * Keeps cand in best when it is closer to name than best is (the edit
 * distance in *bestd), for the "did you mean" hint.
 */
void	config_value_closer(const char *name, const char *cand, char *best,
	    size_t bestlen, size_t *bestd);

/* Whether text is UTF-8 without control characters; -1 after config_err. */
int	config_value_check_text(struct config_ctx *ctx, const char *key,
	    const char *text, size_t len);

#endif
