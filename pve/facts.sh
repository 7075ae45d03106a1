# quorate facts v1: everything preflight needs from one node, in one round trip.
# Run as `sh -s` with this script on stdin. POSIX sh only; every tool may be missing.
# Output: a header line, [section] lines, key=value lines (keys may repeat), an end line.
# A tool that is absent is reported as "missing=<tool>", never as a failure.
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
cd / || exit 1

# Each fork costs about a millisecond, and a node's facts are on the critical path of every
# run: values are read with the shell's own read and parameter expansion where it can.
nl='
'
cr=$(printf '\r')
have() { command -v "$1" >/dev/null 2>&1; }
first() { head -n 1 2>/dev/null | tr -d '\r'; }
kv() { printf '%s=%s\n' "$1" "$2"; }
need() { have "$1" || kv missing "$1"; }
# out KEY CMD...: the first line of CMD's output as KEY (one fork, no pipe).
out() { k=$1; shift; v=$("$@" 2>/dev/null); v=${v%%"$nl"*}; kv "$k" "${v%"$cr"}"; }
# attr KEY FILE: the first line of FILE (a sysfs attribute) as KEY, "" if unreadable.
attr() { v=; { read -r v < "$2"; } 2>/dev/null; kv "$1" "$v"; }
# The names of the running processes, from /proc without a fork; running NAME tests one
# (the kernel keeps 15 characters of a name: systemd-timesyncd is systemd-timesyn).
procs=" "
for c in /proc/[0-9]*/comm; do
	p=; { read -r p < "$c"; } 2>/dev/null && procs="$procs$p "
done
running() { case $procs in *" $1 "*) return 0 ;; esac; return 1; }

echo "quorate-facts v1"

echo "[host]"
out hostname hostname
out fqdn hostname -f
out uname_n uname -n
node=${v%%.*}
attr machine_id /etc/machine-id
out epoch date +%s.%N
kv nodename "$node"
out uid id -u
out user id -un
for tool in getent ip pveversion pvecm chronyc timedatectl ssh-keygen pve-firewall corosync-quorumtool perl; do
	need "$tool"
done

echo "[resolve]"
if have getent; then
	getent ahosts "$node" 2>/dev/null | awk '!seen[$1]++ { print "addr=" $1 }'
fi

echo "[addresses]"
if have ip; then
	ip -o addr show 2>/dev/null | sed 's/\\.*$//' | awk '{ print "addr=" $0 }'
fi

for dev in /sys/class/net/*; do
	[ -e "$dev" ] || continue
	name=${dev##*/}
	echo "[iface $name]"
	attr mtu "$dev/mtu"
	attr type "$dev/type"
	attr operstate "$dev/operstate"
	attr speed "$dev/speed"
	attr duplex "$dev/duplex"
	if [ -d "$dev/wireless" ] || [ -e "$dev/phy80211" ]; then kv wireless 1; else kv wireless 0; fi
	if [ -d "$dev/bridge" ]; then kv bridge 1; fi
	if [ -d "$dev/bonding" ]; then kv bond 1; attr bond_mode "$dev/bonding/mode"; fi
	if [ -e "/proc/net/vlan/$name" ]; then kv vlan 1; fi
	for l in "$dev"/lower_*; do [ -e "$l" ] && kv lower "${l##*/lower_}"; done
	if [ -e "$dev/device" ]; then kv physical 1; else kv physical 0; fi
	if [ -L "$dev/master" ]; then m=$(readlink "$dev/master"); kv master "${m##*/}"; fi
done

