/*
 * Unit tests of the configuration (src/core/config.c): defaults, a full
 * file, every kind of error with its file, line and key, -o overrides,
 * durations and sizes, the shipped sundew.yaml and config_dump().
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
#include "config.h"
#include "proto.h"

static char	test_path[64];		/* the YAML file of the test */

/* Writes text to a fresh file under /tmp; its name is in test_path. */
static const char *
test_write(const char *text)
{
	int	fd;
	size_t	len = strlen(text);

	if (test_path[0] != '\0')
		unlink(test_path);
	snprintf(test_path, sizeof(test_path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(test_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return test_path;
}

/* Loads text as a file, then the overrides (a NULL-terminated list). */
static int
test_load(struct config *conf, const char *text, const char *const *ov,
    char *err, size_t errlen)
{
	size_t	n = 0;

	while (ov != NULL && ov[n] != NULL)
		n++;
	return config_load(conf, text != NULL ? test_write(text) : NULL,
	    (char *const *)ov, n, err, errlen);
}

/* Copies want to dst with its "%s" replaced by the test's file name. */
static void
test_expand(char *dst, size_t len, const char *want)
{
	const char	*at = strstr(want, "%s");

	if (at == NULL)
		snprintf(dst, len, "%s", want);
	else
		snprintf(dst, len, "%.*s%s%s", (int)(at - want), want,
		    test_path, at + 2);
}

/*
 * Expects loading text (and ov) to fail with exactly the message want, in
 * which "%s" stands for the file name.  Also checks that nothing of the
 * failed load is left in conf.
 */
static void
test_fails(const char *text, const char *const *ov, const char *want)
{
	struct config	conf;
	char		err[512], expect[512];

	memset(&conf, 0xa5, sizeof(conf));
	assert_int_equal(test_load(&conf, text, ov, err, sizeof(err)), -1);
	test_expand(expect, sizeof(expect), want);
	assert_string_equal(err, expect);
	assert_null(conf.data_dir);
	assert_null(conf.sensor_name);
	assert_int_equal(conf.nservices, 0);
	config_free(&conf);
}

/* The configuration as config_dump() writes it, in a new string. */
static char *
test_dump(const struct config *conf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	config_dump(conf, fp);
	fclose(fp);
	return buf;
}

static void
test_defaults(void **state)
{
	struct config			 conf;
	const struct config_service	*svc;
	char				 err[256], cwd[4096], want[4200];
	size_t				 i, j;

	(void)state;
	assert_int_equal(config_load(&conf, NULL, NULL, 0, err,
	    sizeof(err)), 0);
	assert_null(conf.path);
	assert_non_null(conf.sensor_name);
	assert_true(strlen(conf.sensor_name) > 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/var", cwd);
	assert_string_equal(conf.data_dir, want);
	assert_string_equal(conf.user, "sundew");
	assert_int_equal(conf.sensors, 0);
	assert_int_equal(conf.nlisten_addr, 2);
	assert_string_equal(conf.listen_addr[0], "0.0.0.0");
	assert_string_equal(conf.listen_addr[1], "::");
	assert_int_equal(conf.listen_backlog, 4096);
	assert_int_equal(conf.max_connections, 60000);
	assert_int_equal(conf.per_source, 64);
	assert_int_equal(conf.idle_timeout, 120);
	assert_int_equal(conf.session_timeout, 600);
	assert_int_equal(conf.max_input, 4 * 1024 * 1024);
	assert_int_equal(conf.nofile, 131072);
	assert_true(conf.json_enabled);
	assert_string_equal(conf.json_path, "log/sundew.json");
	assert_int_equal(conf.json_max_size, 100 * 1024 * 1024);
	assert_int_equal(conf.json_max_age, 86400);
	assert_int_equal(conf.json_keep, 10);
	assert_int_equal(conf.json_format, CONFIG_FORMAT_FLAT);
	assert_true(conf.sqlite_enabled);
	assert_string_equal(conf.sqlite_path, "sundew.sqlite");
	assert_int_equal(conf.max_disk, 10ULL * 1024 * 1024 * 1024);
	assert_true(conf.seccomp);

	/* One service per row of the table, in its order, its ports. */
	assert_int_equal(conf.nservices, proto_table_len);
	for (i = 0; i < proto_table_len; i++) {
		assert_ptr_equal(conf.services[i].name, proto_table[i].name);
		assert_true(conf.services[i].enabled);
		for (j = 0; j < 8 && proto_table[i].ports[j] != 0; j++)
			assert_int_equal(conf.services[i].ports[j],
			    proto_table[i].ports[j]);
		assert_int_equal(conf.services[i].nports, j);
	}
	svc = config_service(&conf, "smb");
	assert_non_null(svc);
	assert_int_equal(svc->nports, 1);
	assert_int_equal(svc->ports[0], 445);
	assert_null(config_service(&conf, "gopher"));
	config_free(&conf);
	config_free(&conf);	/* twice is harmless */
	assert_null(conf.data_dir);
}

/*
 * A file with nothing in it (or only comments) means the defaults, and a
 * warning that names the file and says that every port listens on all
 * addresses: an empty file is rarely what the operator meant.
 */
static void
test_empty_file(void **state)
{
	static const char	*const texts[] = {
		"", "# nothing\n\n", "---\n", "~\n", "listen:\nlimits:\n",
		"{}\n",
	};
	static const char	*const addr[] = { "listen.address=127.0.0.1",
				    NULL };
	static const char	*const other[] = { "sensors=1", NULL };
	struct config		 def, conf;
	char			 err[256], want[512], *a, *b;
	size_t			 i;

	(void)state;
	assert_int_equal(config_load(&def, NULL, NULL, 0, err,
	    sizeof(err)), 0);
	/* No file at all is the documented way to the defaults: no word. */
	assert_null(def.warning);
	a = test_dump(&def);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (test_load(&conf, texts[i], NULL, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", texts[i], err);
		assert_string_equal(conf.path, test_path);
		b = test_dump(&conf);
		assert_string_equal(a, b);
		test_expand(want, sizeof(want), "%s: empty (no key set): the "
		    "built-in defaults apply, and every port listens on all "
		    "addresses (0.0.0.0 and ::)");
		assert_non_null(conf.warning);
		assert_string_equal(conf.warning, want);
		free(b);
		config_free(&conf);
	}
	free(a);
	config_free(&def);

	/* With -o the warning says so, and drops what -o made untrue. */
	assert_int_equal(test_load(&conf, "", addr, err, sizeof(err)), 0);
	test_expand(want, sizeof(want), "%s: empty (no key set): the built-in "
	    "defaults and the -o overrides apply");
	assert_string_equal(conf.warning, want);
	config_free(&conf);
	assert_int_equal(test_load(&conf, "", other, err, sizeof(err)), 0);
	test_expand(want, sizeof(want), "%s: empty (no key set): the built-in "
	    "defaults and the -o overrides apply, and every port listens on "
	    "all addresses (0.0.0.0 and ::)");
	assert_string_equal(conf.warning, want);
	config_free(&conf);
	/* One key is enough, even one set to its default. */
	assert_int_equal(test_load(&conf, "limits:\n  per_source: 64\n", NULL,
	    err, sizeof(err)), 0);
	assert_null(conf.warning);
	config_free(&conf);
}

/*
 * A section written twice is an error that names both lines, as a key
 * written twice is, rather than the two being merged silently; -o may
 * still add to a section of the file.
 */
static void
test_section_twice(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "limits:\n  per_source: 3\nsensors: 1\nlimits:\n"
		  "  idle_timeout: 5s\n",
		  "%s:4: limits: section written twice, first on line 1; put "
		  "all its keys in one" },
		{ "limits:\nlimits:\n  idle_timeout: 5s\n",
		  "%s:2: limits: section written twice, first on line 1; put "
		  "all its keys in one" },
		{ "output:\n  json:\n    keep: 3\n  sqlite:\n"
		  "    enabled: false\n  json:\n    max_size: 1MiB\n",
		  "%s:6: output.json: section written twice, first on line 2; "
		  "put all its keys in one" },
		{ "output:\n  json:\n    keep: 3\noutput.json:\n"
		  "  max_size: 1MiB\n",
		  "%s:4: output.json: section written twice, first on line 2; "
		  "put all its keys in one" },
		{ "services:\n  smb:\n    ports: [445]\nsensors: 1\n"
		  "services:\n  http:\n    ports: [80]\n",
		  "%s:5: services: section written twice, first on line 1; "
		  "put all its keys in one" },
		{ "services:\n  smb:\n    ports: [445]\n  smb:\n"
		  "    enabled: false\n",
		  "%s:4: services.smb: section written twice, first on line 2; "
		  "put all its keys in one" },
	};
	static const char	*const ov[] = {
		"limits={idle_timeout: 9s}", "limits={max_input: 1KiB}", NULL
	};
	struct config		 conf;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu\n", i);
		test_fails(cases[i].text, NULL, cases[i].want);
	}
	/* One section, its keys dotted elsewhere: not written twice. */
	assert_int_equal(test_load(&conf, "limits:\n  per_source: 3\n"
	    "limits.idle_timeout: 5s\n", ov, err, sizeof(err)), 0);
	assert_int_equal(conf.per_source, 3);
	assert_int_equal(conf.idle_timeout, 9);
	assert_int_equal(conf.max_input, 1024);
	config_free(&conf);
}

static void
test_valid_file(void **state)
{
	static const char	text[] =
	    "sensor: trap-7\n"
	    "data_dir: /srv/sundew/\n"
	    "user: honey\n"
	    "sensors: 3\n"
	    "listen:\n"
	    "  address:\n"
	    "    - 127.0.0.1\n"
	    "    - \"::1\"\n"
	    "  backlog: 511\n"
	    "limits.max_connections: 0\n"
	    "limits:\n"
	    "  per_source: 8\n"
	    "  idle_timeout: 90s\n"
	    "  session_timeout: 1h\n"
	    "  max_input: 64KiB\n"
	    "  nofile: 4096\n"
	    "output:\n"
	    "  json: {enabled: no, path: events/x.json, max_size: 5MB,\n"
	    "         max_age: 2d, keep: 0, format: ecs}\n"
	    "  sqlite:\n"
	    "    enabled: Off\n"
	    "    path: db/ev.sqlite\n"
	    "store: {max_disk: 0}\n"
	    "sandbox:\n"
	    "  seccomp: FALSE\n"
	    "services:\n"
	    "  http:\n"
	    "    ports: [8080, 8081]\n"
	    "  smb:\n"
	    "    enabled: false\n"
	    "    ports: []\n"
	    "  tftp:\n"
	    "    ports: 6969\n"
	    "  mssql: {ports: 80}\n";	/* UDP 80 and TCP 80 may share */
	struct config			 conf;
	const struct config_service	*svc;
	char				 err[256];

	(void)state;
	if (test_load(&conf, text, NULL, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(conf.sensor_name, "trap-7");
	assert_string_equal(conf.data_dir, "/srv/sundew");
	assert_string_equal(conf.user, "honey");
	assert_int_equal(conf.sensors, 3);
	assert_int_equal(conf.nlisten_addr, 2);
	assert_string_equal(conf.listen_addr[0], "127.0.0.1");
	assert_string_equal(conf.listen_addr[1], "::1");
	assert_int_equal(conf.listen_backlog, 511);
	assert_int_equal(conf.max_connections, 0);
	assert_int_equal(conf.per_source, 8);
	assert_int_equal(conf.idle_timeout, 90);
	assert_int_equal(conf.session_timeout, 3600);
	assert_int_equal(conf.max_input, 65536);
	assert_int_equal(conf.nofile, 4096);
	assert_false(conf.json_enabled);
	assert_string_equal(conf.json_path, "events/x.json");
	assert_int_equal(conf.json_max_size, 5000000);
	assert_int_equal(conf.json_max_age, 2 * 86400);
	assert_int_equal(conf.json_keep, 0);
	assert_int_equal(conf.json_format, CONFIG_FORMAT_ECS);
	assert_false(conf.sqlite_enabled);
	assert_string_equal(conf.sqlite_path, "db/ev.sqlite");
	assert_int_equal(conf.max_disk, 0);
	assert_false(conf.seccomp);

	svc = config_service(&conf, "http");
	assert_non_null(svc);
	assert_true(svc->enabled);
	assert_int_equal(svc->nports, 2);
	assert_int_equal(svc->ports[0], 8080);
	assert_int_equal(svc->ports[1], 8081);
	svc = config_service(&conf, "smb");
	assert_false(svc->enabled);
	assert_int_equal(svc->nports, 0);
	svc = config_service(&conf, "tftp");
	assert_int_equal(svc->nports, 1);
	assert_int_equal(svc->ports[0], 6969);
	svc = config_service(&conf, "ftp");	/* untouched: the default */
	assert_true(svc->enabled);
	assert_int_equal(svc->ports[0], 21);
	config_free(&conf);
}

/* Each kind of error names the file, the line and the key. */
static void
test_file_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "sensor: a\nuser: b\n\nlimits:\n  per_source: 3\n\n"
		  "  idle_timeout: soon\n",
		  "%s:7: limits.idle_timeout: expected a duration such as "
		  "90s, 5m or 1h, got \"soon\"" },
		{ "limits:\n  idel_timeout: 5\n",
		  "%s:2: limits.idel_timeout: unknown key, did you mean "
		  "limits.idle_timeout?" },
		{ "sensors: 1\nlimit:\n  nofile: 100\n",
		  "%s:2: limit: unknown key, did you mean limits?" },
		{ "colour: blue\n", "%s:1: colour: unknown key" },
		{ "services:\n  htp:\n    ports: 81\n",
		  "%s:2: services.htp: unknown key, did you mean "
		  "services.http?" },
		{ "services:\n  gopher:\n    ports: 70\n",
		  "%s:2: services.gopher: unknown service" },
		{ "services:\n  smb:\n    port: 1\n",
		  "%s:3: services.smb.port: unknown key, did you mean "
		  "services.smb.ports?" },
		{ "listen:\n  backlog: [1, 2]\n",
		  "%s:2: listen.backlog: expected an integer, got a list" },
		{ "listen:\n  backlog: many\n",
		  "%s:2: listen.backlog: expected an integer, got \"many\"" },
		{ "listen:\n  backlog: 65536\n",
		  "%s:2: listen.backlog: must be between 1 and 65535, got "
		  "\"65536\"" },
		{ "sensors: -1\n",
		  "%s:1: sensors: must be between 0 and 64, got \"-1\"" },
		{ "sensors: 65\n",
		  "%s:1: sensors: must be between 0 and 64, got \"65\"" },
		{ "sensors: {a: 1}\n",
		  "%s:1: sensors: expected an integer, got a mapping" },
		{ "user:\n",
		  "%s:1: user: expected a string, got nothing" },
		{ "sensor: \"a b\"\n",
		  "%s:1: sensor: may hold only letters, digits, '.', '-' and "
		  "'_', got \"a b\"" },
		{ "sandbox:\n  seccomp: maybe\n",
		  "%s:2: sandbox.seccomp: expected true or false, got "
		  "\"maybe\"" },
		{ "output:\n  json:\n    format: xml\n",
		  "%s:3: output.json.format: expected flat or ecs, got "
		  "\"xml\"" },
		{ "output:\n  json:\n    path: ../../etc/passwd\n",
		  "%s:3: output.json.path: must not contain \"..\", got "
		  "\"../../etc/passwd\"" },
		{ "output:\n  sqlite:\n    path: /var/db.sqlite\n",
		  "%s:3: output.sqlite.path: must be relative to data_dir, "
		  "got \"/var/db.sqlite\"" },
		{ "output:\n  sqlite:\n    path: log/sundew.json\n",
		  "%s:3: output.sqlite.path: the same file as "
		  "output.json.path" },
		{ "listen:\n  address:\n    - 127.0.0.1\n    - 300.1.2.3\n",
		  "%s:4: listen.address: expected an IPv4 or IPv6 address, "
		  "got \"300.1.2.3\"" },
		{ "listen:\n  address: [127.0.0.1, 127.0.0.1]\n",
		  "%s:2: listen.address: address 127.0.0.1 is listed twice" },
		{ "listen:\n  address: []\n",
		  "%s:2: listen.address: needs at least one address" },
		{ "listen:\n  address: [1.1.1.1, 1.1.1.2, 1.1.1.3, 1.1.1.4, "
		  "1.1.1.5, 1.1.1.6, 1.1.1.7, 1.1.1.8, 1.1.1.9]\n",
		  "%s:2: listen.address: at most 8 addresses" },
		{ "services:\n  http:\n    ports: [80, 0]\n",
		  "%s:3: services.http.ports: must be between 1 and 65535, "
		  "got \"0\"" },
		{ "services:\n  http:\n    ports:\n      - 80\n      - 80\n",
		  "%s:5: services.http.ports: port 80 is listed twice" },
		{ "services:\n  http:\n    ports: [1, 2, 3, 4, 5, 6, 7, 8, 9, "
		  "10, 11, 12, 13, 14, 15, 16, 17]\n",
		  "%s:3: services.http.ports: at most 16 ports" },
		{ "services:\n  http:\n    ports: [[80]]\n",
		  "%s:3: services.http.ports: expected a port number, got a "
		  "list" },
		{ "services:\n  http:\n    enabled: true\n    ports: []\n",
		  "%s:4: services.http.ports: the service is enabled but has "
		  "no ports; set services.http.enabled: false to turn it off" },
		/* Two services on one TCP port: named where it was set. */
		{ "services:\n  http:\n    ports: [80, 8080]\n"
		  "  smb:\n    ports: [445, 8080]\n",
		  "%s:5: services.smb.ports: port 8080 is also used by "
		  "services.http.ports (line 3)" },
		{ "services:\n  ftp:\n    ports: 445\n",
		  "%s:3: services.ftp.ports: port 445 is also used by "
		  "services.smb.ports (by default)" },
		{ "sensors: 1\nsensors: 2\n",
		  "%s:2: sensors: already set on line 1" },
		{ "limits:\n  nofile: 100\nlimits.nofile: 200\n",
		  "%s:3: limits.nofile: already set on line 2" },
		{ "limits:\n  idle_timeout: &t 60\n  session_timeout: *t\n",
		  "%s:3: limits.session_timeout: YAML aliases are not "
		  "supported" },
		{ "limits: 5\n",
		  "%s:1: limits: expected a mapping of keys (key: value), got "
		  "a single value" },
		{ "- sensors: 1\n",
		  "%s:1: expected a mapping of keys (key: value), got a list" },
		{ "just words\n", "%s:1: expected a mapping of keys "
		  "(key: value), got a single value" },
		{ "sensors: 1\n---\nsensors: 2\n",
		  "%s:3: only one YAML document is allowed" },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu\n", i);
		test_fails(cases[i].text, NULL, cases[i].want);
	}
}

/* A YAML syntax error names its line, in our words, not on stderr. */
static void
test_yaml_syntax(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;	/* the start of the message */
	} cases[] = {
		{ "sensors: 1\nlisten:\n  backlog: 5\n address: x\n",
		  "%s:4: invalid YAML: invalid indentation in mapping" },
		{ "sensors: 1\nuser: x\nsensor: 'abc\n",
		  "%s:3: invalid YAML: single-quoted scalar without closing "
		  "quote" },
		{ "sensors: 1\nuser: \"x\\q\"\n",
		  "%s:2: invalid YAML: invalid escape 'q' in double-quoted "
		  "string" },
		{ "sensors: 1\nuser: x\nsensor: {a: 1\nsensors: 2\n",
		  "%s:4: invalid YAML: missing comma in flow mapping" },
		{ "listen:\n\tbacklog: 5\n", "%s:2: invalid YAML: " },
		{ "a: b: c\n", "%s:1: invalid YAML: " },
		/* libfyaml 0.7.12 hangs on this one if it gets to see it. */
		{ "%YAML\xdb\n", "%s:1: invalid YAML: not UTF-8 (column 6)" },
		{ "sensors: 1\nuser: a\x01z\n",
		  "%s:2: invalid YAML: control character 0x01 (column 8)" },
		{ "sensor: \xed\xa0\x80\n",
		  "%s:1: invalid YAML: not UTF-8 (column 9)" },
	};
	struct config	conf;
	char		err[512], want[512];
	char		out[] = "/tmp/test_config_err.XXXXXX";
	size_t		i;
	int		fd, saved;
	struct stat	st;

	(void)state;
	/* Whatever libfyaml would print goes to a file we then look at. */
	fd = mkstemp(out);
	assert_true(fd >= 0);
	unlink(out);		/* the descriptor is enough */
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(test_load(&conf, cases[i].text, NULL, err,
		    sizeof(err)), -1);
		test_expand(want, sizeof(want), cases[i].want);
		if (strncmp(err, want, strlen(want)) != 0) {
			dup2(saved, 2);
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err,
			    want);
		}
		assert_null(strchr(err, '\n'));
		config_free(&conf);
	}
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	assert_int_equal(st.st_size, 0);
}

