#include <arpa/inet.h>
#include <linux/filter.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "proto.h"

/* What to tell the operator when a bind fails, by errno. */
static void
listen_explain(char *err, size_t errlen, const char *addr, uint16_t port,
    int transport, int e)
{
	const char	*proto = transport == SERVICE_UDP ? "udp" : "tcp";

	if (e == EACCES || e == EPERM)
		snprintf(err, errlen,
		    "cannot bind %s port %u/%s: %s.\n"
		    "Ports below 1024 need privilege. Do one of these:\n"
		    "  - run sundew as root: it binds the ports, then its "
		    "sensors drop to the\n    unprivileged user of the "
		    "`user` key, chrooted, without capabilities;\n"
		    "  - grant the binary the capability to bind them:\n"
		    "      setcap cap_net_bind_service=+ep /path/to/sundew\n"
		    "  - or move the services to ports above 1023 in the "
		    "configuration,\n    e.g. -o services.ftp.ports=[2121], "
		    "or disable them: -o services.ftp.enabled=false.",
		    addr, port, proto, strerror(e));
	else if (e == EADDRINUSE)
		snprintf(err, errlen,
		    "cannot bind %s port %u/%s: %s.\n"
		    "Another program listens there, perhaps another sundew "
		    "(see `ss -lnp 'sport = :%u'`):\nstop it, or move or "
		    "disable this service in the configuration.", addr, port,
		    proto, strerror(e), port);
	else if (e == EADDRNOTAVAIL)
		snprintf(err, errlen,
		    "cannot bind %s port %u/%s: %s.\n"
		    "The address is not one of this machine's: fix "
		    "listen.address in the configuration.",
		    addr, port, proto, strerror(e));
	else
		snprintf(err, errlen, "cannot bind %s port %u/%s: %s",
		    addr, port, proto, strerror(e));
}

/*
 * Binds one socket; returns the fd or -1 with errno set.  A probe binds
 * alone (no SO_REUSEPORT; for UDP no SO_REUSEADDR either) and does not
 * listen: it fails if another socket holds the port, which a member of an
 * SO_REUSEPORT group would not (another sundew, started by mistake, would
 * silently share the ports and take half the connections).
 */
