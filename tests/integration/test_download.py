"""Downloads in the real daemon, from a URL in shellcode to a stored file.

A payload that carries download shellcode (libemu's URL shellcode from
../shared/corpora, or the same code with another URL) is sent to a
generic port as an attacker would; the analyser finds the URL by
emulation, the sensor fetches it under its seccomp filter, and the store
keeps the file under its sha256.  The servers are local (http.server,
pyftpdlib, tftpd-hpa) and the shellcode's public names are pointed at
them with download.connect_to: nothing leaves the test's network
namespace.
"""
import hashlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import (CORPORA, GENERIC_PORT, connect, needs_corpus, sample,
                      wait_for)

URL_SC = CORPORA / "shellcode" / \
    "libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-org-bad-exe.bin"
URL = "http://nepenthes.mwcollect.org/bad.exe"
HTTP_PORT, FTP_PORT, TFTP_PORT, HTTPS_PORT = 8080, 2121, 6969, 8443

pytestmark = needs_corpus(URL_SC)


def url_shellcode(url):
    """libemu's download shellcode with url in place of its own: the URL
    is the last thing in it, read by the code that the analyser runs."""
    sc = URL_SC.read_bytes()
    at = sc.index(URL.encode())
    return sc[:at] + url.encode() + sc[at + len(URL):]


def attack(payload, src):
    """Sends payload to a generic port from src, as an exploit would,
    and leaves the connection open; returns the socket."""
    s = connect(GENERIC_PORT, src=src)
    s.sendall(payload)
    return s


def session_of(d, src):
    """The session id of the (one) connection from src."""
    return d.wait_events("sundew.connection.open", src_ip=src)[0]["session"]


class HttpServer:
    """http.server on 127.0.0.1 (or "::", both families) with files in a
    dict, counting the requests per path; /redirect answers 302 to
    location."""

    def __init__(self, port, files, host="127.0.0.1", location=None,
                 tls=None):
        self.files = files
        self.hits = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                if self.path == "/redirect" and location:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        cls = http.server.ThreadingHTTPServer
        if ":" in host:
            cls = type("Server6", (cls,), {"address_family": socket.AF_INET6})
        self.server = cls((host, port), Handler, bind_and_activate=False)
        if ":" in host:
            self.server.socket.setsockopt(socket.IPPROTO_IPV6,
                                          socket.IPV6_V6ONLY, 0)
        self.server.server_bind()
        self.server.server_activate()
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket,
                                                 server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def requests(self):
        return sum(self.hits.values())

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FtpServer:
    """pyftpdlib on host:port with one user (1, password 1, as the
    Honeynet attacker's); mode "active" refuses PASV/EPSV, "passive"
    refuses PORT/EPRT.  Records the data commands."""

    def __init__(self, root, port, user="1", password="1", mode="active",
                 host="127.0.0.1"):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        auth = DummyAuthorizer()
        auth.add_user(user, password, str(root), perm="elr")
        self.commands = []
        self.sent = []
        self.retrieved = self.sent      # the name test_shell reads
        outer = self
        refused = ("PASV", "EPSV") if mode == "active" else ("PORT", "EPRT")

        class Handler(FTPHandler):
            def pre_process_command(self, line, cmd, arg):
                if cmd in ("PASV", "EPSV", "PORT", "EPRT"):
                    outer.commands.append(cmd)
                    if cmd in refused:
                        self.respond("502 Command not implemented.")
                        return
                return super().pre_process_command(line, cmd, arg)

            def on_file_sent(self, path):
                outer.sent.append(os.path.basename(path))

        Handler.authorizer = auth
        Handler.permit_privileged_ports = True
        self.server = FTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"timeout": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close_all()


def stored_download(d, session, timeout=30):
    """The one sundew.file.stored event of a download in session."""
    return d.wait_events("sundew.file.stored", session=session,
                         origin="download", timeout=timeout)[0]


def fetch_stored(sundew, options, payload, src):
    """A daemon with options, payload sent from src as an exploit; once
    the file is stored and the daemon stopped: the daemon, the exploit's
    session and the file.stored event."""
    d = sundew(options)
    s = attack(payload, src)
    session = session_of(d, src)
    stored = stored_download(d, session)
    s.close()
    d.stop()
    return d, session, stored


def story(d, session):
    """The download events of a session, in the log's order."""
    return [e["eventid"] for e in d.events(session=session)
            if e["eventid"].startswith("sundew.download.") or
            (e["eventid"] == "sundew.file.stored" and
             e.get("origin") == "download")]


