#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>

#include "log.h"
#include "proc.h"

/* The largest payload each message type may carry. */
static uint32_t
msg_max_len(uint32_t type)
{
	switch (type) {
	case MSG_LINK:
		return sizeof(struct msg_link);
	case MSG_REOPEN:
		return 0;
	case MSG_ANALYSE:
		return MSG_MAX_LEN;
	case MSG_RESULT:
		return sizeof(struct msg_result);
	default:
		return 0;
	}
}

int
msg_frame(struct evbuffer *out, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct msg_hdr	hdr;

	if (alen + blen > msg_max_len(type))
		return -1;
	hdr.type = type;
	hdr.len = (uint32_t)(alen + blen);
	if (evbuffer_expand(out, sizeof(hdr) + alen + blen) == -1)
		return -1;
	evbuffer_add(out, &hdr, sizeof(hdr));
	if (alen > 0)
		evbuffer_add(out, a, alen);
	if (blen > 0)
		evbuffer_add(out, b, blen);
	return 0;
}

/* A bad header on an internal channel means a bug: fatal, by design. */
static void
msg_check(const struct msg_hdr *hdr)
{
	if (hdr->type == 0 || hdr->type >= MSG_MAX_TYPE)
		fatalx("internal message of unknown type %u", hdr->type);
	if (hdr->len > msg_max_len(hdr->type))
		fatalx("internal message type %u too long (%u bytes)",
		    hdr->type, hdr->len);
}

int
msg_unframe(struct evbuffer *in, struct msg_hdr *hdr, void **payload)
{
	size_t	avail = evbuffer_get_length(in);

	*payload = NULL;
	if (avail < sizeof(*hdr))
		return 0;
	evbuffer_copyout(in, hdr, sizeof(*hdr));
	msg_check(hdr);
	if (avail - sizeof(*hdr) < hdr->len)
		return 0;
	evbuffer_drain(in, sizeof(*hdr));
	/* One spare byte so that text payloads can be NUL-terminated. */
	if ((*payload = malloc((size_t)hdr->len + 1)) == NULL)
		fatal("malloc %u", hdr->len);
	evbuffer_remove(in, *payload, hdr->len);
	((char *)*payload)[hdr->len] = '\0';
	return 1;
}

int
ctl_send(int sock, uint32_t type, const void *p, size_t len, int fd)
{
	struct msg_hdr	 hdr = { .type = type, .len = (uint32_t)len };
	struct iovec	 iov[2];
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	ssize_t		 n;

	if (len > msg_max_len(type))
		return -1;
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = len;
	mh.msg_iov = iov;
	mh.msg_iovlen = len > 0 ? 2 : 1;
	if (fd != -1) {
		struct cmsghdr	*c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n == -1 ? -1 : 0;
}

int
ctl_recv(int sock, uint32_t *type, void *p, size_t len, size_t *got, int *fd)
{
	struct msg_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 mh;
	struct cmsghdr	*c;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	ssize_t		 n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = p;
	iov[1].iov_len = len;
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return (int)n;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if ((size_t)n < sizeof(hdr) || (mh.msg_flags & MSG_TRUNC))
		fatalx("short or truncated control message (%zd bytes)", n);
	msg_check(&hdr);
	if (hdr.len != (size_t)n - sizeof(hdr))
		fatalx("control message type %u: length %u, got %zu",
		    hdr.type, hdr.len, (size_t)n - sizeof(hdr));
	*type = hdr.type;
	*got = hdr.len;
	return 1;
}

int
ctl_read(int sock, uint32_t *type, void *p, size_t len, size_t *got, int *fd)
{
	int	n;

	n = ctl_recv(sock, type, p, len, got, fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1)
		fatal("control channel");
	if (n == 0) {
		log_warnx("the parent is gone; stopping");
		return -1;
	}
	return 1;
}
