#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

/* mkdir -p of one level, then make sure of owner and mode. */
static int
sandbox_dir(const char *path, uid_t uid, gid_t gid, mode_t mode, int priv,
    char *err, size_t errlen)
{
	struct stat	st;

	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	if (priv && (chown(path, uid, gid) == -1 || chmod(path, mode) == -1)) {
		snprintf(err, errlen, "chown/chmod %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * As root, the user's ids into sb; -1 with a message for the operator,
 * who named the user with key and may name another with opt.
 */
static int
sandbox_user(const char *user, const char *key, const char *opt,
    struct sandbox *sb, char *err, size_t errlen)
{
	struct passwd	*pw;

	snprintf(sb->user, sizeof(sb->user), "%s", user);
	if (!sb->privileged) {
		sb->uid = getuid();
		sb->gid = getgid();
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen,
		    "user \"%s\" (%s) does not exist.\n"
		    "Create it: useradd --system --no-create-home "
		    "--shell /usr/sbin/nologin %s\n"
		    "(`make run` does this), or name another "
		    "unprivileged user with %s.", user, key, user, opt);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root: what reads "
		    "hostile bytes must run as an unprivileged user", user);
		return -1;
	}
	sb->uid = pw->pw_uid;
	sb->gid = pw->pw_gid;
	return 0;
}

int
sandbox_prepare(const char *user, const char *data_dir, int seccomp,
    struct sandbox *sb, char *err, size_t errlen)
{
	int		 n;

	/*
	 * What the children create is the sundew group's to read, no one
	 * else's, whatever the umask of the shell that started us: the
	 * database (SQLite gives 0644 less the umask, and its -wal and -shm
	 * the database's mode), the logs and the hexdumps are all 0640.
	 */
	umask(027);
	memset(sb, 0, sizeof(*sb));
	sb->privileged = geteuid() == 0;
	sb->seccomp = seccomp;
	if (sandbox_user(user, "config key `user`", "-o user=NAME", sb, err,
	    errlen) == -1)
		return -1;
	n = snprintf(sb->data_dir, sizeof(sb->data_dir), "%s", data_dir);
	if (n < 0 || (size_t)n >= sizeof(sb->data_dir))
		goto toolong;
	n = snprintf(sb->empty_dir, sizeof(sb->empty_dir), "%s/empty",
	    data_dir);
	if (n < 0 || (size_t)n >= sizeof(sb->empty_dir))
		goto toolong;
	if (sandbox_dir(sb->data_dir, sb->uid, sb->gid, 0750, sb->privileged,
	    err, errlen) == -1 ||
	    sandbox_dir(sb->empty_dir, 0, 0, 0555, sb->privileged,
	    err, errlen) == -1)
		return -1;
	return 0;
toolong:
	snprintf(err, errlen, "data_dir: path too long");
	return -1;
}

int
sandbox_prepare_empty(const char *user, struct sandbox *sb, char *err,
    size_t errlen)
{
	memset(sb, 0, sizeof(*sb));
	sb->privileged = geteuid() == 0;
	sb->seccomp = 1;
	if (sandbox_user(user, "option -u", "-u NAME", sb, err, errlen) == -1)
		return -1;
	if (!sb->privileged)
		return 0;
	/* Root's, 0700, empty: the user may not even list it. */
	snprintf(sb->empty_dir, sizeof(sb->empty_dir),
	    "/tmp/sundew-empty.XXXXXX");
	if (mkdtemp(sb->empty_dir) == NULL) {
		snprintf(err, errlen, "mkdtemp %s: %s", sb->empty_dir,
		    strerror(errno));
		return -1;
	}
	sb->made_empty = 1;
	return 0;
}

void
sandbox_release(struct sandbox *sb)
{
	if (sb->made_empty && rmdir(sb->empty_dir) == -1)
		log_warn("rmdir %s", sb->empty_dir);
	sb->made_empty = 0;
}

void
sandbox_close_strays(void)
{
	long	max, fd;
	int	null;

	/* 0, 1 and 2 open, so that no file we open is taken for them. */
	do
		null = open("/dev/null", O_RDWR);
	while (null != -1 && null <= STDERR_FILENO);
	if (null != -1)
		close(null);
	if (close_range(STDERR_FILENO + 1, ~0U, 0) == 0)
		return;
	/* Kernels before 5.9. */
	max = sysconf(_SC_OPEN_MAX);
	for (fd = STDERR_FILENO + 1; fd < (max > 0 ? max : 1024); fd++)
		close((int)fd);
}

/* The event loop of every child: its descriptors, its socketpairs. */
static const int sandbox_loop_calls[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_create1), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(socketpair),
	SCMP_SYS(pipe2), SCMP_SYS(eventfd2), SCMP_SYS(fcntl), SCMP_SYS(dup),
	SCMP_SYS(dup3),
};

