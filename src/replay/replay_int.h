/*
 * Internal interface of `sundew replay`, shared by the capture parser
 * (replay_pcap.c and replay_model.c), the sender (replay.c), the unit
 * test and the fuzzer.
 *
 * The parser turns a pcap or pcapng capture into a model: the flows
 * (TCP streams and UDP client endpoints), each with the client's bytes
 * cut into chunks, and one global list of steps in capture order.  The
 * sender only walks the steps; it never looks at a packet.
 */
#ifndef SUNDEW_REPLAY_INT_H
#define SUNDEW_REPLAY_INT_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Caps that keep a hostile capture from exhausting memory. */
#define REPLAY_MAX_BYTES	((size_t)256 << 20)	/* stored stream bytes */
#define REPLAY_MAX_FLOWS	100000
#define REPLAY_MAX_EVENTS	((size_t)4 << 20)	/* timeline entries */

/* Why a flow is not played. */
enum replay_skip {
	REPLAY_PLAY = 0,
	REPLAY_SKIP_SENSOR_CLIENT,	/* the sensor opened it */
	REPLAY_SKIP_FTP_DATA,		/* active FTP data the sensor asked for */
	REPLAY_SKIP_OTHER_HOST,		/* the sensor is not its server */
	REPLAY_SKIP_EMPTY,		/* joined mid-stream, no client byte */
	REPLAY_SKIP_REFUSED,		/* a SYN without SYN-ACK, no data */
};

/* A run of client bytes sent at once (TCP) or one datagram (UDP). */
struct replay_chunk {
	const uint8_t	*data;
	size_t		 len;
	uint16_t	 port;		/* destination port in the capture */
};

/*
 * A TCP stream, or for UDP every datagram that one client endpoint
 * (address and port) sent to the sensor, whatever its destination port.
 */
struct replay_flow {
	int		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 client[16];
	uint8_t		 server[16];
	uint16_t	 client_port;
	uint16_t	 server_port;	/* UDP: port of the first datagram */
	enum replay_skip skip;
	int		 syn_seen;	/* TCP: the handshake is in the capture */
	struct replay_chunk *chunks;
	size_t		 nchunks;
	uint64_t	 client_bytes;
	uint64_t	 server_bytes;
	uint64_t	 gap_bytes;	/* client bytes missing, sent as zeros */
};

enum replay_step_kind {
	REPLAY_STEP_OPEN,		/* connect the TCP stream */
	REPLAY_STEP_SEND,		/* send chunks[chunk] on the stream */
	REPLAY_STEP_WAIT,		/* the server answered here */
	REPLAY_STEP_CLOSE,		/* the client closed, or was reset */
	REPLAY_STEP_DGRAM,		/* send datagram chunks[chunk] */
};

struct replay_step {
	enum replay_step_kind kind;
	uint32_t	 flow;		/* index in capture->flows */
	uint32_t	 chunk;		/* SEND and DGRAM */
	uint16_t	 port;		/* UDP WAIT: the answer's source port */
};

struct replay_stats {
	uint64_t	 packets;
	uint64_t	 not_ip;	/* ARP, other link protocols */
	uint64_t	 fragments;	/* fragmented IP datagrams, skipped */
	uint64_t	 malformed;	/* headers that do not add up */
	uint64_t	 other_proto;	/* IP but neither TCP nor UDP */
	uint64_t	 truncated;	/* payload cut by the snap length */
	uint64_t	 out_of_window;	/* TCP segments far from the stream */
};

struct replay_capture {
	int		 linktype;	/* DLT_* */
	int		 sensor_family;	/* 0 if the capture has no flow */
	uint8_t		 sensor[16];
	int		 sensor_given;	/* from the options, not guessed */
	struct replay_flow *flows;
	size_t		 nflows;
	struct replay_step *steps;
	size_t		 nsteps;
	struct replay_stats stats;
	void		*priv;		/* the bytes the chunks point into */
};

struct replay_pcap_opts {
	int		 server_family;	/* 0: the sensor is guessed */
	uint8_t		 server[16];
	size_t		 max_bytes;	/* 0: REPLAY_MAX_BYTES */
	size_t		 max_flows;	/* 0: REPLAY_MAX_FLOWS */
	size_t		 max_events;	/* 0: REPLAY_MAX_EVENTS */
};

/*
 * Read a capture (pcap or pcapng, from a file or from memory) and build
 * its model.  opts may be NULL.  On error, NULL is returned and err holds
 * a one-line message (naming the file for replay_pcap_read_file).
 */
struct replay_capture *replay_pcap_read_file(const char *path,
	    const struct replay_pcap_opts *opts, char *err, size_t errlen);
struct replay_capture *replay_pcap_read_buffer(const uint8_t *buf,
	    size_t len, const struct replay_pcap_opts *opts, char *err,
	    size_t errlen);
void	replay_pcap_free(struct replay_capture *cap);

/* "sensor is the client" and so on, for the output lines. */
const char *replay_pcap_skip_reason(enum replay_skip skip);

/* How to play a capture (the command line options of `sundew replay`). */
struct replay_opts {
	struct sockaddr_storage to;	/* the sensor to play at; port unused */
	socklen_t	 tolen;
	int		 quiet_ms;	/* an answer ends after this silence */
	int		 wait_ms;	/* no answer at all after this */
	int		 retry_s;	/* keep retrying a refused connect */
	int		 port_offset;	/* added to every destination port */
	int		 verbose;	/* each step on stderr */
};

