# quorate health v1: what doctor and report need from a cluster member beyond its facts, in one
# round trip (the QDevice daemon's own state is pve.Node.QDeviceState). Run as `sh -s` with this script on stdin. POSIX sh only; every tool may be
# missing. Output: a header line, [section] lines, key=value lines, file content as "|" lines,
# an end line (without it the output was cut short).
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
cd / || exit 1
have() { command -v "$1" >/dev/null 2>&1; }
kv() { printf '%s=%s\n' "$1" "$2"; }
# quote FILE: every line of FILE prefixed with "|", a last line without newline included.
quote() { while IFS= read -r l || [ -n "$l" ]; do printf '|%s\n' "$l"; done < "$1"; }
# A member whose corosync hangs must not hang the run: corosync's tools get 5 s each.
t=; if have timeout; then t="timeout 5"; fi

echo "quorate-health v1"

echo "[services]"
if have systemctl; then
	for u in corosync pve-cluster; do
		s=$(systemctl is-active "$u" 2>/dev/null)
		kv unit "$u ${s%%"
"*}"
	done
else
	kv missing systemctl
fi

echo "[runtime]"
if have corosync-cmapctl; then
	kv cmap "$($t corosync-cmapctl -g totem.config_version 2>&1)"
else
	kv missing corosync-cmapctl
fi

for f in storage.cfg datacenter.cfg ha/resources.cfg ceph.conf; do
	echo "[file $f]"
	if [ -f "/etc/pve/$f" ]; then
		kv exists 1
		quote "/etc/pve/$f"
	else
		kv exists 0
	fi
done

echo "quorate-health end"