def test_url_shellcode_http_download_stored_under_exploit_session(sundew):
    """libemu's URL shellcode, sent as an exploit's payload on a
    connection left open: the URL's host is pointed at a local server,
    the file is stored under its sha256 in var/binaries, and offer,
    complete and file.stored carry the exploit connection's session."""
    body = sample(150000, 1)
    sha = hashlib.sha256(body).hexdigest()
    web = HttpServer(HTTP_PORT, {"/bad.exe": body})
    try:
        d, session, stored = fetch_stored(sundew, [
            "download.connect_to=nepenthes.mwcollect.org:80:"
            f"127.0.0.1:{HTTP_PORT}"],
            URL_SC.read_bytes(), "127.0.0.21")
    finally:
        web.close()
    assert web.hits == {"/bad.exe": 1}
    assert stored["sha256"] == sha and stored["url"] == URL
    assert stored["kind"] == "binary" and stored["size"] == len(body)
    assert (d.data / "binaries" / sha).read_bytes() == body
    assert (d.data / "binaries" / sha).stat().st_mode & 0o7777 == 0o440
    offer = d.events("sundew.download.offer", session=session)
    complete = d.events("sundew.download.complete", session=session)
    assert [e["url"] for e in offer] == [URL]
    assert [(e["url"], e["sha256"], e["size"], e["duplicate"])
            for e in complete] == [(URL, sha, len(body), False)]
    assert complete[0]["md5"] == hashlib.md5(body).hexdigest()
    assert "filetype" in complete[0]
    assert d.events("sundew.download.failed") == []
    assert story(d, session) == ["sundew.download.offer",
                                 "sundew.download.complete",
                                 "sundew.file.stored"]
    # The same session as the exploit's connection and its verdict.
    assert d.events("sundew.shellcode.detected", session=session)


