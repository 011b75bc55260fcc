#!/bin/sh
# ktls_vm_init.sh — /init of test_ktls_vm.py's KVM guest: loads the kernel's
# tls module, runs ferryd with ftp.tls.ktls "required", downloads and uploads
# over PROT P with ferry-ftp and curl, compares bytes, proves the kernel
# sealed and opened them, cuts an upload and sends a TLS 1.3 KeyUpdate
# (openssl s_client) the kernel cannot follow, measures CPU per GiB against
# user-space TLS, prints "ok - "/"FAIL - " lines and "guest: N passed,
# N failed", and powers off.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ip link set lo up

# results go to a file: the checks run in a subshell that an error may end
ok() { echo "ok - $1"; echo ok >>/tmp/results; }
fail() { echo "FAIL - $1${2:+ ($2)}"; echo fail >>/tmp/results; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; return 1; fi; }
finish() {
	P=$(grep -c '^ok' /tmp/results)
	F=$(grep -c '^fail' /tmp/results)
	if [ "$F" -gt 0 ]; then
		for l in /tmp/ktls.out /tmp/user.out; do
			[ -f $l ] && tail -n 30 $l | sed "s|^|guest: $l: |"
		done
	fi
	echo "guest: $P passed, $F failed"
	poweroff -f
}
# wait_for SECONDS COMMAND...: polls every 50 ms until COMMAND succeeds
wait_for() {
	n=$(($1 * 20)); shift
	while [ $n -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	"$@"
}
metric() {      # metric PORT LABEL [uploads]: ferry_ftp_tls_downloads_total{tls=LABEL}
	wget -q -O - "http://127.0.0.1:$1/metrics" |
		sed -n "s/^ferry_ftp_tls_${3:-downloads}_total{tls=\"$2\"} //p"
}
# by_kernel downloads|uploads N FALLBACK: /metrics counted N by the kernel
# and only the ASCII one by user space, and no fall-back (FALLBACK, a grep
# -E pattern) was logged
by_kernel() {
	got=$(metric 9100 ktls $1)
	check "/metrics: $2 $1 by the kernel (tls=\"ktls\" $got)" test "$got" = $2
	got=$(metric 9100 user $1)
	check "/metrics: only the ASCII one by user space (tls=\"user\" $got)" test "$got" = 1
	check "no $1 fell back to user space (log)" sh -c "! grep -E '$3' /tmp/ktls.out"
}
tls_count() {   # tls_count NAME: a counter of /proc/net/tls_stat
	sed -n "s/^$1[ \t]*//p" /proc/net/tls_stat
}
tls_rx() {      # receiving sides the kernel's software TLS took, since boot
	tls_count TlsRxSw
}
# sc_upload PORT FILE k|cut: PROT P STOR by openssl s_client (TLS 1.3,
# resuming the control connection's session), 2 MB of digits, then k: a
# KeyUpdate ("k" at the start of a read is s_client's command), 100000 more
# bytes and close_notify; cut: the data connection's s_client killed (no
# close_notify), the control connection still open. Its replies end up in
# /tmp/ku.ctl, the data connection's s_client output in /tmp/ku.dout.
sc_upload() {
	rm -f /tmp/ku.ci /tmp/ku.di /tmp/ku.sess /tmp/ku.ctl /tmp/ku.dout
	mkfifo /tmp/ku.ci /tmp/ku.di
	openssl s_client -quiet -crlf -starttls ftp -connect 127.0.0.1:$1 \
		-CAfile /etc/ferry/c.pem -sess_out /tmp/ku.sess \
		</tmp/ku.ci >/tmp/ku.ctl 2>/dev/null &
	cpid=$!
	exec 5>/tmp/ku.ci
	printf 'USER alice\nPASS @PW@\nPBSZ 0\nPROT P\nTYPE I\nEPSV\n' >&5
	wait_for 30 grep -q '^229 ' /tmp/ku.ctl
	dport=$(sed -n 's/^229 .*(|||\([0-9]*\)|).*/\1/p' /tmp/ku.ctl)
	wait_for 10 test -s /tmp/ku.sess
	openssl s_client -tls1_3 -connect 127.0.0.1:$dport -CAfile /etc/ferry/c.pem \
		-sess_in /tmp/ku.sess </tmp/ku.di >/tmp/ku.dout 2>&1 &
	dpid=$!
	exec 6>/tmp/ku.di
	printf 'STOR %s\n' "$2" >&5
	wait_for 30 grep -q '^150 ' /tmp/ku.ctl
	yes 0123456789 | head -c 2000000 >&6
	sleep 3
	if [ $3 = k ]; then
		echo k >&6
		sleep 2
		yes 0123456789 | head -c 100000 >&6
	else
		kill -9 $dpid
	fi
	exec 6>&-
	# the transfer's last reply (226 or 426), after the 150
	wait_for 60 sh -c "sed -n '/^150 /,\$p' /tmp/ku.ctl | grep -q '^[2-5][0-9][0-9] '"
	printf 'QUIT\n' >&5
	exec 5>&-
	wait_for 10 sh -c "! kill -0 $cpid"
	kill $cpid $dpid 2>/dev/null
}
uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}
closed() {      # curl -v saw the data connection's close_notify before the 226
	sed -n '/^< 150/,/^< 226/p' /tmp/curl.err | grep -q "(IN), TLS alert, close notify"
}
# probe_found WHAT LINE: the start-up line names each combination kTLS has
probe_found() {
	for c in "TLS 1.2 AES-128-GCM" "TLS 1.2 AES-256-GCM" "TLS 1.3 AES-128-GCM" \
		 "TLS 1.3 AES-256-GCM" "TLS 1.2 ChaCha20-Poly1305" "TLS 1.3 ChaCha20-Poly1305"; do
		case "$2" in
		*"$c"*) ok "the start-up probe found $1$c";;
		*) fail "the start-up probe found $1$c" "$2";;
		esac
	done
}
# curl's version and cipher options for each kTLS combination (VERSION:CIPHER)
SPECS="1.2:ECDHE-ECDSA-AES128-GCM-SHA256 1.2:ECDHE-ECDSA-AES256-GCM-SHA384
1.2:ECDHE-ECDSA-CHACHA20-POLY1305 1.3:TLS_AES_128_GCM_SHA256 1.3:TLS_AES_256_GCM_SHA384
1.3:TLS_CHACHA20_POLY1305_SHA256"
# curl_combo get|put VERSION:CIPHER: big.bin down (RETR) or up (STOR) with
# curl in that version and cipher: byte for byte, negotiated on both
# connections, and the kernel's counter of sealed (TlsTxSw) or opened
# (TlsRxSw) records went up. Sets v and c; curl -v's output in /tmp/curl.err.
curl_combo() {
	v=${2%%:*}
	c=${2#*:}
	if [ "$v" = 1.2 ]; then opt="--tlsv1.2 --tls-max 1.2 --ciphers $c"
	else opt="--tlsv1.3 --tls13-ciphers $c"; fi
	if [ $1 = get ]; then
		name="curl TLS $v $c" out=/tmp/c.bin count=TlsTxSw did=sealed
		args="-o /tmp/c.bin $URL/big.bin"
	else
		name="curl TLS $v $c STOR" out=/srv/up.bin count=TlsRxSw did=opened
		args="-T /srv/big.bin $URL/up.bin"
	fi
	before=$(tls_count $count)
	$CURL $opt $args 2>/tmp/curl.err
	rc=$?
	after=$(tls_count $count)
	check "$name: byte for byte (exit $rc)" cmp /srv/big.bin $out
	check "$name: negotiated (both connections)" \
		test "$(grep -c "SSL connection using TLSv$v / $c" /tmp/curl.err)" -ge 2
	check "$name: the kernel $did it ($count $before -> $after)" test "$after" -gt "$before"
	[ $rc = 0 ] || tail -n 5 /tmp/curl.err
	rm -f $out
}
cpu_ticks() {   # utime + stime of a process, in clock ticks
	awk '{ print $14 + $15 }' /proc/$1/stat
}

main() {
# ---- the kernel's TLS ---------------------------------------------------------
echo "guest: kernel $(uname -r), $(nproc) CPUs, $(grep -c aes /proc/cpuinfo) with AES-NI"
for m in /lib/ktls/*.ko; do
	case $m in
	*-opt-*) insmod $m 2>/dev/null || echo "guest: $m not loaded (this CPU)";;
	*) insmod $m || fail "insmod $m";;
	esac
done
check "tcp_available_ulp lists tls" grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp

# ---- ferryd, kTLS required -----------------------------------------------------
head -c 8400001 /dev/urandom >/srv/big.bin      # 512.7 records of 16 KiB
: >/srv/empty.bin
printf 'line one\nline two\n' >/srv/text.txt
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
ferryd -f /etc/ferry/ktls.json >/tmp/ktls.out 2>&1 &
KPID=$!
wait_for 30 grep -q "ftp: listening on" /tmp/ktls.out
check "ferryd (ktls required) started" kill -0 $KPID || return 1
wait_for 5 wget -q -O /dev/null http://127.0.0.1:9100/metrics
line=$(grep -o "kTLS: available for [^;]*" /tmp/ktls.out)
echo "guest: $line"
probe_found "" "$line"

# ---- ferry-ftp: whole file, resumed, empty -------------------------------------
FTP="ferry-ftp --tls --ca /etc/ferry/c.pem -u alice:@PW@ -q -t 20"
$FTP 127.0.0.1:2121 get big.bin /tmp/a.bin
check "ferry-ftp --tls get: 8400001 bytes byte for byte (exit $?)" cmp /srv/big.bin /tmp/a.bin
head -c 1000001 /srv/big.bin >/tmp/r.bin
$FTP -c 127.0.0.1:2121 get big.bin /tmp/r.bin
check "ferry-ftp --tls -c get (REST 1000001): the whole file (exit $?)" cmp /srv/big.bin /tmp/r.bin
$FTP 127.0.0.1:2121 get empty.bin /tmp/e.bin
rc=$?
check "ferry-ftp --tls get of a 0-byte file (exit $rc)" test $rc = 0 -a -f /tmp/e.bin -a ! -s /tmp/e.bin
rm -f /tmp/a.bin /tmp/r.bin

# ---- curl (OpenSSL): each version and cipher ----------------------------------
CURL="curl -sS -v --ssl-reqd --cacert /etc/ferry/c.pem --max-time 30"
URL="ftp://alice:@PW@@127.0.0.1:2121"
n=0
for spec in $SPECS; do
	curl_combo get $spec
	n=$((n + 1))
	check "curl TLS $v $c: the server's close_notify came before the 226" closed
done
$CURL --tlsv1.3 -r 1000001- -o /tmp/c.bin "$URL/big.bin" 2>/tmp/curl.err
tail -c +1000002 /srv/big.bin >/tmp/tail.bin
check "curl TLS 1.3 REST 1000001: the tail byte for byte" cmp /tmp/tail.bin /tmp/c.bin
check "curl TLS 1.3 REST: close_notify before the 226" closed
$CURL --tlsv1.2 --tls-max 1.2 -o /tmp/c.bin "$URL/empty.bin" 2>/tmp/curl.err
check "curl TLS 1.2 a 0-byte file (exit $?)" test -f /tmp/c.bin -a ! -s /tmp/c.bin
check "curl TLS 1.2 a 0-byte file: close_notify before the 226" closed
$CURL -B -o /tmp/c.txt "$URL/text.txt" 2>/tmp/curl.err
check "curl ASCII RETR (user-space TLS) (exit $?)" cmp /srv/text.txt /tmp/c.txt
rm -f /tmp/c.bin /tmp/tail.bin /tmp/c.txt

# ---- one control connection, several at once, a client that goes away --------
$CURL --tlsv1.2 -o /tmp/m1.bin "$URL/big.bin" -o /tmp/m2.bin "$URL/big.bin" 2>/tmp/curl.err
rc=$?
check "curl: two RETRs on one control connection (exit $rc)" \
	sh -c 'cmp /srv/big.bin /tmp/m1.bin && cmp /srv/big.bin /tmp/m2.bin'
if [ $rc != 0 ]; then      # what curl and ferryd saw, for the report
	grep -v "^[<>] \|^} \[\|^{ \[" /tmp/curl.err | tail -n 40 | sed 's/^/guest: curl: /'
	tail -n 40 /tmp/ktls.out | sed 's/^/guest: ferryd: /'
fi
check "curl: the control connection was reused" grep -q "Re-using existing connection" /tmp/curl.err
rm -f /tmp/m1.bin /tmp/m2.bin
pids=
for i in 1 2 3 4; do
	$CURL -o /tmp/p$i.bin "$URL/big.bin" 2>/tmp/p$i.err &
	pids="$pids $!"
done
wait $pids
for i in 1 2 3 4; do
	check "curl: 4 downloads at once, number $i byte for byte" cmp /srv/big.bin /tmp/p$i.bin
	rm -f /tmp/p$i.bin
done
$CURL -o - "$URL/big.bin" 2>/dev/null | head -c 100000 >/dev/null
check "a client that stops reading after 100000 bytes: ferryd lives on" kill -0 $KPID
$CURL -o /tmp/c.bin "$URL/big.bin" 2>/tmp/curl.err
check "and serves the next download byte for byte" cmp /srv/big.bin /tmp/c.bin
rm -f /tmp/c.bin

by_kernel downloads $((3 + n + 2 + 2 + 4 + 2)) "kTLS not used|TLS_TX failed|close_notify not sent"
grep "TlsTx\|TlsCurrTx\|TlsDecryptError" /proc/net/tls_stat | tr '\n' ' ' | sed 's/^/guest: tls_stat: /'
echo

# ---- uploads: the kernel opens them (TLS_RX) ------------------------------------
line=$(grep -o "kTLS: receiving: [^;]*" /tmp/ktls.out)
echo "guest: $line"
probe_found "TLS_RX for " "$line"
u=0
for spec in $SPECS; do
	curl_combo put $spec
	u=$((u + 1))
done
head -c 1000001 /srv/big.bin >/srv/app.bin
tail -c +1000002 /srv/big.bin >/tmp/tail.bin
before=$(tls_rx)
$CURL --tlsv1.3 -a -T /tmp/tail.bin "$URL/app.bin" 2>/tmp/curl.err
rc=$?
after=$(tls_rx)
u=$((u + 1))
check "curl TLS 1.3 APPE onto 1000001 bytes (exit $rc): the whole file" cmp /srv/big.bin /srv/app.bin
check "curl TLS 1.3 APPE: the kernel opened it (TlsRxSw $before -> $after)" test "$after" -gt "$before"
rm -f /srv/app.bin /tmp/tail.bin
$CURL -B -T /srv/text.txt "$URL/t.txt" 2>/tmp/curl.err
check "curl ASCII STOR (user-space TLS) (exit $?)" cmp /srv/text.txt /srv/t.txt
rm -f /srv/t.txt
before=$(tls_rx)
$FTP --epsv 127.0.0.1:2121 put /srv/big.bin f1.bin
rc=$?
$FTP 127.0.0.1:2121 put /srv/big.bin f2.bin
rc2=$?
after=$(tls_rx)
u=$((u + 2))
check "ferry-ftp --tls --epsv put (exit $rc): byte for byte" cmp /srv/big.bin /srv/f1.bin
check "ferry-ftp --tls put over SPSV (exit $rc2): byte for byte" cmp /srv/big.bin /srv/f2.bin
check "ferry-ftp: the kernel opened both (TlsRxSw $before -> $after)" \
	test "$after" -ge $((before + 2))
rm -f /srv/f1.bin /srv/f2.bin
by_kernel uploads $u "kTLS upload not used|TLS_RX failed"

# An upload cut without close_notify once the kernel has it: 426, not in place.
before=$(tls_rx)
sc_upload 2121 cut.bin cut
after=$(tls_rx)
check "cut: the kernel had the upload (TlsRxSw $before -> $after)" test "$after" -gt "$before"
check "cut without close_notify: 426 on the control connection" grep -q '^426 ' /tmp/ku.ctl
check "cut: logged as truncated" grep -q "closed without close_notify: upload truncated" /tmp/ktls.out
check "cut: nothing is in place as cut.bin, no temporary file left" \
	wait_for 10 sh -c '! test -e /srv/cut.bin && ! ls -a /srv | grep -q ferry-'
tr -d '\r' </tmp/ku.ctl | grep '^[2-5]' | tail -n 2 | sed 's/^/guest: cut control: /'
# A TLS 1.3 KeyUpdate the kernel cannot follow: 426, never a wrong file.
before=$(tls_rx)
sc_upload 2121 ku.bin k
after=$(tls_rx)
check "KeyUpdate: s_client sent it" grep -q KEYUPDATE /tmp/ku.dout
check "KeyUpdate: the kernel had the upload (TlsRxSw $before -> $after)" test "$after" -gt "$before"
check "KeyUpdate: 426 on the control connection" grep -q '^426 ' /tmp/ku.ctl
check "KeyUpdate: logged" grep -q "KeyUpdate?) that the kernel's TLS cannot follow" /tmp/ktls.out
check "KeyUpdate: nothing is in place as ku.bin" test ! -e /srv/ku.bin
tr -d '\r' </tmp/ku.ctl | grep '^[2-5]' | tail -n 2 | sed 's/^/guest: KeyUpdate control: /'
grep "TlsRx\|TlsCurrRx\|TlsDecryptError" /proc/net/tls_stat | tr '\n' ' ' | sed 's/^/guest: tls_stat: /'
echo

# ---- CPU per GiB: kTLS against user-space TLS, one short run each ----------------
if grep -q ferry_figures=0 /proc/cmdline; then
	echo "guest: figures skipped (emulated CPU, not KVM: they would mean nothing)"
else
head -c 67108864 /dev/urandom >/srv/perf.bin
ferryd -f /etc/ferry/user.json >/tmp/user.out 2>&1 &
UPID=$!
wait_for 30 grep -q "ftp: listening on" /tmp/user.out
for who in ktls:2121:$KPID user:2122:$UPID; do
	name=${who%%:*}
	rest=${who#*:}
	port=${rest%%:*}
	pid=${rest#*:}
	t0=$(cpu_ticks $pid)
	s0=$(uptime_ms)
	for i in 1 2 3 4; do
		$CURL --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256 -o /dev/null \
			"ftp://alice:@PW@@127.0.0.1:$port/perf.bin" 2>/dev/null || fail "perf $name RETR $i"
	done
	t1=$(cpu_ticks $pid)
	s1=$(uptime_ms)
	echo "guest: figure: $name: 256 MiB TLS 1.3 AES-128-GCM RETR: ferryd CPU $(((t1 - t0) * 10)) ms" \
	     "=> $(((t1 - t0) * 40)) ms/GiB; wall $((s1 - s0)) ms"
done
check "the user-space server counted its downloads as user" test "$(metric 9101 user)" = 4
fi

# ---- stop, sanitizers quiet ---------------------------------------------------
for pid in $KPID ${UPID:-}; do
	kill -TERM $pid
	wait $pid
	rc=$?
	check "ferryd $pid stops on SIGTERM (exit 6, got $rc)" test $rc = 6
done
check "sanitizers quiet" sh -c '! grep -E "AddressSanitizer|LeakSanitizer|runtime error" /tmp/*.out'
}

: >/tmp/results
(main) || fail "the guest's checks ended early (exit $?)"
finish