#define REPLAY_QUIET_MS		300
#define REPLAY_WAIT_MS		3000
#define REPLAY_RETRY_S		5

/*
 * Play the steps of cap at opts->to, then write one line per flow and a
 * summary to out.  Returns 0 if every flow to play was played in full,
 * 1 if some could not be (refused, or cut short by the sensor).
 */
int	replay_run(const struct replay_capture *cap,
	    const struct replay_opts *opts, FILE *out);


#ifdef REPLAY_PARSER
/*
 * The parser's state, shared by its two halves: replay_pcap.c reads the
 * capture and reassembles the streams, replay_model.c turns them into
 * flows and steps.  Only those two files define REPLAY_PARSER, so these
 * short names stay out of the sender, the test and the fuzzer.  struct
 * seg, hole and map_ent belong to replay_pcap.c, struct pstate to
 * replay_model.c.
 */
#define FTP_MAX_PORTS	64

/* A growable byte buffer. */
struct rbuf {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
};

/* One direction of a TCP stream. */
struct side {
	struct rbuf	 buf;		/* bytes delivered, in order */
	uint64_t	 next;		/* stream offset expected next */
	uint32_t	 isn;		/* sequence number of offset 0 */
	int		 init;
	int		 fin;
	int		 closed;	/* the FIN was reached */
	uint64_t	 fin_off;
	struct seg	*pending;	/* sorted by offset, no overlap */
	size_t		 npending;
	uint64_t	 gap_bytes;
	int		 hole;		/* bytes missing before pending or FIN */
	uint64_t	 hole_ts;	/* since when, capture time */
};

struct tcp {
	int		 family;
	uint8_t		 addr[2][16];	/* [0] sent the first packet */
	uint16_t	 port[2];
	struct side	 side[2];
	int		 syn[2];	/* SYN without ACK from this side */
	int		 synack[2];
	int		 dead;		/* reset, or closed both ways */
	int		 client;	/* phase 2: the client's side */
	uint32_t	 pub;		/* phase 2: index in cap->flows */
};

struct dgram {
	int		 family;
	uint8_t		 src[16];
	uint8_t		 dst[16];
	uint16_t	 sport;
	uint16_t	 dport;
	size_t		 off;		/* in ctx->udp */
	size_t		 len;
};

enum ev_kind { EV_OPEN, EV_DATA, EV_FIN, EV_RST, EV_UDP };

/* The timeline: what happened, in capture order. */
struct event {
	uint8_t		 kind;
	uint8_t		 side;
	uint32_t	 idx;		/* tcp stream or datagram */
	uint32_t	 len;		/* EV_DATA */
};

/* A hash key; zeroed before it is filled so that memcmp works. */
struct key {
	uint8_t		 family;
	uint8_t		 proto;
	uint16_t	 port[2];
	uint8_t		 addr[2][16];
};

struct map {
	struct map_ent	*ent;
	size_t		 n;
	size_t		 cap;
	uint32_t	*head;
	size_t		 nhead;		/* a power of two */
};

struct ftp_port {
	int		 family;
	uint8_t		 addr[16];	/* the FTP server, who will connect */
	uint16_t	 port;
};

struct ctx {
	const char	*name;		/* for messages, or NULL */
	char		*err;
	size_t		 errlen;
	int		 failed;
	size_t		 max_bytes;
	size_t		 max_flows;
	size_t		 max_events;
	size_t		 bytes;		/* charged to the budget */
	struct replay_capture *cap;

	struct tcp	*tcp;
	size_t		 ntcp;
	size_t		 tcp_cap;
	struct map	 tcp_map;
	struct dgram	*dg;
	size_t		 ndg;
	size_t		 dg_cap;
	struct rbuf	 udp;
	struct event	*ev;
	size_t		 nev;
	size_t		 ev_cap;
	struct hole	*holes;
	size_t		 nholes;
	size_t		 holes_head;
	size_t		 holes_cap;
	uint64_t	 now;		/* capture time of the packet, us */

	/* phase 2 */
	struct map	 udp_map;
	struct map	 ep_map;
	struct pstate	*ps;
	size_t		 ps_cap;
	size_t		 flows_cap;
	size_t		 steps_cap;
	struct ftp_port	 ftp[FTP_MAX_PORTS];
	size_t		 nftp;
};

/*
 * Set the error message once (the first failure wins) and mark c as
 * failed.  The message is prefixed with the file name, if any.
 */
void	replay_pcap_fail(struct ctx *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Make room for need elements of size elem in *pp (capacity *capp),
 * doubling, charged to the memory budget.  -1 (and c failed) on error.
 */
int	replay_pcap_grow(struct ctx *c, void **pp, size_t *capp, size_t need,
	    size_t elem);
/* The value of key k in m, or NULL. */
uint32_t *replay_pcap_map_get(struct map *m, const struct key *k);
/* Insert a key that is not in the map yet.  -1 (and c failed) on error. */
int	replay_pcap_map_put(struct ctx *c, struct map *m, const struct key *k,
	    uint32_t v);

/*
 * Phase 2, once every packet is read and every stream flushed: choose
 * each stream's client and the sensor, then walk the timeline into
 * c->cap's flows and steps.  -1 (and c failed) on error.
 */
int	replay_model_build(struct ctx *c, const struct replay_pcap_opts *opts);
#endif /* REPLAY_PARSER */

#endif
