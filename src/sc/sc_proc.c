/*
 * The analyser process: takes payloads from the sensors (one link each,
 * handed over by the parent), runs the shellcode analysis on them and
 * answers with the result.  It has no network, no file system (chrooted
 * into the empty directory, no file calls in its seccomp list), and a
 * memory limit; each analysis runs under an alarm, so a hang costs that
 * analysis and a restart by the parent, nothing else.
 */
#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "link.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "sc.h"
#include "sc_proc.h"

#define SC_PROC_MAX_LINKS	64

static struct {
	struct event_base	*base;
	struct link		*links[SC_PROC_MAX_LINKS];
	struct sc_limits	 limits;
	uint64_t		 analysed;
	struct analysis_now	*now;
} scp;

/*
 * The peer's address from the session's fields ("src_ip":"a.b.c.d"): the
 * address that 0.0.0.0 in an attacker's shell commands stands for.  The
 * sensor wrote ctx; it is still read with bounds and checked.
 */
static void
sc_proc_attacker(const char *ctx, size_t len, char *out, size_t outlen)
{
	static const char	 key[] = "\"src_ip\":\"";
	const char		*p, *end = ctx + len;
	size_t			 n = 0;

	out[0] = '\0';
	p = memmem(ctx, len, key, sizeof(key) - 1);
	if (p == NULL)
		return;
	for (p += sizeof(key) - 1; p < end && *p != '"' && n + 1 < outlen; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		    *p == '.' || *p == ':')
			out[n++] = *p;
		else
			break;
	out[p < end && *p == '"' ? n : 0] = '\0';
}

static void
sc_proc_msg(const struct msg_hdr *hdr, const uint8_t *p, void *arg)
{
	struct link		*l = arg;
	const struct msg_analyse *ma = (const void *)p;
	struct msg_result	*mr;
	char			 attacker[64];
	size_t			 datalen, i;

	if (hdr->type != MSG_ANALYSE || hdr->len < sizeof(*ma) ||
	    ma->ctxlen > hdr->len - sizeof(*ma) || ma->ctxlen > 4096)
		fatalx("sensor sent a bad message (type %u, %u bytes)",
		    hdr->type, hdr->len);
	datalen = hdr->len - sizeof(*ma) - ma->ctxlen;
	if ((mr = calloc(1, sizeof(*mr))) == NULL)
		fatal("calloc");
	mr->seq = ma->seq;
	/* If this analysis kills the process, the parent tells its sensor. */
	for (i = 0; i < SC_PROC_MAX_LINKS && scp.links[i] != l; i++)
		;
	if (scp.now != NULL && i < SC_PROC_MAX_LINKS) {
		atomic_store_explicit(&scp.now->seq, ma->seq,
		    memory_order_relaxed);
		atomic_store_explicit(&scp.now->sensor, (uint32_t)i + 1,
		    memory_order_release);
	}
	alarm(SC_PROC_ALARM_SECS);
	sc_proc_attacker((const char *)p + sizeof(*ma), ma->ctxlen, attacker,
	    sizeof(attacker));
	sc_analyze(p + sizeof(*ma) + ma->ctxlen, datalen, &scp.limits,
	    attacker[0] != '\0' ? attacker : NULL, &mr->res);
	alarm(0);
	if (scp.now != NULL)
		atomic_store_explicit(&scp.now->sensor, 0,
		    memory_order_release);
	scp.analysed++;
	link_queue(l, MSG_RESULT, mr, sizeof(*mr), NULL, 0);
	free(mr);
}

static void
sc_proc_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct msg_link	ml;
	uint32_t	type;
	size_t		got;
	int		n, pass;

	n = ctl_read(fd, &type, &ml, sizeof(ml), &got, &pass);
	if (n == 0)
		return;
	if (n == -1)
		_exit(0);
	if (type != MSG_LINK || pass == -1 || got != sizeof(ml) ||
	    ml.sensor >= SC_PROC_MAX_LINKS)
		fatalx("unexpected control message %u", type);
	if (scp.links[ml.sensor] == NULL)
		scp.links[ml.sensor] = link_new(scp.base, "sensor",
		    sc_proc_msg, NULL);
	/* The callback needs its link: set it once it exists. */
	link_set_arg(scp.links[ml.sensor], scp.links[ml.sensor]);
	link_set_fd(scp.links[ml.sensor], pass);
}

static void
sc_proc_stop(evutil_socket_t sig, short what, void *arg)
{
	size_t	i;

	for (i = 0; i < SC_PROC_MAX_LINKS; i++)
		if (scp.links[i] != NULL)
			link_drain(scp.links[i]);
	log_debug("stopped after %llu analyses",
	    (unsigned long long)scp.analysed);
	_exit(0);
}

void
sc_proc_confine(const struct sandbox *sb, const char *root)
{
	struct rlimit	rl = { SC_PROC_MAX_AS, SC_PROC_MAX_AS };

	if (setrlimit(RLIMIT_AS, &rl) == -1)
		log_warn("setrlimit RLIMIT_AS");
	sandbox_enter(sb, root, SANDBOX_ANALYSER);
}

void
sc_proc_main(const struct sc_proc_args *a)
{
	struct event	*ev;

	memset(&scp, 0, sizeof(scp));
	scp.now = a->now;
	log_procname("analyser");
	prctl(PR_SET_NAME, "sundew-analyser");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sc_limits_default(&scp.limits);
	if ((scp.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	sc_proc_confine(a->sandbox, a->sandbox->empty_dir);

	evutil_make_socket_nonblocking(a->ctl);
	ev = event_new(scp.base, a->ctl, EV_READ | EV_PERSIST, sc_proc_ctl,
	    NULL);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("analyser events");
	ev = evsignal_new(scp.base, SIGTERM, sc_proc_stop, NULL);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("analyser events");
	ev = evsignal_new(scp.base, SIGINT, sc_proc_stop, NULL);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("analyser events");
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(scp.base);
	fatalx("event loop ended");
}
