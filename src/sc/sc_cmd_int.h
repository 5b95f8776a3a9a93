/*
 * Internal interface of the emulated cmd.exe, shared by sc_cmd.c (the
 * parser, the commands, ftp and tftp) and sc_cmd_fs.c (the file system
 * and its commands).  sc_cmd.h is the API; no other file includes this.
 */
#ifndef SUNDEW_SC_CMD_INT_H
#define SUNDEW_SC_CMD_INT_H

#include <stddef.h>
#include <time.h>

#include "sc_cmd.h"

#define SC_CMD_DEPTH	4	/* cmd /c in cmd /c, start, batch files */
#define SC_CMD_NEST	8	/* interactive cmd inside cmd */
#define SC_CMD_ARGS	16
#define SC_CMD_ARG	SC_CMD_PATH
#define SC_CMD_WORD	128
#define SC_CMD_HOST	64
#define SC_CMD_URL	512

/* Where a command's stdout or stderr goes. */
enum sc_cmd_to {
	SC_TO_UP = 0,		/* where the enclosing command's goes */
	SC_TO_NUL,
	SC_TO_FILE,
	SC_TO_DUP		/* 2>&1: where this command's stdout goes */
};

struct sc_cmd_redir {
	enum sc_cmd_to	 to;
	int		 append;
	char		 path[SC_CMD_PATH];
	char		*buf;			/* what goes into the file */
	size_t		 len;
};

/* The redirections of the command running, and of those around it. */
struct sc_cmd_frame {
	struct sc_cmd_frame	*up;
	struct sc_cmd_redir	 fd[2];		/* stdout, stderr */
};

struct sc_cmd_file {
	char	*path;		/* full path, as first written */
	char	*data;
	size_t	 len;
	int	 dir;
	time_t	 mtime;
};

struct sc_cmd {
	struct sc_cmd_ops	 ops;
	char			 name[16];
	char			 version[16];
	char			 root[64];
	char			 attacker[SC_CMD_HOST];
	char			 cwd[SC_CMD_PATH];
	struct sc_cmd_file	 files[SC_CMD_FILES];
	size_t			 nfiles;
	size_t			 fsused;	/* names and contents */
	struct sc_cmd_frame	*top;
	int			 err;		/* %ERRORLEVEL% */
	int			 nest;		/* interactive cmd levels */
	int			 procs;		/* cmd /c and start running */
	int			 exited;
	int			 stop;		/* exit: the rest of the line */
	size_t			 outlen;	/* bytes to ops.output */
	size_t			 runout;	/* of them, this line's */
};

/* cmd.exe's messages. */
#define SC_CMD_E_NOT_FOUND	"The system cannot find the file specified.\r\n"
#define SC_CMD_E_NO_PATH	"The system cannot find the path specified.\r\n"
#define SC_CMD_E_DENIED	"Access is denied.\r\n"
#define SC_CMD_E_NO_SPACE	"There is not enough space on the disk.\r\n"
#define SC_CMD_E_SYNTAX	"The syntax of the command is incorrect.\r\n"

/* sc_cmd.c */
void	sc_cmd_copy(char *, size_t, const char *, size_t);
void	sc_cmd_set(char *, size_t, const char *);
int	sc_cmd_blank(int);
const char *sc_cmd_skip_blanks(const char *);
/* Copies s without blanks at either end and without enclosing quotes. */
void	sc_cmd_trim(char *, size_t, const char *);
/*
 * Splits s into words as a program's C runtime would: blanks separate,
 * quotes group and are removed.  Returns the number of words (at most
 * SC_CMD_ARGS; each cut at SC_CMD_ARG - 1 bytes).
 */
int	sc_cmd_argv(const char *, char [][SC_CMD_ARG]);
/* Writes text to fd 1 (stdout) or 2 (stderr) through the redirections. */
void	sc_cmd_out(struct sc_cmd *, int fd, const char *, size_t);
void	sc_cmd_puts(struct sc_cmd *, int fd, const char *);
void	sc_cmd_printf(struct sc_cmd *, int fd, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* sc_cmd_fs.c */
/*
 * Resolves path against the current directory: "C:\A\B" (no trailing
 * backslash but for the root), "." and ".." applied, trailing dots and
 * blanks of a name dropped as Windows does.  -1 for another drive, a UNC
 * path or a result longer than MAX_PATH.
 */
int	sc_cmd_resolve(const struct sc_cmd *, const char *, char *, size_t);
/* The last part of a full path. */
const char *sc_cmd_base(const char *);
/* The session's file or directory at the full path, or NULL. */
struct sc_cmd_file *sc_cmd_file(struct sc_cmd *, const char *);
/*
 * Writes (or appends) len bytes to the file at the full path.  Returns
 * NULL, or the message cmd.exe gives.
 */
const char *sc_cmd_fs_write(struct sc_cmd *, const char *, const char *,
	    size_t, int append);
int	sc_cmd_type(struct sc_cmd *, const char *);
int	sc_cmd_dir(struct sc_cmd *, const char *);
int	sc_cmd_cd(struct sc_cmd *, const char *);
int	sc_cmd_del(struct sc_cmd *, const char *);
int	sc_cmd_md(struct sc_cmd *, const char *);

#endif
