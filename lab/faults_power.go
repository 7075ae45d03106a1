package lab

import (
	"context"
	"strings"
)

// The nft tables of a powered-off host: a crashed machine answers nothing, not even
// ARP, so peers see timeouts as with real hardware, not refused connections.
const powerOffTable = "qlab_power_off"

const powerOffRules = `table inet qlab_power_off {
  chain input { type filter hook input priority -100; policy drop; }
  chain output { type filter hook output priority -100; policy drop; }
}
table arp qlab_power_off {
  chain input { type filter hook input priority -100; policy drop; }
  chain output { type filter hook output priority -100; policy drop; }
}
`

// crash kills every process of the host (SIGKILL of its PID 1) and silences its
// network namespace, which outlives the processes.
func crash(ctx context.Context, m *machineState) error {
	if err := m.Init.kill(ctx); err != nil {
		return err
	}
	if err := powerOn(ctx, m); err != nil { // no duplicate tables when crashed twice
		return err
	}
	_, err := run(ctx, strings.NewReader(powerOffRules), "ip", "netns", "exec", m.Netns, "nft", "-f", "-")
	return err
}

// powerOn lifts the silence of a crashed host before it boots again.
func powerOn(ctx context.Context, m *machineState) error {
	script := `for f in inet arp; do
  if nft list table $f ` + powerOffTable + ` >/dev/null 2>&1; then nft delete table $f ` + powerOffTable + ` || exit 1; fi
done`
	_, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "sh", "-c", script)
	return err
}