def test_https_download_without_certificate_check(sundew, tmp_path):
    """https with a self-signed certificate (malware hosts use any):
    fetched, TLS and all, under the sensor's filter."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=secure.example.org"],
                   check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(crt, key)
    body = sample(70000, 2)
    sha = hashlib.sha256(body).hexdigest()
    web = HttpServer(HTTPS_PORT, {"/x.exe": body}, tls=tls)
    try:
        d, _, stored = fetch_stored(sundew, [
            "download.connect_to=secure.example.org:443:"
            f"127.0.0.1:{HTTPS_PORT}"],
            url_shellcode("https://secure.example.org/x.exe"), "127.0.0.22")
    finally:
        web.close()
    assert stored["sha256"] == sha
    assert (d.data / "binaries" / sha).read_bytes() == body


@pytest.mark.parametrize("mode", ["active", "passive"])
def test_ftp_download(sundew, tmp_path, mode):
    """ftp with a user and a password.  Active mode first (PORT: the
    server connects back to a port the sensor opens), as worms' FTP
    servers expect; a server that refuses it gets passive mode."""
    root = tmp_path / "ftp"
    root.mkdir()
    body = sample(120000, 3)
    (root / "w.exe").write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    # On 127.0.0.2, so that the sensor's end of the control connection
    # (127.0.0.1, where active mode's data port listens) is not the
    # server's address.
    ftp = FtpServer(root, FTP_PORT, "worm", "s3cret", mode, "127.0.0.2")
    try:
        url = "ftp://worm:s3cret@ftp.example.org/w.exe"
        d, session, stored = fetch_stored(sundew, [
            "download.connect_to=ftp.example.org:21:"
            f"127.0.0.2:{FTP_PORT}"],
            url_shellcode(url), "127.0.0.23")
    finally:
        ftp.close()
    assert stored["sha256"] == sha and stored["url"] == url
    assert (d.data / "binaries" / sha).read_bytes() == body
    assert ftp.sent == ["w.exe"]
    if mode == "active":
        assert ftp.commands == ["EPRT"]
    else:
        # EPRT and PORT refused, then passive on the same server.
        assert ftp.commands == ["EPRT", "PORT", "EPSV"]
    assert d.events("sundew.download.failed") == []
    assert story(d, session) == ["sundew.download.offer",
                                 "sundew.download.complete",
                                 "sundew.file.stored"]


def test_tftp_download(sundew, tmp_path):
    """tftp (RRQ, octet) from tftpd-hpa on a loopback port."""
    root = tmp_path / "tftp"
    root.mkdir()
    root.chmod(0o755)
    body = sample(90000, 4)
    (root / "t.exe").write_bytes(body)
    (root / "t.exe").chmod(0o644)
    sha = hashlib.sha256(body).hexdigest()
    # Not --address 127.0.0.1:PORT: tftpd resolves it with AI_ADDRCONFIG,
    # which finds no address where loopback is the only interface (this
    # namespace); the wildcard reaches loopback only here.
    tftpd = subprocess.Popen(["/usr/sbin/in.tftpd", "--foreground",
                              "--listen", "-4", "--address",
                              f":{TFTP_PORT}", "--secure", str(root)])
    try:
        d, _, stored = fetch_stored(sundew, [
            "download.connect_to=tftp.example.org:69:"
            f"127.0.0.1:{TFTP_PORT}"],
            url_shellcode("tftp://tftp.example.org/t.exe"), "127.0.0.24")
    finally:
        tftpd.terminate()
        tftpd.wait()
    assert stored["sha256"] == sha
    assert (d.data / "binaries" / sha).read_bytes() == body


def test_larger_than_max_size_refused_nothing_stored(sundew):
    """A file one byte over download.max_size: the download fails with
    reason max_size and nothing is written to var/binaries."""
    web = HttpServer(HTTP_PORT, {"/big.exe": sample(100 * 1024 + 1, 5)})
    try:
        d = sundew(["download.max_size=100KiB",
                    f"download.connect_to=big.example.org:80:"
                    f"127.0.0.1:{HTTP_PORT}"])
        s = attack(url_shellcode("http://big.example.org/big.exe"),
                   "127.0.0.25")
        session = session_of(d, "127.0.0.25")
        failed = d.wait_events("sundew.download.failed", session=session)
        s.close()
        d.stop()
    finally:
        web.close()
    assert [e["reason"] for e in failed] == ["max_size"]
    assert web.hits == {"/big.exe": 1}
    assert list((d.data / "binaries").iterdir()) == []
    assert d.events("sundew.download.complete") == []
    assert d.events("sundew.file.stored", origin="download") == []


def test_egress_policy_refusals(sundew, tmp_path):
    """URLs to loopback, private and link-local destinations, by address
    or by a name that download.hosts resolves to one: each a failed event
    with its reason, and no connection reaches the server listening on
    every loopback address of both families."""
    hosts = tmp_path / "hosts"
    hosts.write_text("10.0.0.1 private.example.org\n"
                     "169.254.169.254 metadata.example.org\n"
                     "::1 six.example.org\n"
                     "127.0.0.1 loop.example.org\n")
    web = HttpServer(HTTP_PORT, {"/x.exe": b"MZ never fetched"}, host="::")
    cases = [
        # (URL in the shellcode, the offered URL, the reason)
        (f"http://127.0.0.1:{HTTP_PORT}/x.exe", None, "loopback"),
        (f"http://10.0.0.1:{HTTP_PORT}/x.exe", None, None),
        (f"http://169.254.169.254:{HTTP_PORT}/x.exe", None, None),
        (f"http://[::1]:{HTTP_PORT}/x.exe", None, "loopback"),
        (f"http://private.example.org:{HTTP_PORT}/x.exe", None, "private"),
        (f"http://metadata.example.org:{HTTP_PORT}/x.exe", None,
         "link-local"),
        (f"http://six.example.org:{HTTP_PORT}/x.exe", None, "loopback"),
        (f"http://loop.example.org:{HTTP_PORT}/x.exe", None, "loopback"),
    ]
    try:
        d = sundew([f"download.hosts={hosts}", "download.per_source=0"])
        socks = []
        for i, (url, _, _) in enumerate(cases):
            socks.append(attack(url_shellcode(url), f"127.0.0.{40 + i}"))
        got = {}
        for i, (url, offered, reason) in enumerate(cases):
            src = f"127.0.0.{40 + i}"
            session = session_of(d, src)
            f = d.wait_events("sundew.download.failed", session=session)
            o = d.events("sundew.download.offer", session=session)
            got[url] = (len(o), len(f), f[0]["reason"], o[0]["url"], src)
        time.sleep(1)
        for s in socks:
            s.close()
        d.stop()
    finally:
        web.close()
    assert web.requests() == 0
    for url, offered, reason in cases:
        n_offer, n_failed, why, offer_url, src = got[url]
        assert (n_offer, n_failed) == (1, 1), url
        if reason is None:
            # An attacker's private address in shellcode stands for the
            # attacker himself (the dispatcher's egress_host): here a
            # loopback address.
            assert offer_url == url.replace(
                url.split("/")[2].rsplit(":", 1)[0], src), (url, offer_url)
            reason = "loopback"
        assert why == reason, (url, why)
    assert list((d.data / "binaries").iterdir()) == []


def test_redirect_to_loopback_refused(sundew):
    """A 302 to http://127.0.0.1:PORT/... is checked like the first hop:
    refused with reason loopback; the server sees only the first request."""
    web = HttpServer(HTTP_PORT, {"/x.exe": b"MZ not this"},
                     location=f"http://127.0.0.1:{HTTP_PORT}/x.exe")
    try:
        d = sundew([f"download.connect_to=redir.example.org:80:"
                    f"127.0.0.1:{HTTP_PORT}"])
        s = attack(url_shellcode("http://redir.example.org/redirect"),
                   "127.0.0.26")
        session = session_of(d, "127.0.0.26")
        failed = d.wait_events("sundew.download.failed", session=session)
        time.sleep(0.5)
        s.close()
        d.stop()
    finally:
        web.close()
    assert web.hits == {"/redirect": 1}
    assert [(e["reason"], e["hop_url"]) for e in failed] == \
        [("loopback", f"http://127.0.0.1:{HTTP_PORT}/x.exe")]
    assert list((d.data / "binaries").iterdir()) == []


def test_same_url_from_1000_connections_fetched_once(sundew):
    """The same URL offered by 1,000 connections from 100 sources: one
    request reaches the server, one file is stored, every other offer
    fails as a duplicate.  An offer is made for each verdict whose URL
    the emulator saw asked for; on a loaded machine an emulation may run
    out of its budget before the call (the URL is then only "clear", and
    not fetched), so the offers are counted against those verdicts."""
    body = sample(30000, 6)
    web = HttpServer(HTTP_PORT, {"/once.exe": body})
    payload = url_shellcode("http://once.example.org/once.exe")
    n = 1000
    try:
        d = sundew([f"download.connect_to=once.example.org:80:"
                    f"127.0.0.1:{HTTP_PORT}"])
        for i in range(n):
            s = connect(GENERIC_PORT, src=f"127.0.{1 + i // 10}.{10 + i % 10}")
            s.sendall(payload)
            s.close()
        d.wait_events("sundew.shellcode.detected", count=n, timeout=180)
        emulated = [e for e in d.events("sundew.shellcode.detected")
                    if [a["evidence"] for a in e["actions"]] == ["emulated"]]
        offers = len(emulated)
        assert offers >= n * 9 // 10
        d.wait_events("sundew.download.offer", count=offers, timeout=60)
        d.wait_events("sundew.download.failed", count=offers - 1,
                      timeout=60)
        d.wait_events("sundew.file.stored", origin="download", timeout=30)
        time.sleep(1)
        d.stop()
    finally:
        web.close()
    assert web.hits == {"/once.exe": 1}
    assert sorted(e["session"] for e in d.events("sundew.download.offer")) \
        == sorted(e["session"] for e in emulated)
    failed = d.events("sundew.download.failed")
    assert [e["reason"] for e in failed] == ["duplicate"] * (offers - 1)
    assert len(d.events("sundew.download.complete")) == 1
    assert len(d.events("sundew.file.stored", origin="download")) == 1
    sha = hashlib.sha256(body).hexdigest()
    assert [p.name for p in (d.data / "binaries").iterdir()] == [sha]


def test_port_only_rule_changes_the_port_and_keeps_the_policy(sundew,
                                                              tmp_path):
    """A connect_to rule without TO_HOST changes only the port: the host
    is resolved (here by download.hosts, to 127.0.0.1) and the policy
    still judges the address: refused as loopback, then fetched on the
    rule's port once download.allow lets 127.0.0.0/8 through."""
    body = sample(20000, 7)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 nepenthes.mwcollect.org\n")
    web = HttpServer(HTTP_PORT, {"/bad.exe": body})
    rule = f"download.connect_to=nepenthes.mwcollect.org:80::{HTTP_PORT}"
    try:
        d = sundew([rule, f"download.hosts={hosts}"])
        s = attack(URL_SC.read_bytes(), "127.0.0.22")
        session = session_of(d, "127.0.0.22")
        failed = d.wait_events("sundew.download.failed", session=session,
                               timeout=30)
        s.close()
        d.stop()
        assert [f["reason"] for f in failed] == ["loopback"]
        assert web.hits == {}
        d, _, stored = fetch_stored(
            sundew, [rule, f"download.hosts={hosts}",
                     "download.allow=[127.0.0.0/8]"],
            URL_SC.read_bytes(), "127.0.0.23")
    finally:
        web.close()
    assert web.hits == {"/bad.exe": 1}
    assert stored["sha256"] == hashlib.sha256(body).hexdigest()


