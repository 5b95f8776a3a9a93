/*
 * The analyser's entry point: runs the pattern layer and the emulator on a
 * payload and merges what they find into one result (DESIGN.md section 6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_int.h"

void
sc_limits_default(struct sc_limits *l)
{
	l->max_steps = 2000000;
	l->max_usec = 200000;
	l->max_candidates = 32;
}

static int
sc_action_same(const struct sc_action *a, const struct sc_action *b)
{
	return a->kind == b->kind && a->port == b->port &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->url, b->url) == 0 &&
	    strcmp(a->command, b->command) == 0 &&
	    strcmp(a->mode, b->mode) == 0 && strcmp(a->key, b->key) == 0 &&
	    strcmp(a->proto, b->proto) == 0 &&
	    a->length_prefix == b->length_prefix;
}

int
sc_result_add(struct sc_result *res, const struct sc_action *a)
{
	size_t	i, w;

	for (i = 0; i < res->nactions; i++) {
		if (!sc_action_same(&res->actions[i], a))
			continue;
		/* Found twice: the strongest evidence counts. */
		if (a->evidence > res->actions[i].evidence)
			res->actions[i].evidence = a->evidence;
		return 0;
	}
	if (res->nactions < SC_MAX_ACTIONS) {
		res->actions[res->nactions++] = *a;
		return 0;
	}
	/*
	 * Full: a list filled with weaker findings (byte signatures in
	 * clear, as any exploit's padding may hold) must not crowd out what
	 * code asked for.  The weakest goes, if weaker than a.
	 */
	w = 0;
	for (i = 1; i < res->nactions; i++)
		if (res->actions[i].evidence < res->actions[w].evidence)
			w = i;
	if (res->actions[w].evidence >= a->evidence)
		return -1;
	res->actions[w] = *a;
	return 0;
}

void
sc_result_decoder(struct sc_result *res, const char *name)
{
	size_t	i;

	for (i = 0; i < res->ndecoders; i++)
		if (strcmp(res->decoders[i], name) == 0)
			return;
	if (res->ndecoders >= SC_MAX_DECODERS)
		return;
	snprintf(res->decoders[res->ndecoders], SC_NAME_MAX, "%s", name);
	res->ndecoders++;
}

/*
 * Whether res already holds an action on that port: the emulator's view
 * of a socket (bind shell, file transfer, with its key) wins over a byte
 * signature.
 */
static int
sc_port_known(const struct sc_result *res, uint16_t port)
{
	size_t	i;

	for (i = 0; i < res->nactions; i++)
		if (res->actions[i].port == port)
			return 1;
	return 0;
}

/* Adds what the pattern layer found (in pat) to res, emulator first. */
static void
sc_merge(struct sc_result *res, const struct sc_result *pat)
{
	const struct sc_action	*a;
	size_t			 i;

	for (i = 0; i < pat->ndecoders; i++)
		sc_result_decoder(res, pat->decoders[i]);
	if (res->family[0] == '\0' && pat->family[0] != '\0')
		memcpy(res->family, pat->family, sizeof(res->family));
	for (i = 0; i < pat->nactions; i++) {
		a = &pat->actions[i];
		if ((a->kind == SC_BIND_SHELL || a->kind == SC_CONNECT_SHELL ||
		    a->kind == SC_RECEIVE_FILE) && sc_port_known(res, a->port))
			continue;
		(void)sc_result_add(res, a);
	}
	if (pat->shellcode) {
		res->shellcode = 1;
		if (res->offset < 0)
			res->offset = pat->offset;
	}
}

/*
 * Adds the downloads that the command of exec amounts to, each with the
 * evidence of that command: a URL is only as real as the command it
 * comes from.  0, or -1 on no memory.
 */
static int
sc_exec_downloads(const struct sc_action *exec, const char *attacker,
    struct sc_result *res)
{
	struct sc_result	*cmd;
	enum sc_evidence	 ev = exec->evidence;	/* in res */
	size_t			 i;

	if ((cmd = calloc(1, sizeof(*cmd))) == NULL)
		return -1;
	sc_cmd_downloads(exec->command, attacker, cmd);
	for (i = 0; i < cmd->nactions; i++) {
		cmd->actions[i].evidence = ev;
		(void)sc_result_add(res, &cmd->actions[i]);
	}
	free(cmd);
	return 0;
}

int
sc_analyze(const uint8_t *buf, size_t len, const struct sc_limits *lim,
    const char *attacker, struct sc_result *res)
{
	struct sc_limits	 def;
	struct sc_result	*pat;
	long			 offs[SC_MAX_CANDIDATES];
	size_t			 n, i, max;
	int			 rc = 0;

	memset(res, 0, sizeof(*res));
	res->offset = -1;
	if (lim == NULL) {
		sc_limits_default(&def);
		lim = &def;
	}
	if (buf == NULL || len == 0)
		return 0;
	/* struct sc_result is about 30 KiB: keep it off the stack. */
	if ((pat = calloc(1, sizeof(*pat))) == NULL)
		return -1;
	pat->offset = -1;
	sc_pattern_scan(buf, len, pat);

	max = lim->max_candidates;
	if (max > SC_MAX_CANDIDATES)
		max = SC_MAX_CANDIDATES;
	n = sc_pattern_candidates(buf, len, offs, max);
	if (n > 0 && sc_emu_run(buf, len, offs, n, lim, res) == -1)
		rc = -1;
	sc_merge(res, pat);
	free(pat);

	/* A shell command in clear is not code; anything else is. */
	for (i = 0; i < res->nactions; i++)
		if (res->actions[i].kind != SC_EXEC)
			res->shellcode = 1;
	/* A command that fetches a file also amounts to its download. */
	n = res->nactions;
	for (i = 0; i < n; i++)
		if (res->actions[i].kind == SC_EXEC &&
		    sc_exec_downloads(&res->actions[i], attacker, res) == -1)
			rc = -1;
	if (res->family[0] != '\0' || res->ndecoders > 0)
		res->shellcode = 1;
	return rc;
}