static void
test_missing_file(void **state)
{
	struct config	conf;
	char		err[256];

	(void)state;
	assert_int_equal(config_load(&conf, "/nonexistent/sundew.yaml", NULL,
	    0, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/sundew.yaml: cannot open: "
	    "No such file or directory");
	config_free(&conf);
	assert_int_equal(config_load(&conf, "/tmp", NULL, 0, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/tmp: cannot open: Is a directory");
	config_free(&conf);
}

static void
test_overrides(void **state)
{
	static const char	*const ov[] = {
		"listen.address=127.0.0.1",
		"data_dir=/tmp/sundew-test",
		"services.http.ports=[8080,8081]",
		"services.smb.enabled=false",
		"limits.idle_timeout=45s",	/* wins over the file */
		" sensors = 2",
		"output={json: {format: ecs}}",
		"listen.backlog=16",
		"listen.backlog=32",		/* the last -o wins */
		NULL
	};
	struct config			 conf;
	const struct config_service	*svc;
	char				 err[256];

	(void)state;
	if (test_load(&conf, "limits:\n  idle_timeout: 5m\n  nofile: 1000\n",
	    ov, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(conf.nlisten_addr, 1);
	assert_string_equal(conf.listen_addr[0], "127.0.0.1");
	assert_string_equal(conf.data_dir, "/tmp/sundew-test");
	svc = config_service(&conf, "http");
	assert_int_equal(svc->nports, 2);
	assert_int_equal(svc->ports[0], 8080);
	assert_int_equal(svc->ports[1], 8081);
	assert_false(config_service(&conf, "smb")->enabled);
	assert_int_equal(conf.idle_timeout, 45);
	assert_int_equal(conf.nofile, 1000);
	assert_int_equal(conf.sensors, 2);
	assert_int_equal(conf.json_format, CONFIG_FORMAT_ECS);
	assert_int_equal(conf.listen_backlog, 32);
	config_free(&conf);

	/* Overrides alone, without a file. */
	if (test_load(&conf, NULL, ov, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_null(conf.path);
	assert_int_equal(conf.idle_timeout, 45);
	config_free(&conf);
}

static void
test_override_errors(void **state)
{
	static const struct {
		const char	*ov;
		const char	*want;
	} cases[] = {
		{ "limits.idle_time=5", "-o limits.idle_time: unknown key, "
		  "did you mean limits.idle_timeout?" },
		{ "nonsense=1", "-o nonsense: unknown key" },
		{ "sensors", "-o sensors: expected key=value" },
		{ "=5", "-o =5: expected key=value" },
		{ "sensors=", "-o sensors: expected an integer, got nothing" },
		{ "sensors=[1", "-o sensors: invalid YAML: " },
		{ "sensor=\xff",
		  "-o sensor: invalid YAML: not UTF-8 (column 1)" },
		{ "listen.address=localhost", "-o listen.address: expected an "
		  "IPv4 or IPv6 address, got \"localhost\"" },
		{ "services.http.ports=[445]", "-o services.http.ports: port "
		  "445 is also used by services.smb.ports (by default)" },
		{ "services.http.ports=[]", "-o services.http.ports: the "
		  "service is enabled but has no ports; set "
		  "services.http.enabled: false to turn it off" },
		{ "limits={idle_timeout: 5, idle: 6}",
		  "-o limits.idle: unknown key" },
		{ "services.smb.enabled=perhaps", "-o services.smb.enabled: "
		  "expected true or false, got \"perhaps\"" },
	};
	char	want[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char	*ov[] = { "sensors=1", cases[i].ov, NULL };
		struct config	 conf;
		char		 err[512];

		print_message("case %zu\n", i);
		assert_int_equal(test_load(&conf, "user: x\n", ov, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s", cases[i].want);
		if (want[strlen(want) - 1] == ' ')	/* a prefix only */
			assert_memory_equal(err, want, strlen(want));
		else
			assert_string_equal(err, want);
		assert_null(conf.user);
		config_free(&conf);
	}
}

/* A number-valued key set by -o: 0 and the value, or -1 and the error. */
static int
test_num(const char *key, const char *value, uint64_t *v, char *err,
    size_t errlen)
{
	struct config	 conf;
	char		 arg[128];
	const char	*ov[] = { arg, NULL };
	int		 rc;

	snprintf(arg, sizeof(arg), "%s=%s", key, value);
	if ((rc = test_load(&conf, NULL, ov, err, errlen)) == 0) {
		if (strcmp(key, "output.json.max_age") == 0)
			*v = conf.json_max_age;
		else if (strcmp(key, "limits.idle_timeout") == 0)
			*v = conf.idle_timeout;
		else
			*v = conf.max_disk;
	}
	config_free(&conf);
	return rc;
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*value;
		uint64_t	 secs;	/* UINT64_MAX: an error */
		const char	*why;
	} cases[] = {
		{ "0", 0, NULL }, { "90", 90, NULL }, { "90s", 90, NULL },
		{ "5m", 300, NULL }, { "2h", 7200, NULL },
		{ "1d", 86400, NULL },
		{ "4294967295", 4294967295ULL, NULL },
		{ "49710d", 49710ULL * 86400, NULL },
		{ "4294967296", UINT64_MAX, "must be between" },
		{ "49711d", UINT64_MAX, "must be between" },
		{ "99999999999999999999999s", UINT64_MAX, "must be between" },
		{ "18446744073709551615d", UINT64_MAX, "must be between" },
		{ "-1", UINT64_MAX, "must be between" },
		{ "-5m", UINT64_MAX, "must be between" },
		{ "1.5h", UINT64_MAX, "expected a duration" },
		{ "5 m", UINT64_MAX, "expected a duration" },
		{ "5M", UINT64_MAX, "expected a duration" },
		{ "m", UINT64_MAX, "expected a duration" },
		{ "0x10", UINT64_MAX, "expected a duration" },
		{ "\"\"", UINT64_MAX, "expected a duration" },
		{ "5s5", UINT64_MAX, "expected a duration" },
		{ "soon", UINT64_MAX, "expected a duration such as 90s, 5m or "
		  "1h, got \"soon\"" },
	};
	char		err[256];
	uint64_t	v;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("duration \"%s\"\n", cases[i].value);
		if (cases[i].why == NULL) {
			if (test_num("output.json.max_age", cases[i].value, &v,
			    err, sizeof(err)) != 0)
				fail_msg("%s", err);
			assert_int_equal(v, cases[i].secs);
			continue;
		}
		assert_int_equal(test_num("output.json.max_age",
		    cases[i].value, &v, err, sizeof(err)), -1);
		assert_memory_equal(err, "-o output.json.max_age: ", 24);
		assert_non_null(strstr(err, cases[i].why));
	}
	/* idle_timeout has a floor of one second. */
	assert_int_equal(test_num("limits.idle_timeout", "0s", &v, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "-o limits.idle_timeout: must be between 1s "
	    "and 4294967295s, got \"0s\"");
	assert_int_equal(test_num("limits.idle_timeout", "1", &v, err,
	    sizeof(err)), 0);
	assert_int_equal(v, 1);
}

static void
test_sizes(void **state)
{
	static const struct {
		const char	*value;
		uint64_t	 bytes;
		int		 ok;
	} cases[] = {
		{ "0", 0, 1 }, { "512", 512, 1 }, { "512B", 512, 1 },
		{ "64KiB", 65536, 1 }, { "64KB", 64000, 1 }, { "1K", 1024, 1 },
		{ "1k", 1024, 1 }, { "100MiB", 104857600, 1 },
		{ "100MB", 100000000, 1 }, { "10GiB", 10737418240ULL, 1 },
		{ "2G", 2147483648ULL, 1 }, { "2TB", 2000000000000ULL, 1 },
		{ "1TiB", 1099511627776ULL, 1 },
		{ "18446744073709551615", UINT64_MAX, 1 },
		{ "16777215TiB", 16777215ULL * 1099511627776ULL, 1 },
		{ "18446744073709551616", 0, 0 },
		{ "16777216TiB", 0, 0 },
		{ "17179869184GiB", 0, 0 },
		{ "-5", 0, 0 }, { "-5MiB", 0, 0 },
		{ "1.5GiB", 0, 0 }, { "5XB", 0, 0 }, { "MiB", 0, 0 },
		{ "5 MiB", 0, 0 }, { "5MiBs", 0, 0 }, { "lots", 0, 0 },
		{ "[1]", 0, 0 },
	};
	char		err[256];
	uint64_t	v;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("size \"%s\"\n", cases[i].value);
		if (cases[i].ok) {
			if (test_num("store.max_disk", cases[i].value, &v, err,
			    sizeof(err)) != 0)
				fail_msg("%s", err);
			assert_int_equal(v, cases[i].bytes);
		} else {
			assert_int_equal(test_num("store.max_disk",
			    cases[i].value, &v, err, sizeof(err)), -1);
			assert_memory_equal(err, "-o store.max_disk: ", 19);
		}
	}
	assert_int_equal(test_num("store.max_disk", "lots", &v, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "-o store.max_disk: expected a size such as "
	    "512, 64KiB or 100MiB, got \"lots\"");
	assert_int_equal(test_num("store.max_disk", "-5", &v, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "-o store.max_disk: must be between 0 and "
	    "18446744073709551615, got \"-5\"");
}

/* Finds the sundew.yaml of the source tree. */
static const char *
test_shipped_path(void)
{
	static char	 path[4096];
	const char	*corpora = getenv("CORPORA");
	const char	*tail = "/../shared/corpora";
	size_t		 len;

	/* meson sets CORPORA to SOURCE_ROOT/../shared/corpora. */
	if (corpora != NULL && (len = strlen(corpora)) > strlen(tail) &&
	    strcmp(corpora + len - strlen(tail), tail) == 0) {
		snprintf(path, sizeof(path), "%.*s/sundew.yaml",
		    (int)(len - strlen(tail)), corpora);
		if (access(path, R_OK) == 0)
			return path;
	}
	/* __FILE__ is SOURCE_ROOT/tests/unit/test_config.c, maybe relative. */
	snprintf(path, sizeof(path), "%s", __FILE__);
	if (strrchr(path, '/') != NULL) {
		*strrchr(path, '/') = '\0';
		len = strlen(path);
		snprintf(path + len, sizeof(path) - len, "/../../sundew.yaml");
		if (access(path, R_OK) == 0)
			return path;
	}
	if (access("sundew.yaml", R_OK) == 0)
		return "sundew.yaml";
	fail_msg("cannot find sundew.yaml (CORPORA=%s, __FILE__=%s)",
	    corpora != NULL ? corpora : "unset", __FILE__);
	return NULL;
}

/*
 * The shipped sundew.yaml loads, says what the defaults say, and spells
 * out every key that config_dump() knows, in the same order (sensor:, a
 * host name, is the one left as a comment).
 */
static void
test_shipped(void **state)
{
	struct config	 def, conf;
	const char	*path = test_shipped_path();
	char		 err[512], *a, *b, *line, *save, *text, *at, key[128];
	FILE		*fp;
	long		 len;
	size_t		 klen;

	(void)state;
	if (config_load(&conf, path, NULL, 0, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(config_load(&def, NULL, NULL, 0, err,
	    sizeof(err)), 0);
	a = test_dump(&def);
	b = test_dump(&conf);
	assert_string_equal(a, b);

	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	assert_non_null(strstr(text, "\n# sensor:"));
	at = text;
	for (line = strtok_r(a, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || strncmp(line, "sensor:", 7) == 0)
			continue;
		klen = strcspn(line, ":") + 1;
		assert_true(klen < sizeof(key) - 1);
		snprintf(key, sizeof(key), "\n%.*s", (int)klen, line);
		if ((at = strstr(at, key)) == NULL)
			fail_msg("sundew.yaml lacks \"%s\" in order", line);
		at += strlen(key);
	}
	free(text);
	free(a);
	free(b);
	config_free(&def);
	config_free(&conf);
}

/* What config_dump() writes loads back into the same configuration. */
static void
test_dump_roundtrip(void **state)
{
	static const char	*const ov[] = {
		"sensor=dump-test", "limits.idle_timeout=95",
		"limits.max_input=1000000", "output.json.max_size=3KiB",
		"output.json.format=ecs", "listen.address=[\"::1\",10.0.0.1]",
		"services.http.ports=[81,82,83]", "services.mssql.enabled=no",
		"sandbox.seccomp=off", "output.json.path=a/\"q\".json",
		NULL
	};
	struct config	 c1, c2;
	char		 err[256], *a, *b;
	FILE		*fp;

	(void)state;
	if (test_load(&c1, NULL, ov, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	a = test_dump(&c1);
	fp = fopen(test_write(""), "w");
	assert_non_null(fp);
	fputs(a, fp);
	fclose(fp);
	if (config_load(&c2, test_path, NULL, 0, err, sizeof(err)) != 0)
		fail_msg("%s\n%s", err, a);
	b = test_dump(&c2);
	assert_string_equal(a, b);
	assert_int_equal(c2.idle_timeout, 95);
	assert_string_equal(c2.json_path, "a/\"q\".json");
	assert_false(config_service(&c2, "mssql")->enabled);
	free(a);
	free(b);
	config_free(&c1);
	config_free(&c2);
}

/* A short error buffer gets a truncated, terminated message. */
static void
test_short_err(void **state)
{
	struct config	conf;
	char		err[12];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(test_load(&conf, "sensors: 99\n", NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, test_path, sizeof(err) - 1);
	config_free(&conf);
	assert_int_equal(test_load(&conf, "sensors: 99\n", NULL, NULL, 0), -1);
	config_free(&conf);
}

/*
 * download.*: the defaults, the lists in a file (a list or one comma
 * string of rules, one block or a list of them), and each error naming
 * the file, the line and the key.
 */
static void
test_download(void **state)
{
	static const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "download:\n  retries: 11\n", "%s:2: download.retries: must "
		  "be between 0 and 10, got \"11\"" },
		{ "download:\n  max_size: 65MiB\n", "%s:2: download.max_size: "
		  "must be between 1 and 64MiB, got \"65MiB\"" },
		{ "download:\n  timeout: 0\n", "%s:2: download.timeout: must "
		  "be between 1s and 1d, got \"0\"" },
		{ "download:\n  source_address: localhost\n",
		  "%s:2: download.source_address: expected an IPv4 or IPv6 "
		  "address or nothing, got \"localhost\"" },
		{ "download:\n  source_address: \"[::1]\"\n",
		  "%s:2: download.source_address: expected an IPv4 or IPv6 "
		  "address or nothing, got \"[::1]\"" },
		{ "download:\n  allow:\n    - 10.0.0.0/8\n    - 10.0.0.1/8\n",
		  "%s:4: download.allow: host bits set: did you mean "
		  "10.0.0.0/8?, got \"10.0.0.1/8\"" },
		{ "download:\n  allow: 10.0.0.0/33\n", "%s:2: download.allow: "
		  "the prefix length must be 0 to 32, got \"10.0.0.0/33\"" },
		{ "download:\n  allow: [\"fd00::/129\"]\n", "%s:2: "
		  "download.allow: the prefix length must be 0 to 128, got "
		  "\"fd00::/129\"" },
		{ "download:\n  allow: [\"::ffff:10.0.0.0/95\"]\n", "%s:2: "
		  "download.allow: an IPv4-mapped block needs a prefix of 96 "
		  "or more, got \"::ffff:10.0.0.0/95\"" },
		{ "download:\n  allow: [intranet]\n", "%s:2: download.allow: "
		  "expected an address or a block such as 10.0.0.0/8 or "
		  "fd00::/8, got \"intranet\"" },
		{ "download:\n  allow: [~]\n", "%s:2: download.allow: expected "
		  "an address block such as 10.0.0.0/8, got nothing" },
		{ "download:\n\n  connect_to:\n    - \"1.2.3.4:21:127.0.0.1:"
		  "2121\"\n    - \"1.2.3.4:21:localhost:2121\"\n",
		  "%s:5: download.connect_to: TO_HOST must be an IPv4 or IPv6 "
		  "address (IPv6 in brackets), got \"1.2.3.4:21:localhost:"
		  "2121\"" },
		{ "download:\n  connect_to: 1.2.3.4:21:127.0.0.1:1, 1.2.3.4:99"
		  "\n", "%s:2: download.connect_to: expected HOST:PORT:TO_HOST:"
		  "TO_PORT, got \"1.2.3.4:99\"" },
		{ "download:\n  connect_to: \":80::\"\n", "%s:2: "
		  "download.connect_to: a rule for any HOST must give a "
		  "TO_HOST, else it lets every host through the egress policy, "
		  "got \":80::\"" },
		{ "download:\n  resolv_conf: etc/resolv.conf\n", "%s:2: "
		  "download.resolv_conf: must be an absolute path (it is read "
		  "before the chroot), got \"etc/resolv.conf\"" },
		{ "download:\n  hosts: /etc/\n", "%s:2: download.hosts: must "
		  "name a file, not a directory, got \"/etc/\"" },
		{ "download:\n  per_source: lots\n", "%s:2: "
		  "download.per_source: expected an integer, got \"lots\"" },
	};
	struct config	 conf;
	char		 err[512], want[2048];
	char		 rules[65 * 32 + 32], *p;
	const char	*ov[] = { NULL, NULL };
	size_t		 i;

	(void)state;
	assert_int_equal(config_load(&conf, NULL, NULL, 0, err,
	    sizeof(err)), 0);
	assert_true(conf.download_enabled);
	assert_int_equal(conf.download_max_size, 16 * 1024 * 1024);
	assert_int_equal(conf.download_timeout, 120);
	assert_int_equal(conf.download_min_speed, 512);
	assert_int_equal(conf.download_min_speed_time, 30);
	assert_int_equal(conf.download_retries, 2);
	assert_int_equal(conf.download_retry_delay, 10);
	assert_int_equal(conf.download_max_concurrent, 256);
	assert_int_equal(conf.download_per_source, 30);
	assert_int_equal(conf.download_url_interval, 3600);
	assert_string_equal(conf.download_source_address, "");
	assert_int_equal(conf.download_nallow, 0);
	assert_null(conf.download_allow);
	assert_int_equal(conf.download_nconnect_to, 0);
	assert_string_equal(conf.download_resolv_conf, "/etc/resolv.conf");
	assert_string_equal(conf.download_hosts, "/etc/hosts");
	config_free(&conf);

	assert_int_equal(test_load(&conf, "download:\n  enabled: no\n"
	    "  allow: 192.168.7.0/24\n  source_address: \"::1\"\n"
	    "  connect_to:\n    - \"[2001:db8::1]:21:[::1]:2121\"\n"
	    "    - \":80:127.0.0.1:8080, 1.2.3.4::127.0.0.2:\"\n"
	    "  url_interval: 0\n  hosts: /tmp/hosts\n", NULL, err,
	    sizeof(err)), 0);
	assert_false(conf.download_enabled);
	assert_int_equal(conf.download_nallow, 1);
	assert_int_equal(conf.download_allow[0].family, AF_INET);
	assert_int_equal(conf.download_allow[0].bits, 24);
	assert_string_equal(conf.download_source_address, "::1");
	assert_int_equal(conf.download_nconnect_to, 3);
	assert_string_equal(conf.download_connect_to[0].host, "2001:db8::1");
	assert_int_equal(conf.download_connect_to[0].to_port, 2121);
	assert_string_equal(conf.download_connect_to[1].host, "");
	assert_int_equal(conf.download_connect_to[1].port, 80);
	assert_string_equal(conf.download_connect_to[2].to_host, "127.0.0.2");
	assert_int_equal(conf.download_url_interval, 0);
	assert_string_equal(conf.download_hosts, "/tmp/hosts");
	/* -o replaces the list; nothing empties it. */
	ov[0] = "download.connect_to=[::1]:80:127.0.0.1:8080";
	config_free(&conf);
	assert_int_equal(test_load(&conf, "download:\n  connect_to: "
	    "\"1.2.3.4:1:127.0.0.1:2\"\n", ov, err, sizeof(err)), 0);
	assert_int_equal(conf.download_nconnect_to, 1);
	assert_string_equal(conf.download_connect_to[0].host, "::1");
	config_free(&conf);
	/* YAML would read these as a mapping: taken as written. */
	ov[0] = "download.connect_to=:80:127.0.0.1:8080,1.2.3.4:21:127.0.0.1:";
	assert_int_equal(test_load(&conf, "user: x\n", ov, err, sizeof(err)),
	    0);
	assert_int_equal(conf.download_nconnect_to, 2);
	assert_string_equal(conf.download_connect_to[0].host, "");
	assert_int_equal(conf.download_connect_to[1].port, 21);
	config_free(&conf);
	ov[0] = "download.connect_to=";
	assert_int_equal(test_load(&conf, "download:\n  connect_to: "
	    "\"1.2.3.4:1:127.0.0.1:2\"\n", ov, err, sizeof(err)), 0);
	assert_int_equal(conf.download_nconnect_to, 0);
	config_free(&conf);

	/* At most CONFIG_MAX_CONNECT_TO rules: the 65th is refused. */
	p = rules + sprintf(rules, "download:\n  connect_to:\n");
	for (i = 0; i <= CONFIG_MAX_CONNECT_TO; i++)
		p += sprintf(p, "  - 1.2.3.%zu:1:127.0.0.1:2\n", i);
	assert_int_equal(test_load(&conf, rules, NULL, err, sizeof(err)), -1);
	test_expand(want, sizeof(want), "%s:67: download.connect_to: at most "
	    "64 rules");
	assert_string_equal(err, want);
	config_free(&conf);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu\n", i);
		test_fails(bad[i].text, NULL, bad[i].want);
	}
}

static int
test_teardown(void **state)
{
	(void)state;
	if (test_path[0] != '\0')
		unlink(test_path);
	return 0;
}

/* host.* and shell.*: the values an operator may give, and the errors. */
static void
test_host_keys(void **state)
{
	static const struct {
		const char	*override;
		const char	*err;	/* NULL: valid */
	} cases[] = {
		{ "host.name=FILESRV_01", NULL },
		{ "host.name=ABCDEFGHIJKLMNOP", "-o host.name: longer than 15 "
		    "characters (a NetBIOS name), got \"ABCDEFGHIJKLMNOP\"" },
		{ "host.domain=my.domain", "-o host.domain: may hold only "
		    "letters, digits, '-' and '_' (a NetBIOS name), got "
		    "\"my.domain\"" },
		{ "host.version=5.2.3790", NULL },
		{ "host.version=6.1.7601", NULL },
		{ "host.version=6.1.7600", "-o host.version: expected 5.0.2195 "
		    "(Windows 2000), 5.1.2600 (XP), 5.2.3790 (Server 2003), "
		    "6.0.6002 (Server 2008), 6.1.7601 (7), 6.2.9200 (Server "
		    "2012), 6.3.9600 (Server 2012 R2), 10.0.14393 (Server 2016), "
		    "10.0.17763 (Server 2019), 10.0.18362 or 10.0.18363 (10 "
		    "1903, 1909), got \"6.1.7600\"" },
		{ "host.system_root=C:\\WINNT", NULL },
		{ "host.system_root=D:\\WINDOWS", "-o host.system_root: "
		    "expected a directory of drive C such as C:\\WINDOWS (at "
		    "most 48 characters), got \"D:\\WINDOWS\"" },
		{ "host.system_root=C:\\WIN\\", "-o host.system_root: "
		    "expected a directory of drive C such as C:\\WINDOWS (at "
		    "most 48 characters), got \"C:\\WIN\\\"" },
		{ "host.system_root=C:\\W*N", "-o host.system_root: may hold "
		    "only letters, digits, blanks, '\\', '_', '-' and '.', "
		    "got \"C:\\W*N\"" },
		{ "shell.listen_timeout=5s", NULL },
		{ "shell.max_open=0", NULL },
	};
	struct config	conf;
	char		err[512], *ov;
	size_t		i;

	(void)state;
	assert_int_equal(config_load(&conf, NULL, NULL, 0, err, sizeof(err)),
	    0);
	assert_string_equal(conf.host_name, "ACCOUNTING-PC3");
	assert_string_equal(conf.host_domain, "WORKGROUP");
	assert_string_equal(conf.host_version, "5.1.2600");
	assert_string_equal(conf.host_system_root, "C:\\WINDOWS");
	assert_int_equal(conf.shell_listen_timeout, 180);
	assert_int_equal(conf.shell_session_timeout, 600);
	assert_int_equal(conf.shell_max, 256);
	config_free(&conf);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ov = (char *)cases[i].override;
		if (cases[i].err == NULL) {
			if (config_load(&conf, NULL, &ov, 1, err,
			    sizeof(err)) != 0)
				fail_msg("%s: %s", ov, err);
			config_free(&conf);
			continue;
		}
		assert_int_equal(config_load(&conf, NULL, &ov, 1, err,
		    sizeof(err)), -1);
		assert_string_equal(err, cases[i].err);
	}
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_section_twice),
		cmocka_unit_test(test_valid_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_override_errors),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_dump_roundtrip),
		cmocka_unit_test(test_short_err),
		cmocka_unit_test(test_host_keys),
		cmocka_unit_test(test_download),
	};

	return cmocka_run_group_tests(tests, NULL, test_teardown);
}
