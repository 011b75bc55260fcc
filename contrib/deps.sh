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
# (libFuzzer, sanitizers) build tests/fuzz.
TEST_DEPS=("${BUILD_DEPS[@]}" libcmocka-dev python3 python3-cryptography openssl
	   iproute2 nftables uftp procps strace curl lftp tnftp systemd passwd
	   clang libclang-rt-dev podman runc slirp4netns uidmap haproxy prometheus)