/* A sensor's own: network sockets (socket() in sandbox_seccomp), no files. */
static const int sandbox_sensor_calls[] = {
	SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(recvmmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(connect),
	SCMP_SYS(shutdown), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(bind),
	SCMP_SYS(listen), SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
};

/* The store's own: files inside its chroot, no new sockets. */
static const int sandbox_store_calls[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(openat),
	SCMP_SYS(open), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(stat),
	SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
	SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(fchmod), SCMP_SYS(fchown),
	SCMP_SYS(lchown), SCMP_SYS(fchownat),
	SCMP_SYS(getdents64), SCMP_SYS(access), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(getcwd), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat), SCMP_SYS(flock), SCMP_SYS(utimensat),
};

/*
 * What every process needs: memory, time, signals, exit; mmap and
 * mprotect are in sandbox_seccomp (no PROT_EXEC but in the analyser).
 * No prctl: nothing calls it once the filter is loaded (the names, the
 * death signal, no_new_privs and dumpable are set before).  sysinfo is
 * read-only (memory and swap totals, load, uptime, a process count) and
 * glibc 2.36's qsort asks it for the memory size once it sorts more than
 * 1 KiB: the store prunes with it, SQLite, libmagic, OpenSSL and Unicorn
 * call it, and a SIGSYS there would show only under load.
 */
static const int sandbox_common_calls[] = {
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(madvise), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getrandom), SCMP_SYS(futex), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
	SCMP_SYS(getrlimit), SCMP_SYS(sched_yield), SCMP_SYS(uname),
	SCMP_SYS(sysinfo),
};

static void
sandbox_allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (calls[i] >= 0 &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			fatalx("seccomp_rule_add %d failed", calls[i]);
}

/* One rule on one argument: arg op a (SCMP_CMP_MASKED_EQ: arg & a == b). */
static void
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int call, unsigned arg,
    enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp	cmp = { .arg = arg, .op = op, .datum_a = a,
				    .datum_b = b };

	if (seccomp_rule_add_array(ctx, action, call, 1, &cmp) < 0)
		fatalx("seccomp_rule_add %d with arguments failed", call);
}

/*
 * The calls allowed only with some arguments.  Signals only to itself
 * (abort, raise): the sensors and the store share a user, and one must not
 * be able to kill another; for the same reason resource limits only of
 * itself (pid 0 or its own: glibc's getrlimit is prlimit64(0, ...)).
 * ioctl only to ask how much a socket holds (libevent's reads).  No
 * executable mapping but in the analyser, whose Unicorn compiles code:
 * elsewhere an attacker who gets to call mmap or mprotect gets no place
 * to put his own code.
 */
