"""The tests' own network: a namespace whose only interface is loopback.

Other sundews may run on the machine, on the same ports: the tests must
neither collide with them nor reach them (`make integration` runs pytest
under `unshare --net`; conftest.py refuses a daemon test outside).
"""
import socket
import subprocess

from conftest import (GENERIC_PORT, TCP_PORTS, connect, lo_is_up, netns_ino,
                      netns_problem, outside_pid)


def test_network_is_a_namespace_of_its_own():
    assert netns_problem() is None, netns_problem()
    outside = outside_pid()
    assert netns_ino(outside) != netns_ino()
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    assert lo_is_up()


def test_a_host_listener_is_out_of_reach():
    """A listener in the namespace the tests were started from (here on a
    free port; a sundew there holds 445 and the rest) cannot be reached
    from here, and its port is free here."""
    outside = outside_pid()
    assert outside is not None, netns_problem()
    host = subprocess.Popen(
        ["nsenter", "--target", str(outside), "--net", "/usr/bin/python3", "-c",
         "import socket, sys\n"
         "s = socket.socket()\n"
         "s.bind(('127.0.0.1', 0)); s.listen(1)\n"
         "print(s.getsockname()[1], flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(host.stdout.readline())
        try:
            connect(port, timeout=2).close()
            reached = True
        except ConnectionRefusedError:
            reached = False
        assert not reached, f"reached the host's 127.0.0.1:{port}"
        mine = socket.socket()
        mine.bind(("127.0.0.1", port))
        mine.close()
    finally:
        host.stdin.close()
        host.wait(10)


def test_no_port_of_a_sundew_is_taken_here():
    """Before a test starts its daemon, nothing here listens on sundew's
    ports, whatever runs on the host."""
    out = subprocess.run(["ss", "-Htln"], capture_output=True, text=True,
                         check=True).stdout
    taken = {int(line.split()[3].rpartition(":")[2])
             for line in out.splitlines()}
    assert not (taken & (TCP_PORTS | {GENERIC_PORT})), out
