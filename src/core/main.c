/*
 * sundew: a low-interaction honeypot that collects self-propagating
 * malware.  This file reads the command line and hands over to the
 * subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "parent.h"
#include "replay.h"
#include "sc.h"

#define MAIN_MAX_OVERRIDES	64

static const char main_usage[] =
"usage: sundew COMMAND [OPTIONS]\n"
"\n"
"sundew is a low-interaction honeypot that collects self-propagating\n"
"malware: it listens on the ports that worms attack, records every\n"
"connection as a structured event and stores what it is sent.\n"
"\n"
"Commands:\n"
"  run [-c FILE] [-f] [-v] [-o KEY=VALUE]...\n"
"        run the honeypot (in the background unless -f is given)\n"
"  check-config [-c FILE] [-v] [-o KEY=VALUE]...\n"
"        check the configuration and exit; -v prints the effective one\n"
"  replay PCAP [--to ADDR] [--server IP] [--port-offset N] ...\n"
"        replay the client side of a capture against a sensor\n"
"        (sundew replay --help for all its options)\n"
"  analyze FILE...\n"
"        look for shellcode in files and print what it wants done,\n"
"        one JSON object per file (sundew analyze -h)\n"
"\n"
"Options:\n"
"  -c FILE        configuration file (default: ./sundew.yaml if it\n"
"                 exists, otherwise the built-in defaults)\n"
"  -f             stay in the foreground and log to stderr\n"
"  -o KEY=VALUE   override one configuration key, e.g.\n"
"                 -o listen.address=127.0.0.1 -o data_dir=/srv/sundew\n"
"  -v             more detail\n"
"  -h, --help     this text\n"
"  -V, --version  the version\n";

struct main_opts {
	const char	*config;
	char		*overrides[MAIN_MAX_OVERRIDES];
	size_t		 noverrides;
	int		 foreground;
	int		 verbose;
};

/* Parses the options shared by run and check-config; exits on misuse. */
static void
main_options(int argc, char **argv, struct main_opts *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt(argc, argv, "c:fho:v")) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'o':
			if (o->noverrides == MAIN_MAX_OVERRIDES) {
				fprintf(stderr, "sundew: too many -o options "
				    "(at most %d)\n", MAIN_MAX_OVERRIDES);
				exit(2);
			}
			o->overrides[o->noverrides++] = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(main_usage, stdout);
			exit(0);
		default:
			fputs(main_usage, stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sundew: unexpected argument \"%s\"\n",
		    argv[optind]);
		exit(2);
	}
	if (o->config == NULL && access("sundew.yaml", R_OK) == 0)
		o->config = "sundew.yaml";
}

static int
main_load(const struct main_opts *o, struct config *conf)
{
	char	err[1024];

	if (config_load(conf, o->config, o->overrides, o->noverrides, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "sundew: %s\n", err);
		config_free(conf);
		return -1;
	}
	if (conf->warning != NULL)
		fprintf(stderr, "sundew: warning: %s\n", conf->warning);
	return 0;
}

static int
main_run(int argc, char **argv)
{
	struct main_opts	o;
	struct config		conf;
	int			rc;

	main_options(argc, argv, &o);
	if (main_load(&o, &conf) == -1)
		return 1;
	rc = parent_run(&conf, o.foreground, o.verbose);
	config_free(&conf);
	return rc;
}

static int
main_check_config(int argc, char **argv)
{
	struct main_opts	o;
	struct config		conf;

	main_options(argc, argv, &o);
	if (main_load(&o, &conf) == -1)
		return 1;
	if (o.verbose)
		config_dump(&conf, stdout);
	printf("%s: configuration OK\n", o.config ? o.config :
	    "built-in defaults");
	config_free(&conf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*cmd;

	if (argc < 2) {
		fputs(main_usage, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(main_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 ||
	    strcmp(cmd, "version") == 0) {
		printf("sundew %s\n", SUNDEW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return main_run(argc - 1, argv + 1);
	if (strcmp(cmd, "check-config") == 0)
		return main_check_config(argc - 1, argv + 1);
	if (strcmp(cmd, "replay") == 0)
		return replay_main(argc - 1, argv + 1);
	if (strcmp(cmd, "analyze") == 0)
		return sc_main(argc - 1, argv + 1);
	fprintf(stderr, "sundew: unknown command \"%s\"\n\n", cmd);
	fputs(main_usage, stderr);
	return 2;
}
