/*
 * The shellcode analyser (DESIGN.md section 6): finds shellcode in any
 * payload and says what it wants done.  Two layers: a fast pattern layer
 * (sc_pattern.c: GetPC candidates, known decoders, signatures, URLs and
 * commands in clear) and x86 emulation on Unicorn (sc_emu.c, sc_win32.c:
 * a fake 32-bit Windows process whose API entries are hooks that record
 * intent; Linux int 0x80 too).  sc.c runs both and merges what they find.
 * Nothing here touches the network or the file system.
 */
#ifndef SUNDEW_SC_H
#define SUNDEW_SC_H

#include <stddef.h>
#include <stdint.h>

enum sc_action_kind {
	SC_BIND_SHELL = 1,	/* port */
	SC_CONNECT_SHELL,	/* host, port */
	SC_DOWNLOAD,		/* url */
	SC_EXEC,		/* command */
	SC_RECEIVE_FILE		/* mode "connect" (host, port, key) | "bind" */
};

/*
 * Why the analyser believes an action: only what code asked for is carried
 * out (capture.h).  A URL or a command merely present in clear in a
 * payload, as in the help text of any program, is reported, not done.
 */
enum sc_evidence {
	SC_EV_CLEAR = 0,	/* bytes in clear: reported only */
	SC_EV_DECODED,		/* in the output of a decoder the code carries */
	SC_EV_EMULATED		/* asked for by code the emulator ran */
};

#define SC_HOST_MAX	64
#define SC_URL_MAX	512
#define SC_CMD_MAX	1024
#define SC_KEY_MAX	128
#define SC_MAX_ACTIONS	16
#define SC_MAX_DECODERS	8
#define SC_NAME_MAX	32

struct sc_action {
	enum sc_action_kind	kind;
	enum sc_evidence	evidence;
	uint16_t		port;
	char			host[SC_HOST_MAX];	/* dotted IPv4 or name */
	char			url[SC_URL_MAX];
	char			command[SC_CMD_MAX];
	char			mode[16];		/* receive_file */
	char			key[SC_KEY_MAX];	/* hex */
	/*
	 * receive_file: Nepenthes' name of the dialogue, "link" (connect,
	 * key), "blink" (bind, key), "csend" (connect), "creceive" (bind),
	 * or "" when only a signature saw it; length_prefix 4 when the code
	 * first reads a 4-byte length (little-endian) before the file.
	 */
	char			proto[16];
	uint8_t			length_prefix;
};

struct sc_result {
	int			shellcode;	/* found code, with or without action */
	long			offset;		/* where the code starts, or -1 */
	char			decoders[SC_MAX_DECODERS][SC_NAME_MAX];
	size_t			ndecoders;
	char			family[SC_NAME_MAX];	/* known worm body, or "" */
	struct sc_action	actions[SC_MAX_ACTIONS];
	size_t			nactions;
};

/* Budgets of one analysis. */
struct sc_limits {
	uint64_t	max_steps;	/* x86 instructions per candidate */
	uint64_t	max_usec;	/* CPU time for the whole payload */
	size_t		max_candidates;	/* offsets emulated */
};

void	sc_limits_default(struct sc_limits *);

/*
 * Cheap test for "may hold shellcode", meant for every byte of every
 * session (hundreds of MB/s): 0 means ordinary traffic, skip the rest.
 */
int	sc_prefilter(const uint8_t *buf, size_t len);

/*
 * The whole analysis.  attacker is the address that 0.0.0.0 and private
 * addresses in shell commands stand for (NULL: keep them as they are).
 * Always fills *res; returns 0, or -1 on no memory.
 */
int	sc_analyze(const uint8_t *buf, size_t len, const struct sc_limits *,
	    const char *attacker, struct sc_result *res);

/*
 * Adds an action unless the same one is there, in which case that one
 * keeps the stronger of the two evidences.  When res is full, a replaces
 * the weakest action if that one's evidence is weaker.  0, or -1 if a
 * found no room.
 */
int	sc_result_add(struct sc_result *, const struct sc_action *);
void	sc_result_decoder(struct sc_result *, const char *name);

/*
 * A cmd.exe command line that fetches a file (echo ... > o & ftp -s:o,
 * ftp -n -s:o, tftp -i host get f) as the download URLs it amounts to.
 * attacker is the address that 0.0.0.0 and private addresses stand for
 * (NULL: keep them).  Adds SC_DOWNLOAD actions to res, as SC_EV_CLEAR:
 * sc_analyze gives them the evidence of the command they come from.
 */
void	sc_cmd_downloads(const char *cmd, const char *attacker,
	    struct sc_result *res);

/* `sundew analyze FILE...`: one JSON object per file on stdout. */
int	sc_main(int argc, char **argv);

#endif