def test_proxy_in_environment_not_followed(sundew, tmp_path):
    """A daemon started with proxies in its environment (a named one,
    which would make libcurl start its threaded resolver, a clone the
    sensor's filter kills; a numeric one, which the socket guard would
    refuse): the download goes straight to the server and is stored, no
    sensor dies or is started again, no TLS key log is written, and the
    offer says "origin":"download"."""
    body = sample(30000, 8)
    web = HttpServer(HTTP_PORT, {"/bad.exe": body})
    env = dict(os.environ, http_proxy="http://proxy.example:3128",
               HTTPS_PROXY="http://proxy.example:3128",
               ALL_PROXY="http://127.0.0.9:3128", NO_PROXY="",
               SSLKEYLOGFILE=str(tmp_path / "keys"))
    try:
        d = sundew([f"download.connect_to=nepenthes.mwcollect.org:80:"
                    f"127.0.0.1:{HTTP_PORT}"], env=env)
        sensors = sorted(d.sensors())
        s = attack(URL_SC.read_bytes(), "127.0.0.27")
        session = session_of(d, "127.0.0.27")
        stored = stored_download(d, session)
        s.close()
        time.sleep(0.5)
        after = sorted(d.sensors())
        log = d.log_text()
        d.stop()
    finally:
        web.close()
    assert web.hits == {"/bad.exe": 1}
    assert stored["sha256"] == hashlib.sha256(body).hexdigest()
    assert after == sensors
    assert "killed by signal" not in log
    assert [e["origin"] for e in
            d.events("sundew.download.offer", session=session)] == \
        ["download"]
    assert not (tmp_path / "keys").exists()


