/*
 * Privilege separation (DESIGN.md section 3): the parent resolves the user
 * and prepares the directories; each child then enters its sandbox:
 * chroot, the unprivileged user, no capabilities, no_new_privs and a
 * seccomp allow-list of the system calls its kind of process needs.
 */
#ifndef SUNDEW_SANDBOX_H
#define SUNDEW_SANDBOX_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

enum sandbox_profile {
	SANDBOX_SENSOR,		/* sockets, no files */
	SANDBOX_STORE,		/* files in the data directory, no sockets */
	SANDBOX_ANALYSER	/* neither: its links and memory only */
};

struct sandbox {
	int	privileged;		/* started as root */
	uid_t	uid;
	gid_t	gid;
	int	seccomp;		/* sandbox.seccomp */
	int	made_empty;		/* empty_dir is sandbox_prepare_empty's */
	char	user[64];
	char	empty_dir[PATH_MAX];	/* the sensors' and analyser's chroot */
	char	data_dir[PATH_MAX];	/* the store's chroot */
};

/*
 * In the parent, at start: resolves the user, creates the data directory
 * (owned by that user) and the empty chroot directory (owned by root, not
 * writable).  Returns -1 with a message for the operator in err.
 */
int	sandbox_prepare(const char *user, const char *data_dir, int seccomp,
	    struct sandbox *sb, char *err, size_t errlen);
/*
 * For a command outside the daemon (sundew analyze): the same sandbox, its
 * filter always on, chrooted (when root) into a new empty directory of
 * root's under /tmp, which sandbox_release removes.  Returns -1 with a
 * message for the operator in err.
 */
int	sandbox_prepare_empty(const char *user, struct sandbox *sb, char *err,
	    size_t errlen);
void	sandbox_release(struct sandbox *sb);
/*
 * At the start of a command that forks sandboxed children: closes every
 * descriptor above stderr (those the starting shell left open would
 * otherwise reach every child) and opens /dev/null on 0, 1 or 2 if one
 * is closed.
 */
void	sandbox_close_strays(void);
/* In a child: chroot into root, drop to the user, filter system calls. */
void	sandbox_enter(const struct sandbox *sb, const char *root,
	    enum sandbox_profile profile);

#endif
