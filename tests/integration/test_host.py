"""The one Windows host of the host.* keys (issue 10): the shells'
cmd.exe and nmap's smb-os-discovery tell the configured host's story."""
import subprocess

import pytest

from conftest import connect
from test_shell import BIND, bind_shellcode, exploit, needs_corpus, \
    recv_until, run


@needs_corpus(BIND)
def test_shell_is_the_configured_host(sundew):
    """With host.version 6.1.7601, host.name FILESRV01 and host.system_root
    C:\\WINNT, a bind shell greets as Windows 7 does, in C:\\WINNT\\system32,
    and hostname and ver agree."""
    d = sundew(["host.version=6.1.7601", "host.name=filesrv01",
                "host.system_root=C:\\WINNT"])
    exp, session = exploit(d, bind_shellcode(4445))
    d.wait_events("sundew.shell.open", session=session, state="listening")
    s = connect(4445)
    prompt = b"C:\\WINNT\\system32>"
    assert recv_until(s, prompt) == (
        b"Microsoft Windows [Version 6.1.7601]\r\n"
        b"Copyright (c) 2009 Microsoft Corporation.  All rights reserved."
        b"\r\n\r\n" + prompt)
    assert run(s, "hostname", prompt) == b"FILESRV01\r\n"
    assert run(s, "ver", prompt) == \
        b"\r\nMicrosoft Windows [Version 6.1.7601]\r\n"
    s.close()
    exp.close()


@pytest.mark.parametrize("version,os_line", [
    ("5.1.2600", "OS: Windows XP (Windows 2000 LAN Manager)"),
    ("5.2.3790", "OS: Windows Server 2003 3790 Service Pack 2 "
                 "(Windows Server 2003 5.2)"),
])
def test_nmap_smb_os_discovery_tells_the_host(sundew, version, os_line):
    """nmap's smb-os-discovery reports the configured OS, names and
    workgroup."""
    d = sundew([f"host.version={version}", "host.name=FILESRV01"])
    out = subprocess.run(["nmap", "-Pn", "-n", "-p445", "--script",
                          "smb-os-discovery", "127.0.0.1"],
                         capture_output=True, text=True, timeout=120).stdout
    assert os_line in out, out
    assert "Computer name: filesrv01" in out, out
    assert "NetBIOS computer name: FILESRV01" in out, out
    assert "Workgroup: WORKGROUP" in out, out
    d.wait_events("sundew.login.attempt")
