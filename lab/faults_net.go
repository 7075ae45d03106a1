package lab

import (
	"context"
	"fmt"
	"strings"
)

// nftFault puts rules, each applied to traffic in and out, in a table of their own in
// the host's network namespace. It works on a crashed host too: the namespace stays.
func nftFault(ctx context.Context, m *machineState, table string, rules ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", table, table, table)
	for _, hook := range []string{"input", "output"} {
		fmt.Fprintf(&b, "  chain %s {\n    type filter hook %s priority -10; policy accept;\n", hook, hook)
		for _, r := range rules {
			fmt.Fprintf(&b, "    %s\n", r)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	_, err := run(ctx, strings.NewReader(b.String()), "ip", "netns", "exec", m.Netns, "nft", "-f", "-")
	return err
}

// rateFault shapes the host's egress on every link with a token bucket (tbf is built
// into this kernel; netem is not), on the NIC: what leaves by vmbr0 is queued there.
func rateFault(ctx context.Context, m *machineState, kbit int) error {
	burst := max(4096, kbit*3) // above rate/HZ for any HZ, or tbf drops everything
	for _, k := range m.Links {
		if _, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "tc", "qdisc", "replace", "dev", k.NIC, "root",
			"tbf", "rate", fmt.Sprintf("%dkbit", kbit), "burst", fmt.Sprint(burst), "latency", "400ms"); err != nil {
			return err
		}
	}
	return nil
}

// clearNetwork removes the lab's nft tables and tbf qdiscs from the host's network
// namespace in one call (it works on a crashed host: the namespace stays).
func clearNetwork(ctx context.Context, m *machineState) error {
	script := `nft list tables | awk '$3 ~ /^qlab_/ && $3 != "qlab_power_off" { print "delete table", $2, $3 }' > /tmp/.qlab-nft || exit 1
[ -s /tmp/.qlab-nft ] && { nft -f /tmp/.qlab-nft || exit 1; }
for i in "$@"; do
  if tc qdisc show dev "$i" root | grep -q tbf; then tc qdisc del dev "$i" root || exit 1; fi
done`
	script = strings.ReplaceAll(script, "/tmp/.qlab-nft", "\"$T\"")
	script = "T=$(mktemp) || exit 1; trap 'rm -f \"$T\"' EXIT\n" + script
	args := []string{"netns", "exec", m.Netns, "sh", "-c", script, "clear"}
	for _, k := range m.Links {
		args = append(args, k.NIC)
	}
	_, err := run(ctx, nil, "ip", args...)
	return err
}
