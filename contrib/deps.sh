# contrib/deps.sh — sourced by quickstart and test: installs the Debian
# packages named in "$@" that are not installed yet.
install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

BUILD_DEPS=(gcc meson ninja-build pkgconf liburing-dev libwolfssl-dev libjansson-dev
	    libcrypt-dev)
# The tests add cmocka, Python for the CLI/daemon drivers (and its
# cryptography and openssl to cross-check src/crypto), and the tools the
# interop tests need (network namespaces, nftables, the real uftp peers);
# passwd gives tests/security its useradd; clang and its runtime libraries
# (libFuzzer, sanitizers) build tests/fuzz; qemu and busybox boot the kTLS
# guest of tests/ftp/test_ktls_vm.py (which fetches its kernel itself).
TEST_DEPS=("${BUILD_DEPS[@]}" libcmocka-dev python3 python3-cryptography openssl
	   iproute2 nftables conntrack uftp procps strace curl lftp tnftp systemd passwd
	   clang libclang-rt-dev podman runc slirp4netns uidmap haproxy prometheus
	   vsftpd libsodium23 libcap2 libpam0g libssl3 gnutls-bin libssl-dev
	   qemu-system-x86 busybox-static)

# Packages a test runs from an unpacked copy instead: pure-ftpd conflicts
# with vsftpd (both provide ftp-server) and pulls in inetd; the gateway test
# runs its binary in the foreground from $FERRY_UNPACK_DIR/pure-ftpd.
TEST_UNPACK=(pure-ftpd)
FERRY_UNPACK_DIR=${FERRY_UNPACK_DIR:-/opt/ferry-test}

unpack_missing() {
	local p tmp
	for p in "$@"; do
		[ -f "$FERRY_UNPACK_DIR/$p/.unpacked" ] && continue
		echo "unpacking: $p into $FERRY_UNPACK_DIR/$p"
		tmp=$(mktemp -d) && chmod 755 "$tmp" && { chown _apt "$tmp" 2>/dev/null || true; } &&
			(cd "$tmp" && apt-get download "$p" >/dev/null) &&
			mkdir -p "$FERRY_UNPACK_DIR/$p" &&
			dpkg-deb -x "$tmp"/"$p"_*.deb "$FERRY_UNPACK_DIR/$p" &&
			touch "$FERRY_UNPACK_DIR/$p/.unpacked" || { rm -rf "$tmp"; return 1; }
		rm -rf "$tmp"
	done
}

# The tests start the FTP servers themselves, in the foreground with their
# own configuration: a system service the package may have started goes.
quiet_services() {
	local s
	command -v systemctl >/dev/null || return 0
	for s in "$@"; do
		systemctl is-active --quiet "$s" 2>/dev/null && systemctl disable --now "$s" >/dev/null 2>&1
	done
	return 0
}
