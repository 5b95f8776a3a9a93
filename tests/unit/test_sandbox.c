/*
 * The children's seccomp filters, live: each probe runs in a forked
 * process that has entered a profile's real filter (sandbox_enter with
 * seccomp on; not privileged, so no chroot or user change) and then
 * makes one kind of call.  What is outside a profile's job must kill the
 * process (SIGSYS) or be refused; what the profile needs must work, down
 * to a real store writing its JSON log, SQLite and a hexdump and a real
 * analysis on Unicorn.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "corpus.h"

#include "addr.h"
#include "capture.h"
#include "config.h"
#include "egress.h"
#include "event.h"
#include "sandbox.h"
#include "sc.h"
#include "store.h"

#define KILLED		(-SIGSYS)
#define PROBE_WRONG	126	/* the call worked but gave a wrong answer */

static const enum sandbox_profile profiles[] = {
	SANDBOX_SENSOR, SANDBOX_STORE, SANDBOX_ANALYSER
};
static const char *const profile_names[] = { "sensor", "store", "analyser" };

static pid_t	test_parent;		/* a pid that is not the child's */

/* A probe's result: 0 when the call worked, its errno when refused. */
static int
probe_ret(long r)
{
	if (r != -1)
		return 0;
	return errno > 0 && errno < PROBE_WRONG ? errno : PROBE_WRONG;
}

/*
 * Runs before(), then enters profile's filter, then probe(); returns the
 * probe's exit status, or minus the signal that killed the child.
 */
