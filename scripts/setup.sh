#!/bin/sh
# Installs the Debian 12 packages that sundew needs to build, run and test,
# and the unprivileged user its children run as.  Does nothing that is
# already done, so `make run` and `make test` may call it every time.
set -eu

PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
libevent-dev libssl-dev libsqlite3-dev libfyaml-dev libjansson-dev
libseccomp-dev libcap-ng-dev libmagic-dev libmagic-mgc libpcap-dev libunicorn-dev
libcurl4-openssl-dev libcmocka-dev
python3 python3-pytest python3-pyftpdlib tftpd-hpa tftp-hpa curl
nmap sqlite3 procps iproute2 util-linux strace
smbclient python3-impacket"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "sundew: these packages are missing:$missing" >&2
		echo "sundew: run 'make' as root, or install them with apt-get." >&2
		exit 1
	fi
	echo "sundew: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# tftpd-hpa is only a test server, started by the tests on a
	# loopback port: its package must not start a daemon on port 69,
	# which is sundew's.  A policy-rc.d that refuses every start does
	# that, for this install only (if the machine has none of its own).
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

# The sensor and store processes drop to this user (config key `user`).
if [ "$(id -u)" -eq 0 ] && ! getent passwd sundew >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin sundew
fi
exit 0
