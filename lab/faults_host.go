package lab

import (
	"context"
	"fmt"
	"strings"
)

// reloadSSHD sends sshd SIGHUP and waits until it listens again on a new socket
// (sshd re-executes itself on SIGHUP; a login in between would be refused).
const reloadSSHD = `ino() { ss -Hltne 'sport = :22' | grep -o 'ino:[0-9]*' | sort | head -n1; }
old=$(ino); kill -HUP "$(cat /run/sshd.pid)" || exit 1
i=0; while [ $i -lt 500 ]; do new=$(ino); [ -n "$new" ] && [ "$new" != "$old" ] && exit 0; i=$((i+1)); sleep 0.01; done
echo "sshd did not come back after SIGHUP" >&2; exit 1`

// skew shifts the clock that SSH sessions see, by libfaketime through sshd's SetEnv:
// CLOCK_REALTIME is global (time namespaces cannot offset it), and libfaketime in
// /etc/ld.so.preload breaks sshd's sandbox. The offset lives in the host's own
// /etc/faketimerc, which libfaketime re-reads every second.
func (l *Lab) skew(ctx context.Context, m *machineState, secs int) error {
	script := fmt.Sprintf(`set -e
printf '%%+d\n' %d > %s
if [ ! -e %s ]; then
  printf 'SetEnv LD_PRELOAD=%s FAKETIME_CACHE_DURATION=1\n' > %s
  %s
fi`, secs, faketimerc, skewDropin, libfaketime, skewDropin, reloadSSHD)
	return l.consoleOK(ctx, m.Name, "sh", "-c", script)
}

// writeHosts rewrites the host's /etc/hosts as the installer writes it, with its own
// name mapped to mapSelf instead of its address when mapSelf is set.
func (l *Lab) writeHosts(ctx context.Context, s *state, m *machineState, mapSelf string) error {
	hosts := make([]Host, len(s.Machines))
	for i, x := range s.Machines {
		hosts[i] = x.Host
	}
	r, err := l.Exec(ctx, m.Name, strings.NewReader(hostsFile(m.Host, hosts, mapSelf)), "sh", "-c", "cat > /etc/hosts")
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("write /etc/hosts: %s", r.Stderr)
	}
	return err
}
