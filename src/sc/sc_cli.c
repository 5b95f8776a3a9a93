/*
 * `sundew analyze FILE...`: runs the analyser offline on files and prints
 * one JSON object per file and line, in the shape of DESIGN.md section 6.
 * The only file access of the analyser is here: reading the named files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "sc.h"

#define SC_CLI_MAXFILE	(64u << 20)

static const char sc_cli_usage[] =
"usage: sundew analyze [-h] FILE...\n"
"\n"
"Looks for shellcode in each FILE (raw bytes: a payload, a carved\n"
"shellcode) and prints one JSON object per file on a line: file, sha256,\n"
"shellcode, offset, decoders, actions (and family for a known worm).\n"
"Exit status: 0 when every file was analysed, 1 if a file could not be\n"
"read, 2 on a usage error.\n";

/* Reads all of path into *buf (malloc'd); 0, or -1 with errno set. */
static int
sc_cli_read(const char *path, uint8_t **buf, size_t *len)
{
	FILE	*f;
	uint8_t	*b = NULL, *nb;
	size_t	 n = 0, cap = 0, r;
	int	 saved;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap >= SC_CLI_MAXFILE) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(b, cap)) == NULL)
				goto fail;
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	saved = errno;
	fclose(f);
	free(b);
	errno = saved;
	return -1;
}

static int
sc_cli_sha256(const uint8_t *buf, size_t len, char hex[65])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0, i;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A JSON string of s with bytes outside printable ASCII shown as '?'. */
static json_t *
sc_cli_str(const char *s)
{
	json_t	*j;
	char	*c;
	size_t	 i, n = strlen(s);

	if ((c = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		c[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	c[n] = '\0';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *
sc_cli_action(const struct sc_action *a)
{
	static const char *const names[] = { "", "bind_shell",
	    "connect_shell", "download", "exec", "receive_file" };
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "action", json_string(
	    a->kind >= SC_BIND_SHELL && a->kind <= SC_RECEIVE_FILE ?
	    names[a->kind] : "unknown"));
	if (a->kind == SC_RECEIVE_FILE && a->mode[0] != '\0')
		json_object_set_new(o, "mode", sc_cli_str(a->mode));
	if (a->host[0] != '\0')
		json_object_set_new(o, "host", sc_cli_str(a->host));
	if (a->port != 0)
		json_object_set_new(o, "port", json_integer(a->port));
	if (a->url[0] != '\0')
		json_object_set_new(o, "url", sc_cli_str(a->url));
	if (a->command[0] != '\0')
		json_object_set_new(o, "command", sc_cli_str(a->command));
	if (a->key[0] != '\0')
		json_object_set_new(o, "key", sc_cli_str(a->key));
	return o;
}

/* Prints the line for one file; 0, or -1 if it could not be read. */
static int
sc_cli_file(const char *path, struct sc_result *res)
{
	struct sc_limits	 lim;
	json_t			*o, *dec, *act;
	uint8_t			*buf;
	size_t			 len, i;
	char			 hex[65], *line;

	if (sc_cli_read(path, &buf, &len) == -1) {
		fprintf(stderr, "sundew analyze: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	sc_limits_default(&lim);
	if (sc_cli_sha256(buf, len, hex) == -1 ||
	    sc_analyze(buf, len, &lim, NULL, res) == -1) {
		fprintf(stderr, "sundew analyze: %s: out of memory\n", path);
		free(buf);
		return -1;
	}
	free(buf);
	o = json_object();
	dec = json_array();
	act = json_array();
	if (o == NULL || dec == NULL || act == NULL) {
		json_decref(o);
		json_decref(dec);
		json_decref(act);
		fprintf(stderr, "sundew analyze: %s: out of memory\n", path);
		return -1;
	}
	json_object_set_new(o, "file", sc_cli_str(path));
	json_object_set_new(o, "sha256", json_string(hex));
	json_object_set_new(o, "shellcode", json_boolean(res->shellcode));
	json_object_set_new(o, "offset", res->offset >= 0 ?
	    json_integer(res->offset) : json_null());
	for (i = 0; i < res->ndecoders; i++)
		json_array_append_new(dec, sc_cli_str(res->decoders[i]));
	json_object_set_new(o, "decoders", dec);
	if (res->family[0] != '\0')
		json_object_set_new(o, "family", sc_cli_str(res->family));
	for (i = 0; i < res->nactions; i++)
		json_array_append_new(act, sc_cli_action(&res->actions[i]));
	json_object_set_new(o, "actions", act);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL) {
		fprintf(stderr, "sundew analyze: %s: out of memory\n", path);
		return -1;
	}
	printf("%s\n", line);
	free(line);
	return 0;
}

int
sc_main(int argc, char **argv)
{
	struct sc_result	*res;
	int			 c, i, rc = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "h")) != -1) {
		switch (c) {
		case 'h':
			fputs(sc_cli_usage, stdout);
			return 0;
		default:
			fputs(sc_cli_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(sc_cli_usage, stderr);
		return 2;
	}
	if ((res = malloc(sizeof(*res))) == NULL) {
		fprintf(stderr, "sundew analyze: out of memory\n");
		return 1;
	}
	for (i = optind; i < argc; i++) {
		if (sc_cli_file(argv[i], res) == -1)
			rc = 1;
		fflush(stdout);
	}
	free(res);
	return rc;
}
