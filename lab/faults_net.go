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

func clearNft(ctx context.Context, m *machineState) error {
	out, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "nft", "list", "tables")
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line) // table inet qlab_x
		if len(f) == 3 && strings.HasPrefix(f[2], "qlab_") {
			fmt.Fprintf(&b, "delete table %s %s\n", f[1], f[2])
		}
	}
	if b.Len() == 0 {
		return nil
	}
	_, err = run(ctx, strings.NewReader(b.String()), "ip", "netns", "exec", m.Netns, "nft", "-f", "-")
	return err
}

// rateFault shapes the host's egress on every link with a token bucket (tbf is built
// into this kernel; netem is not).
func rateFault(ctx context.Context, m *machineState, kbit int) error {
	burst := max(4096, kbit*3) // above rate/HZ for any HZ, or tbf drops everything
	for _, ifc := range m.Ifaces {
		if _, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "tc", "qdisc", "replace", "dev", ifc, "root",
			"tbf", "rate", fmt.Sprintf("%dkbit", kbit), "burst", fmt.Sprint(burst), "latency", "400ms"); err != nil {
			return err
		}
	}
	return nil
}

func clearRate(ctx context.Context, m *machineState) error {
	for _, ifc := range m.Ifaces {
		out, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "tc", "qdisc", "show", "dev", ifc, "root")
		if err != nil {
			return err
		}
		if strings.Contains(out, "tbf") {
			if _, err := run(ctx, nil, "ip", "netns", "exec", m.Netns, "tc", "qdisc", "del", "dev", ifc, "root"); err != nil {
				return err
			}
		}
	}
	return nil
}