static int
listen_one(const char *addr, uint16_t port, int transport, int backlog,
    int probe)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd, on = 1, type;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
	} else {
		errno = EINVAL;
		return -1;
	}
	type = transport == SERVICE_UDP ? SOCK_DGRAM : SOCK_STREAM;
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (listen_ttl(fd, ss.ss_family) == -1 ||
	    (!(probe && type == SOCK_DGRAM) && setsockopt(fd, SOL_SOCKET,
	    SO_REUSEADDR, &on, sizeof(on)) == -1) ||
	    (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1) ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    (!probe && type == SOCK_STREAM && listen(fd, backlog) == -1)) {
		int	saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
listen_ttl(int fd, int family)
{
	int	ttl = 128;

	if (family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl,
		    sizeof(ttl));
	return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
}

/* Whether nobody holds the port (a probe binds it); errno says why not. */
static int
listen_free(const char *addr, uint16_t port, int transport)
{
	int	fd = listen_one(addr, port, transport, 0, 1);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

/* Notes the address l is bound to, and whether it is a wildcard. */
static void
listen_local(struct listener *l)
{
	socklen_t			 len = sizeof(l->local);
	const struct sockaddr_in	*sin = (const void *)&l->local;
	const struct sockaddr_in6	*sin6 = (const void *)&l->local;

	if (getsockname(l->fd, (struct sockaddr *)&l->local, &len) == -1)
		return;
	if (l->local.ss_family == AF_INET)
		l->local_fixed = sin->sin_addr.s_addr != htonl(INADDR_ANY);
	else if (l->local.ss_family == AF_INET6)
		l->local_fixed = !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

size_t
listen_count(const struct config *conf)
{
	size_t	s, n = 0;

	for (s = 0; s < conf->nservices; s++)
		if (conf->services[s].enabled &&
		    proto_find(conf->services[s].name) != NULL)
			n += conf->services[s].nports * conf->nlisten_addr;
	return n;
}

int
listen_open_all(const struct config *conf, int nsets, struct listener **out,
    size_t *nout, char *err, size_t errlen)
{
	struct listener	*ls = NULL, *l;
	size_t		 n = 0, cap = 0, s, p, a;
	int		 set;

	for (set = 0; set < nsets; set++)
	for (s = 0; s < conf->nservices; s++) {
		const struct config_service	*cs = &conf->services[s];
		const struct service_def	*def = proto_find(cs->name);

		if (!cs->enabled || def == NULL)
			continue;
		for (p = 0; p < cs->nports; p++)
		for (a = 0; a < conf->nlisten_addr; a++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				l = reallocarray(ls, cap, sizeof(*ls));
				if (l == NULL)
					fatal("reallocarray");
				ls = l;
			}
			l = &ls[n];
			memset(l, 0, sizeof(*l));
			l->transport = def->transport;
			l->port = cs->ports[p];
			l->set = set;
			l->def = def;
			snprintf(l->addr, sizeof(l->addr), "%s",
			    conf->listen_addr[a]);
			l->fd = set == 0 && !listen_free(l->addr, l->port,
			    l->transport) ? -1 : listen_one(l->addr, l->port,
			    l->transport, conf->listen_backlog, 0);
			if (l->fd == -1) {
				listen_explain(err, errlen, l->addr, l->port,
				    l->transport, errno);
				listen_close_all(ls, n);
				return -1;
			}
			listen_local(l);
			n++;
		}
	}
	*out = ls;
	*nout = n;
	return 0;
}

void
listen_close_all(struct listener *ls, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		close(ls[i].fd);
	free(ls);
}

/*
 * A classic BPF program for a reuseport group: a socket at random among
 * sets[0..n).  A group's sockets are numbered in the order they started
 * to listen, which listen_open_all makes the order of the sets.
 */
static size_t
listen_steer_prog(struct sock_filter *f, const int *sets, int n)
{
	size_t	k = 0;
	int	i;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    SKF_AD_OFF + SKF_AD_RANDOM);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K,
	    (uint32_t)n);
	for (i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (uint32_t)i, 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    (uint32_t)sets[i]);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    (uint32_t)sets[0]);
	return k;
}

int
listen_steer(const struct listener *ls, size_t nls, const int *sets, int n)
{
	struct sock_filter	f[2 + 2 * LISTEN_MAX_SETS + 1];
	struct sock_fprog	prog;
	size_t			i;

	if (n < 1 || n > LISTEN_MAX_SETS)
		return -1;
	prog.len = (unsigned short)listen_steer_prog(f, sets, n);
	prog.filter = f;
	/* The program belongs to the group: set it through one member. */
	for (i = 0; i < nls; i++) {
		if (ls[i].set != 0 || ls[i].transport != SERVICE_TCP)
			continue;
		if (setsockopt(ls[i].fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
		    &prog, sizeof(prog)) == -1) {
			log_warn("SO_ATTACH_REUSEPORT_CBPF on port %u",
			    ls[i].port);
			return -1;
		}
	}
	return 0;
}

int
listen_backlogged(const struct listener *ls, size_t nls, int set)
{
	struct tcp_info	ti;
	socklen_t	len;
	size_t		i;

	for (i = 0; i < nls; i++) {
		if (ls[i].set != set || ls[i].transport != SERVICE_TCP)
			continue;
		len = sizeof(ti);
		/* A listener's tcpi_unacked is its accept queue. */
		if (getsockopt(ls[i].fd, IPPROTO_TCP, TCP_INFO, &ti,
		    &len) == 0 && ti.tcpi_unacked * 4 > ti.tcpi_sacked)
			return 1;
	}
	return 0;
}
