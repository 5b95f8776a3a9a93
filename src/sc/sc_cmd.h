/*
 * The emulated Windows cmd.exe (DESIGN.md section 1): one interpreter for
 * both of its users, the shells of the sensor (shell.c: a peer types
 * commands) and the analyser (sc_cmd_downloads(): a command line found in
 * shellcode).  A session has a small virtual file system (echo > and >>,
 * type, dir, del, md), a current directory, nested cmd levels, and the
 * ftp -s: and tftp commands, which it turns into URLs to fetch.  Only
 * parsing and text: no network, no files, no clock beyond time(); the
 * caller gets the output and the URLs through callbacks.
 *
 * An address in a command or a script that is 0.0.0.0 or private,
 * loopback or link-local stands for the attacker's own (its NAT gateway
 * told the worm its private address), as Nepenthes did.
 */
#ifndef SUNDEW_SC_CMD_H
#define SUNDEW_SC_CMD_H

#include <stddef.h>
#include <stdint.h>

#define SC_CMD_FILES	32		/* files and directories made */
#define SC_CMD_FS_MAX	(32 * 1024)	/* their names and contents */
#define SC_CMD_PATH	260		/* Windows' MAX_PATH */
#define SC_CMD_LINE	8191		/* cmd.exe's longest line */
#define SC_CMD_BANNER	160
#define SC_CMD_OUT_MAX	(32 * 1024)	/* output of one line; the rest lost */
#define SC_CMD_STEPS	1000		/* commands (and ftp script lines) a line runs */

/* The Windows host the shell is part of (config.h: host.*). */
struct sc_cmd_host {
	const char	*name;		/* "ACCOUNTING-PC3" */
	const char	*version;	/* host.version: "5.1.2600" ... */
	const char	*system_root;	/* "C:\\WINDOWS" */
};

struct sc_cmd_ops {
	/* Text for the peer, stdout and stderr alike; NULL: none is made. */
	void	(*output)(void *arg, const char *text, size_t len);
	/* A file the commands fetch: ftp://user:pass@host:port/f, tftp:// */
	void	(*fetch)(void *arg, const char *url);
	/*
	 * Each command of a typed line, as typed (blanks around it cut),
	 * once it has run, with the bytes it wrote to the peer.  Commands
	 * that && or || skipped are not.
	 */
	void	(*command)(void *arg, const char *text, size_t outlen);
	/*
	 * The host an address written in a command or a script stands for,
	 * given the port it is reached on (ftp's, 69 for tftp), into out;
	 * NULL: the attacker's address for 0.0.0.0 and private, loopback,
	 * link-local and CGNAT ones (addr_is_private()).
	 */
	void	(*host)(void *arg, const char *host, uint16_t port, char *out,
		    size_t outlen);
	void	*arg;
};

struct sc_cmd;

/*
 * A new session in host's system32 directory (host NULL: a stock XP).
 * attacker is the address that 0.0.0.0 and private addresses stand for
 * (NULL: they stay as written).  NULL without memory.
 */
struct sc_cmd	*sc_cmd_new(const struct sc_cmd_host *host,
		    const struct sc_cmd_ops *ops, const char *attacker);
void		 sc_cmd_free(struct sc_cmd *);

/*
 * Runs one command line (len bytes, without its line end; a NUL ends
 * it early), its output at most SC_CMD_OUT_MAX bytes, at most
 * SC_CMD_STEPS commands (those of the batch files it runs and the lines
 * of its ftp scripts included): past them the line ends.  Returns 1
 * once the shell has exited (exit at the outer level), else 0.
 */
int		 sc_cmd_run(struct sc_cmd *, const char *line, size_t len);

/*
 * The commands the last sc_cmd_run() ran (at most SC_CMD_STEPS); *cut
 * (if not NULL) 1 if it ended the line there with commands left.
 */
size_t		 sc_cmd_steps(const struct sc_cmd *, int *cut);

/* The prompt, "C:\WINDOWS\system32>"; its length. */
size_t		 sc_cmd_prompt(const struct sc_cmd *, char *buf, size_t len);

/*
 * The banner cmd.exe starts with for a host version, its two lines and
 * the blank line after them; its length (0: buf too small).
 */
size_t		 sc_cmd_banner(const char *version, char *buf, size_t len);

/* Whether version is one sc_cmd_banner() knows (for the configuration). */
int		 sc_cmd_version_known(const char *version);

/*
 * Puts a file into the session's file system (a path as cmd.exe takes
 * it, relative to the current directory); 0, or -1 past the caps.
 */
int		 sc_cmd_file_put(struct sc_cmd *, const char *path,
		    const char *data, size_t len);

#endif