static void
sandbox_args(scmp_filter_ctx ctx, enum sandbox_profile profile)
{
	static const int	anymap[] = { SCMP_SYS(mmap), SCMP_SYS(mprotect) };
	scmp_datum_t		self = (scmp_datum_t)getpid();

	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 0, SCMP_CMP_EQ,
	    self, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 0, SCMP_CMP_EQ,
	    self, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 0, SCMP_CMP_EQ,
	    0, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 0, SCMP_CMP_EQ,
	    self, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ,
	    FIONREAD, 0);
	if (profile == SANDBOX_ANALYSER) {
		sandbox_allow(ctx, anymap, sizeof(anymap) / sizeof(int));
		return;
	}
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
	    SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 2,
	    SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
}

/*
 * socket(): the sensor's network families only, none for the others,
 * and only TCP and UDP sockets of them (SOCK_STREAM, SOCK_DGRAM, with
 * SOCK_NONBLOCK or SOCK_CLOEXEC): a raw or packet socket is fatal, as
 * another family is, whatever capabilities are left.
 * AF_UNIX is refused (EACCES) rather than fatal in every profile: glibc's
 * syslog (log.c, in the background) opens a new AF_UNIX socket after it
 * lost its connection or never had one; refused, the line is dropped and
 * the process goes on.  Allowed, it could reach abstract-namespace
 * sockets, which no chroot hides.
 */
static void
sandbox_socket(scmp_filter_ctx ctx, enum sandbox_profile profile)
{
	static const int	families[] = { AF_INET, AF_INET6 };
	static const int	types[] = { SOCK_STREAM, SOCK_DGRAM };
	/* The type without its flags; the kernel reads an int. */
	const scmp_datum_t	flags = 0xffffffffu &
				    ~(scmp_datum_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
	size_t			i, j;

	sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0,
	    SCMP_CMP_EQ, AF_UNIX, 0);
	if (profile != SANDBOX_SENSOR)
		return;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ,
			    families[i]), SCMP_A1(SCMP_CMP_MASKED_EQ, flags,
			    types[j])) < 0)
				fatalx("seccomp_rule_add socket failed");
}

/*
 * An allow-list; anything else kills the process, and the parent logs the
 * death by SIGSYS and starts a new one.
 */
static void
sandbox_seccomp(enum sandbox_profile profile)
{
	scmp_filter_ctx	ctx;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init failed");
	sandbox_allow(ctx, sandbox_common_calls,
	    sizeof(sandbox_common_calls) / sizeof(int));
	sandbox_allow(ctx, sandbox_loop_calls,
	    sizeof(sandbox_loop_calls) / sizeof(int));
	sandbox_args(ctx, profile);
	sandbox_socket(ctx, profile);
	if (profile == SANDBOX_SENSOR)
		sandbox_allow(ctx, sandbox_sensor_calls,
		    sizeof(sandbox_sensor_calls) / sizeof(int));
	else if (profile == SANDBOX_STORE)
		sandbox_allow(ctx, sandbox_store_calls,
		    sizeof(sandbox_store_calls) / sizeof(int));
	else if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(alarm), 0) < 0)
		fatalx("seccomp_rule_add alarm failed");
	if (seccomp_load(ctx) < 0)
		fatalx("seccomp_load failed");
	seccomp_release(ctx);
}

void
sandbox_enter(const struct sandbox *sb, const char *root,
    enum sandbox_profile profile)
{
	struct tm	tm;
	time_t		now = time(NULL);

	/* glibc reads /etc/localtime on the first time conversion: now. */
	tzset();
	gmtime_r(&now, &tm);
	if (sb->privileged) {
		/* Both must succeed: never go on outside the chroot. */
		if (chroot(root) == -1)
			fatal("chroot %s", root);
		if (chdir("/") == -1)
			fatal("chdir / in %s", root);
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_change_id((int)sb->uid, (int)sb->gid,
		    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0)
			fatalx("cannot drop to user %s (uid %d)", sb->user,
			    (int)sb->uid);
		if (getuid() == 0 || geteuid() == 0 || setuid(0) != -1)
			fatalx("still root after dropping privileges");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	if (sb->seccomp)
		sandbox_seccomp(profile);
}