echo "[netconfig]"
for f in /etc/network/interfaces /etc/network/interfaces.d/*; do
	[ -f "$f" ] || continue
	grep -E '^[[:space:]]*iface[[:space:]]' "$f" 2>/dev/null | awk '{ $1 = $1; print "iface=" $0 }'
done

echo "[pve]"
if have pveversion; then out pveversion pveversion; fi
if grep -qs ' /etc/pve ' /proc/mounts; then kv pmxcfs mounted; else kv pmxcfs unmounted; fi
for f in /etc/pve/corosync.conf /etc/corosync/authkey /etc/corosync/corosync.conf; do
	if [ -e "$f" ]; then kv file "present $f"; else kv file "absent $f"; fi
done
if running corosync; then kv corosync running; else kv corosync stopped; fi
# A wedged corosync must not hold the facts up: its tool gets 5 s where timeout(1) exists.
q=corosync-quorumtool
if have timeout; then q="timeout 5 corosync-quorumtool"; fi
if have corosync-quorumtool; then
	if $q -l >/dev/null 2>&1; then kv quorumtool ok; else kv quorumtool fail; fi
fi
# The cluster this node belongs to, and the state of its quorum, as corosync sees them.
for f in /etc/pve/corosync.conf /etc/corosync/corosync.conf; do
	[ -f "$f" ] || continue
	echo "[file $f]"
	head -c 65536 "$f" 2>/dev/null | sed 's/^/line=/'
	echo
	echo "[pve]"
done
if have corosync-quorumtool && running corosync; then
	echo "[quorum]"
	$q -s 2>&1 | head -n 100 | sed 's/^/line=/'
	echo
	echo "[pve]"
fi
for f in /etc/pve/nodes/*/qemu-server/*.conf; do [ -e "$f" ] && { g=${f##*/}; kv vm "${g%.conf}"; }; done
for f in /etc/pve/nodes/*/lxc/*.conf; do [ -e "$f" ] && { g=${f##*/}; kv ct "${g%.conf}"; }; done

echo "[time]"
if have chronyc; then
	chronyc -n tracking 2>/dev/null | awk -F' : ' 'NF == 2 { gsub(/ +$/, "", $1); print "chrony." $1 "=" $2 }'
fi
if have timedatectl; then
	timedatectl show 2>/dev/null | grep -E '^(NTP|NTPSynchronized|CanNTP|Timezone)=' | sed 's/^/timedatectl./'
fi
if have ntpq; then kv ntpq_selected "$(ntpq -pn 2>/dev/null | grep -c '^\*')"; fi
for d in chronyd ntpd systemd-timesyncd ptp4l phc2sys; do
	c=$d; [ "$d" = systemd-timesyncd ] && c=systemd-timesyn
	if running "$c"; then kv daemon "$d"; fi
done

echo "[ssh]"
if have ssh-keygen; then
	for f in /etc/ssh/ssh_host_*_key.pub; do
		[ -f "$f" ] && ssh-keygen -l -f "$f" 2>/dev/null
	done | awk '{ print "hostkey=" $NF " " $2 }'
fi

echo "[firewall]"
if have pve-firewall; then out pve_firewall pve-firewall status; fi
for f in /etc/pve/firewall/cluster.fw "/etc/pve/nodes/$node/host.fw"; do
	[ -f "$f" ] || continue
	kv enable "$f $(awk -F: '/^\[/ { s = $0 } s == "[OPTIONS]" && $1 ~ /^[[:space:]]*enable[[:space:]]*$/ { gsub(/[[:space:]]/, "", $2); print $2 }' "$f" | first)"
done
# Counts of rules that drop or reject: a hint that corosync or 8006 may be filtered.
if have iptables; then kv iptables_drop_rules "$(iptables -S 2>/dev/null | grep -c -E '(DROP|REJECT)')"; fi
# The rules themselves that drop or reject, and drop policies, each as TOOL TABLE CHAIN HOOK
# TEXT: preflight names the one that matches a port the probes found blocked.
if have nft; then
	nft list ruleset 2>/dev/null | awk '
		$1 == "table" { table = $2 "/" $3 }
		$1 == "chain" { chain = $2; hook = "-" }
		/type filter hook/ { for (i = 1; i <= NF; i++) if ($i == "hook") hook = $(i + 1)
			if ($0 ~ /policy drop/) print "policy=nft " table " " chain " " hook " drop"; next }
		/(^|[[:space:]])(drop|reject)([[:space:]]|;|$)/ { $1 = $1; if (n++ < 200) print "rule=nft " table " " chain " " hook " " $0 }
		END { print "nft_drop_rules=" n + 0 }
	'
fi
for t in iptables-save ip6tables-save; do
	have "$t" || continue
	fam=ip; [ "$t" = ip6tables-save ] && fam=ip6
	"$t" -t filter 2>/dev/null | awk -v fam="$fam" '
		/^:/ && $2 == "DROP" { print "policy=iptables " fam "/filter " substr($1, 2) " - drop" }
		/^-A / && / -j (DROP|REJECT)/ { print "rule=iptables " fam "/filter " $2 " - " $0 }
	' | head -n 200
done

echo "quorate-facts end"