def tftp_data(block, payload):
    return b"\x00\x03" + block.to_bytes(2, "big") + payload


def test_tftp_reply_from_another_address_not_heard(sundew):
    """A tftp server on 127.0.0.1 gets the read request; before it
    answers, 127.0.0.77 (an address the download was never pinned to)
    sends DATA block 1 to the sensor's port.  The sensor answers nothing
    to 127.0.0.77 and stores the real server's file, which it ACKs."""
    real, rogue_body = sample(300, 9), b"MZ from 127.0.0.77"
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", TFTP_PORT))
    server.settimeout(10)
    rogue = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rogue.bind(("127.0.0.77", 0))
    try:
        d = sundew([f"download.connect_to=tftp.example.org:69:"
                    f"127.0.0.1:{TFTP_PORT}"])
        s = attack(url_shellcode("tftp://tftp.example.org/r.exe"),
                   "127.0.0.28")
        session = session_of(d, "127.0.0.28")
        rrq, sensor = server.recvfrom(2048)
        assert rrq[:2] == b"\x00\x01" and b"r.exe\x00octet\x00" in rrq
        rogue.sendto(tftp_data(1, rogue_body), sensor)
        rogue.settimeout(2)
        with pytest.raises(socket.timeout):
            heard = rogue.recvfrom(2048)
            raise AssertionError(f"the sensor answered 127.0.0.77: {heard}")
        server.sendto(tftp_data(1, real), sensor)
        while True:         # the ACK (a repeated RRQ is not it)
            ack, peer = server.recvfrom(2048)
            if ack[:2] == b"\x00\x04":
                break
        stored = stored_download(d, session)
        s.close()
        d.stop()
    finally:
        server.close()
        rogue.close()
    assert ack == b"\x00\x04\x00\x01" and peer == sensor
    assert stored["sha256"] == hashlib.sha256(real).hexdigest()
    assert [p.name for p in (d.data / "binaries").iterdir()] == \
        [hashlib.sha256(real).hexdigest()]


def test_trickling_server_too_slow(sundew):
    """A server that sends its headers and then a byte a second: under
    download.min_speed for download.min_speed_time, the try ends with
    reason too_slow (final: one request), long before download.timeout;
    the failed event says "origin":"download"."""
    stop = threading.Event()
    hits = []

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"MZ")
            while not stop.is_set():
                try:
                    self.wfile.write(b"\x90")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), Trickle)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    try:
        d = sundew(["download.min_speed=100", "download.min_speed_time=3s",
                    "download.timeout=60s",
                    f"download.connect_to=slow.example.org:80:"
                    f"127.0.0.1:{HTTP_PORT}"])
        s = attack(url_shellcode("http://slow.example.org/t.exe"),
                   "127.0.0.29")
        session = session_of(d, "127.0.0.29")
        offered = time.monotonic()
        failed = d.wait_events("sundew.download.failed", session=session,
                               timeout=20)
        took = time.monotonic() - offered
        time.sleep(1)
        s.close()
        d.stop()
    finally:
        stop.set()
        srv.shutdown()
        srv.server_close()
    assert [(e["reason"], e["attempts"], e["origin"]) for e in failed] == \
        [("too_slow", 1, "download")]
    assert took < 15
    assert hits == ["/t.exe"]
    assert list((d.data / "binaries").iterdir()) == []