static int
in_sandbox(enum sandbox_profile profile, void (*before)(void),
    int (*probe)(void))
{
	struct sandbox	sb;
	pid_t		pid;
	int		status;

	fflush(NULL);
	test_parent = getpid();
	if ((pid = fork()) == 0) {
		memset(&sb, 0, sizeof(sb));
		sb.privileged = 0;
		sb.seccomp = 1;
		sb.uid = getuid();
		sb.gid = getgid();
		if (before != NULL)
			before();
		sandbox_enter(&sb, ".", profile);
		/* _exit: no atexit handler runs under the filter. */
		_exit(probe());
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

/* The same probe in every profile, each with its expected result. */
static void
expect_all(int (*probe)(void), const char *what, int sensor, int store,
    int analyser)
{
	int	want[3] = { sensor, store, analyser }, got;
	size_t	i;

	for (i = 0; i < 3; i++) {
		got = in_sandbox(profiles[i], NULL, probe);
		if (got != want[i])
			fail_msg("%s in the %s profile: got %d, want %d "
			    "(%d: killed by SIGSYS)", what, profile_names[i],
			    got, want[i], KILLED);
	}
}

/* Calls outside every job. */

static int
probe_execve(void)
{
	char *const	argv[] = { "true", NULL }, *const envp[] = { NULL };

	return probe_ret(execve("/bin/true", argv, envp));
}

static int
probe_ptrace(void)
{
	return probe_ret(ptrace(PTRACE_ATTACH, test_parent, NULL, NULL));
}

static int
probe_prlimit_other(void)
{
	struct rlimit	rl;

	return probe_ret(prlimit(test_parent, RLIMIT_CPU, NULL, &rl));
}

static int
probe_kill_other(void)
{
	return probe_ret(kill(test_parent, 0));
}

static int
probe_prctl_dumpable(void)
{
	return probe_ret(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
}

static int
probe_prctl_name(void)
{
	return probe_ret(prctl(PR_SET_NAME, "probe", 0, 0, 0));
}

static int
probe_mmap_exec(void)
{
	void	*p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return probe_ret(p == MAP_FAILED ? -1 : 0);
}

static int
probe_mprotect_exec(void)
{
	void	*p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return PROBE_WRONG;
	return probe_ret(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

static int
probe_socket(int family, int type)
{
	int	s = socket(family, type, 0);

	if (s != -1)
		close(s);
	return probe_ret(s);
}

static int probe_netlink(void) { return probe_socket(AF_NETLINK, SOCK_RAW); }
static int probe_packet(void) { return probe_socket(AF_PACKET, SOCK_DGRAM); }
static int probe_unix(void) { return probe_socket(AF_UNIX, SOCK_DGRAM); }
static int probe_inet(void) { return probe_socket(AF_INET, SOCK_STREAM); }
static int probe_inet6(void) { return probe_socket(AF_INET6, SOCK_DGRAM); }

static int
probe_inet_flags(void)
{
	return probe_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
}

static int
probe_inet6_flags(void)
{
	return probe_socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC);
}

static int
probe_inet_raw(void)
{
	return probe_socket(AF_INET, SOCK_RAW);
}

static int
probe_inet6_raw(void)
{
	return probe_socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK);
}

static int
probe_inet_packet(void)
{
	return probe_socket(AF_INET, SOCK_PACKET);
}

static int
probe_inet_seqpacket(void)
{
	return probe_socket(AF_INET6, SOCK_SEQPACKET | SOCK_CLOEXEC);
}

static int
probe_openat(void)
{
	return probe_ret(open("/dev/null", O_RDONLY | O_CLOEXEC));
}

static int
probe_accept(void)
{
	return probe_ret(accept4(-1, NULL, NULL, SOCK_CLOEXEC));
}

/* Not in any list: only the default action decides. */
static int
probe_getppid(void)
{
	return probe_ret(syscall(SYS_getppid));
}

static void
test_execve_and_ptrace_kill(void **state)
{
	expect_all(probe_execve, "execve", KILLED, KILLED, KILLED);
	expect_all(probe_ptrace, "ptrace", KILLED, KILLED, KILLED);
}

/* A sensor must not be able to set the store's limits, nor signal it. */
static void
test_other_process_kills(void **state)
{
	expect_all(probe_prlimit_other, "prlimit64 on another pid",
	    KILLED, KILLED, KILLED);
	expect_all(probe_kill_other, "kill of another pid",
	    KILLED, KILLED, KILLED);
}

static void
test_prctl_kills(void **state)
{
	expect_all(probe_prctl_dumpable, "prctl PR_SET_DUMPABLE",
	    KILLED, KILLED, KILLED);
	expect_all(probe_prctl_name, "prctl PR_SET_NAME",
	    KILLED, KILLED, KILLED);
}

/* Executable memory only for the analyser's Unicorn. */
static void
test_exec_mappings(void **state)
{
	expect_all(probe_mmap_exec, "mmap PROT_EXEC", KILLED, KILLED, 0);
	expect_all(probe_mprotect_exec, "mprotect PROT_EXEC",
	    KILLED, KILLED, 0);
}

/*
 * Network families for the sensor only; AF_UNIX refused everywhere (so
 * that syslog's reconnection does not kill), everything else fatal.
 */
static void
test_socket_families(void **state)
{
	expect_all(probe_inet, "socket AF_INET", 0, KILLED, KILLED);
	expect_all(probe_inet6, "socket AF_INET6", 0, KILLED, KILLED);
	expect_all(probe_unix, "socket AF_UNIX", EACCES, EACCES, EACCES);
	expect_all(probe_netlink, "socket AF_NETLINK", KILLED, KILLED, KILLED);
	expect_all(probe_packet, "socket AF_PACKET", KILLED, KILLED, KILLED);
}

/*
 * Of the sensor's families, TCP and UDP sockets only (with their flags):
 * a raw or packet socket is fatal, as another family, even where
 * capabilities would let it be made.
 */
static void
test_socket_types(void **state)
{
	expect_all(probe_inet_flags, "socket AF_INET SOCK_STREAM|flags",
	    0, KILLED, KILLED);
	expect_all(probe_inet6_flags, "socket AF_INET6 SOCK_DGRAM|CLOEXEC",
	    0, KILLED, KILLED);
	expect_all(probe_inet_raw, "socket AF_INET SOCK_RAW",
	    KILLED, KILLED, KILLED);
	expect_all(probe_inet6_raw, "socket AF_INET6 SOCK_RAW|NONBLOCK",
	    KILLED, KILLED, KILLED);
	expect_all(probe_inet_packet, "socket AF_INET SOCK_PACKET",
	    KILLED, KILLED, KILLED);
	expect_all(probe_inet_seqpacket, "socket AF_INET6 SOCK_SEQPACKET",
	    KILLED, KILLED, KILLED);
}

/* The calls of one profile's job are not another's. */
static void
test_other_profiles_jobs_kill(void **state)
{
	expect_all(probe_openat, "openat", KILLED, 0, KILLED);
	expect_all(probe_accept, "accept4", EBADF, KILLED, KILLED);
}

/*
 * Whatever is not listed kills the process: the default action.  Fails
 * if it becomes SCMP_ACT_LOG (the call goes through) or an errno.
 */
static void
test_default_action_kills(void **state)
{
	expect_all(probe_getppid, "getppid (listed nowhere)",
	    KILLED, KILLED, KILLED);
}

/* What every profile needs. */

static int
probe_cmp64(const void *a, const void *b)
{
	return memcmp(a, b, 64);
}

/*
 * Memory from the heap and from mmap, qsort of 100 elements of 64 bytes
 * (glibc asks sysinfo for the memory size past 1 KiB), limits of itself,
 * time, and a syslog line after the connection to syslog is gone (glibc
 * then opens a new AF_UNIX socket, which is refused).
 */
static int
probe_common(void)
{
	static uint8_t	 elems[100][64];
	struct rlimit	 rl;
	struct timespec	 ts;
	uint8_t		*big;
	size_t		 i;

	if ((big = malloc(64u << 20)) == NULL)
		return PROBE_WRONG;
	memset(big, 1, 64u << 20);
	free(big);
	for (i = 0; i < 100; i++)
		memset(elems[i], (int)((i * 37) % 100), 64);
	qsort(elems, 100, 64, probe_cmp64);
	for (i = 1; i < 100; i++)
		if (memcmp(elems[i - 1], elems[i], 64) > 0)
			return PROBE_WRONG;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    prlimit(0, RLIMIT_NOFILE, NULL, &rl) == -1 ||
	    prlimit(getpid(), RLIMIT_NOFILE, NULL, &rl) == -1 ||
	    clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return probe_ret(-1);
	closelog();
	openlog("sundew-test", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	syslog(LOG_INFO, "a line from under the filter");
	return 0;
}

static void
test_common_calls_work(void **state)
{
	expect_all(probe_common, "memory, qsort, limits, syslog", 0, 0, 0);
}

/*
 * The sensor's job: TCP over loopback (listen, connect, accept, both
 * ways, shutdown), UDP, a timer, on a libevent loop made before.
 */
static struct event_base	*sensor_base;

static void
sensor_before(void)
{
	if ((sensor_base = event_base_new()) == NULL)
		_exit(PROBE_WRONG);
}

static void
sensor_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

static int
probe_sensor(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct timeval		 tv = { 0, 1000 };
	struct event		*ev;
	char			 buf[8];
	int			 l, c, a, u, one = 1, fired = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 4) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (a = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1 ||
	    send(c, "ping", 4, 0) != 4 || recv(a, buf, 4, MSG_WAITALL) != 4 ||
	    shutdown(a, SHUT_WR) == -1 || recv(c, buf, 1, 0) != 0)
		return probe_ret(-1);
	sin.sin_port = 0;
	if ((u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(u, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(u, (struct sockaddr *)&sin, &len) == -1 ||
	    sendto(u, "dgram", 5, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) != 5 || recvfrom(u, buf, sizeof(buf), 0, NULL,
	    NULL) != 5)
		return probe_ret(-1);
	ev = evtimer_new(sensor_base, sensor_timer_cb, &fired);
	if (ev == NULL || evtimer_add(ev, &tv) == -1 ||
	    event_base_loop(sensor_base, EVLOOP_ONCE) == -1 || !fired)
		return PROBE_WRONG;
	return 0;
}

static void
test_sensor_job_works(void **state)
{
	assert_int_equal(in_sandbox(SANDBOX_SENSOR, sensor_before,
	    probe_sensor), 0);
}

/*
 * The sensor's outbound job through the egress policy: a URL claimed in
 * the shared table (its lock), a connection mapped by a connect_to rule
 * from a documentation address to a listener on 127.0.0.1, bound to
 * download.source_address, accepted, released.
 */
static struct config		 egress_conf;
static int			 egress_l = -1;

static void
egress_before(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 rule[96], err[256];
	char			*ov[] = { rule, "download.source_address=127.0.0.1" };

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((egress_l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(egress_l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(egress_l, 4) == -1 || getsockname(egress_l,
	    (struct sockaddr *)&sin, &len) == -1)
		_exit(PROBE_WRONG);
	snprintf(rule, sizeof(rule), "download.connect_to=192.0.2.1:21:"
	    "127.0.0.1:%u", ntohs(sin.sin_port));
	if (config_load(&egress_conf, NULL, ov, 2, err, sizeof(err)) != 0)
		_exit(PROBE_WRONG);
	egress_init(&egress_conf, egress_shared_new(&egress_conf));
}

static int
probe_egress(void)
{
	struct capture_origin	 o;
	struct pollfd		 pfd = { .events = POLLOUT };
	struct sockaddr_storage	 peer;
	socklen_t		 len = sizeof(peer);
	const char		*why = NULL;
	char			 a[64];
	int			 err = -1, c;

	memset(&o, 0, sizeof(o));
	if (addr_parse("198.51.100.7", &o.attacker) == 0 ||
	    egress_claim_url(&o, "ftp://192.0.2.1/x.exe") != NULL ||
	    (pfd.fd = egress_connect("192.0.2.1", 21, &why)) == -1)
		return probe_ret(-1);
	len = sizeof(err);
	if (poll(&pfd, 1, 5000) != 1 || getsockopt(pfd.fd, SOL_SOCKET,
	    SO_ERROR, &err, &len) == -1 || err != 0)
		return PROBE_WRONG;
	len = sizeof(peer);
	if ((c = accept4(egress_l, (struct sockaddr *)&peer, &len,
	    SOCK_CLOEXEC)) == -1)
		return probe_ret(-1);
	if (addr_ntop((struct sockaddr *)&peer, a, sizeof(a)) == -1 ||
	    strcmp(a, "127.0.0.1") != 0)
		return PROBE_WRONG;
	egress_release_url("ftp://192.0.2.1/x.exe", 1);
	why = egress_claim_url(&o, "ftp://192.0.2.1/x.exe");
	return why != NULL && strcmp(why, "duplicate") == 0 ? 0 : PROBE_WRONG;
}

static void
test_sensor_egress_works(void **state)
{
	assert_int_equal(in_sandbox(SANDBOX_SENSOR, egress_before,
	    probe_egress), 0);
}

/*
 * The store's job, done by the real store in a temporary data directory
 * opened before the filter (as store_main does): an event to the JSON
 * log and SQLite, a hexdump (OpenSSL digests, libmagic's type), a flush.
 */
static char		 store_dir[PATH_MAX];
static char		 store_json[] = "log/sundew.json";
static char		 store_db[] = "sundew.sqlite";
static struct store	*store_st;

static void
store_before(void)
{
	struct config	c;

	memset(&c, 0, sizeof(c));
	c.json_enabled = 1;
	c.json_path = store_json;
	c.json_keep = 3;
	c.json_format = CONFIG_FORMAT_FLAT;
	c.sqlite_enabled = 1;
	c.sqlite_path = store_db;
	if (chdir(store_dir) == -1 || (store_st = store_open(&c)) == NULL)
		_exit(PROBE_WRONG);
}

static int
probe_store(void)
{
	static const char	 ctx[] = "\"session\":\"00000000000000a1\","
	    "\"src_ip\":\"127.0.0.2\",\"src_port\":4000,\"dst_ip\":"
	    "\"127.0.0.1\",\"dst_port\":445,\"transport\":\"tcp\","
	    "\"service\":\"smb\"";
	static const uint8_t	 payload[] = "MZ under the store's filter";
	struct event_buf	 ev;
	size_t			 len;

	event_begin(&ev, "sundew.request");
	event_fields(&ev, ctx, strlen(ctx));
	event_str(&ev, "probe", "store");
	len = event_end(&ev);
	store_event(store_st, ev.buf, len, 0);
	if (store_file(store_st, STORE_HEXDUMP, ctx, strlen(ctx), payload,
	    sizeof(payload) - 1, 0) == -1)
		return PROBE_WRONG;
	store_close(store_st);
	return 0;
}

static int
store_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
test_store_job_works(void **state)
{
	char	home[PATH_MAX], line[4096];
	FILE	*f;
	int	n = 0;

	assert_non_null(getcwd(home, sizeof(home)));
	snprintf(store_dir, sizeof(store_dir), "/tmp/sundew-test-sandbox-XXXXXX");
	assert_non_null(mkdtemp(store_dir));
	assert_int_equal(in_sandbox(SANDBOX_STORE, store_before, probe_store),
	    0);
	assert_int_equal(chdir(store_dir), 0);
	/* The event and the file.stored event, in the log. */
	assert_non_null(f = fopen(store_json, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "\"probe\":\"store\"") != NULL ||
		    strstr(line, "sundew.file.stored") != NULL;
	fclose(f);
	assert_int_equal(n, 2);
	assert_int_equal(chdir(home), 0);
	nftw(store_dir, store_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The analyser's job: a whole analysis of a corpus bind shell, Unicorn
 * and its executable code buffer included, under the per-analysis alarm.
 */
#define ANALYSER_MAX	(64 * 1024)

static uint8_t	analyser_buf[ANALYSER_MAX];
static size_t	analyser_len;

static int
probe_analyser(void)
{
	static struct sc_result	res;
	struct sc_limits	lim;
	size_t			i;

	sc_limits_default(&lim);
	alarm(10);
	if (sc_analyze(analyser_buf, analyser_len, &lim, NULL, &res) == -1)
		return PROBE_WRONG;
	alarm(0);
	for (i = 0; i < res.nactions; i++)
		if (res.actions[i].kind == SC_BIND_SHELL &&
		    res.actions[i].port == 4444)
			return 0;
	return PROBE_WRONG;
}

static void
test_analyser_job_works(void **state)
{
	analyser_len = corpus_shellcode("libemu_00_win32-bind-exitfunc-seh-"
	    "lport-4444-size-317-encoder-none.bin", analyser_buf,
	    sizeof(analyser_buf));
	assert_int_equal(in_sandbox(SANDBOX_ANALYSER, NULL, probe_analyser),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_execve_and_ptrace_kill),
		cmocka_unit_test(test_other_process_kills),
		cmocka_unit_test(test_prctl_kills),
		cmocka_unit_test(test_exec_mappings),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_socket_types),
		cmocka_unit_test(test_other_profiles_jobs_kill),
		cmocka_unit_test(test_default_action_kills),
		cmocka_unit_test(test_common_calls_work),
		cmocka_unit_test(test_sensor_job_works),
		cmocka_unit_test(test_sensor_egress_works),
		cmocka_unit_test(test_store_job_works),
		cmocka_unit_test(test_analyser_job_works),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
