/* Messages between processes: framing, fd passing, size checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "proc.h"

static void
test_frame_roundtrip(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	struct msg_hdr	 hdr;
	void		*p;

	assert_int_equal(msg_frame(b, MSG_ANALYSE, "{\"a\":", 5, "1}", 2), 0);
	assert_int_equal(msg_frame(b, MSG_RESULT, "xy", 2, NULL, 0), 0);
	/* A partial message is not taken. */
	evbuffer_add(b, "\x01\x00", 2);
	assert_int_equal(msg_unframe(b, &hdr, &p), 1);
	assert_int_equal(hdr.type, MSG_ANALYSE);
	assert_int_equal(hdr.len, 7);
	assert_string_equal(p, "{\"a\":1}");
	free(p);
	assert_int_equal(msg_unframe(b, &hdr, &p), 1);
	assert_int_equal(hdr.type, MSG_RESULT);
	assert_memory_equal(p, "xy", 2);
	free(p);
	assert_int_equal(msg_unframe(b, &hdr, &p), 0);
	assert_null(p);
	evbuffer_free(b);
}

static void
test_frame_limits(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	char		 big[70000];

	memset(big, 'a', sizeof(big));
	/* A verdict and a link message have a fixed size. */
	assert_int_equal(msg_frame(b, MSG_RESULT, big,
	    sizeof(struct msg_result) + 1, NULL, 0), -1);
	assert_int_equal(msg_frame(b, MSG_LINK, big, sizeof(struct msg_link) + 1,
	    NULL, 0), -1);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

/* A bad header from a sibling is a bug: the receiver must die. */
static void
test_bad_header_is_fatal(void **state)
{
	pid_t	pid;
	int	status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct evbuffer	*b = evbuffer_new();
		struct msg_hdr	 hdr = { 99, 4 };
		void		*p;

		close(STDERR_FILENO);
		evbuffer_add(b, &hdr, sizeof(hdr));
		evbuffer_add(b, "abcd", 4);
		msg_unframe(b, &hdr, &p);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

static void
test_ctl_fd_passing(void **state)
{
	struct msg_link	 ml = { .sensor = 3, .peer = PROC_STORE }, got;
	int		 sv[2], pp[2], fd;
	uint32_t	 type;
	size_t		 got_len;
	char		 c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(ctl_send(sv[0], MSG_LINK, &ml, sizeof(ml), pp[1]), 0);
	assert_int_equal(ctl_recv(sv[1], &type, &got, sizeof(got), &got_len,
	    &fd), 1);
	assert_int_equal(got_len, sizeof(got));
	assert_int_equal(type, MSG_LINK);
	assert_int_equal(got.sensor, 3);
	assert_true(fd >= 0);
	/* The passed descriptor is the write end of the same pipe. */
	assert_int_equal(write(fd, "z", 1), 1);
	assert_int_equal(read(pp[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	assert_int_equal(ctl_send(sv[0], MSG_REOPEN, NULL, 0, -1), 0);
	assert_int_equal(ctl_recv(sv[1], &type, &got, sizeof(got), &got_len,
	    &fd), 1);
	assert_int_equal(got_len, 0);
	assert_int_equal(type, MSG_REOPEN);
	close(sv[0]);
	/* The other end is gone: end of file, not a message. */
	assert_int_equal(ctl_recv(sv[1], &type, &got, sizeof(got), &got_len,
	    &fd), 0);
	assert_int_equal(fd, -1);
	close(sv[1]);
	close(pp[0]);
	close(pp[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_limits),
		cmocka_unit_test(test_bad_header_is_fatal),
		cmocka_unit_test(test_ctl_fd_passing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
