package lab

import (
	"context"
	"fmt"
)

// buildNetwork makes the bridge namespace and every machine's namespace, wired from
// inside the bridge namespace so that nothing is created in the root namespace.
func buildNetwork(ctx context.Context, s *state) error {
	br := bridgeNetns(s.Name)
	all := []string{br}
	for _, m := range s.Machines {
		all = append(all, m.Netns)
	}
	for _, ns := range all {
		if _, err := run(ctx, nil, "ip", "netns", "add", ns); err != nil {
			return err
		}
		s.Netns = append(s.Netns, ns)
		// No IPv6: lab traffic stays in the two documentation ranges.
		if _, err := run(ctx, nil, "ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
			return err
		}
	}
	if err := s.save(); err != nil {
		return err
	}
	brCmds := []string{"link set lo up"}
	for l := 0; l < s.Links; l++ {
		brCmds = append(brCmds,
			fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0", bridgeName(l)),
			fmt.Sprintf("link set %s up", bridgeName(l)))
	}
	for _, m := range s.Machines {
		for l := 0; l < s.Links; l++ {
			brCmds = append(brCmds,
				fmt.Sprintf("link add %s type veth peer name %s netns %s", portName(m.Name, l), m.Links[l].NIC, m.Netns),
				fmt.Sprintf("link set %s master %s up", portName(m.Name, l), bridgeName(l)))
		}
	}
	if err := ipBatch(ctx, br, brCmds); err != nil {
		return fmt.Errorf("lab %s: bridge: %w", s.Name, err)
	}
	// On a PVE host each link's NIC is the port of a bridge that holds the address, as
	// the installer sets up vmbr0 (STP off, forward delay 0: the port forwards at once).
	for _, m := range s.Machines {
		cmds := []string{"link set lo up"}
		for l, a := range m.Addrs {
			k := m.Links[l]
			if k.Bridge != "" {
				cmds = append(cmds,
					fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0", k.Bridge),
					fmt.Sprintf("link set %s master %s", k.NIC, k.Bridge),
					fmt.Sprintf("link set %s up", k.Bridge))
			}
			cmds = append(cmds, fmt.Sprintf("addr add %s/24 dev %s", a, k.addrDev()),
				fmt.Sprintf("link set %s up", k.NIC))
		}
		if err := ipBatch(ctx, m.Netns, cmds); err != nil {
			return fmt.Errorf("lab %s: %s: network: %w", s.Name, m.Name, err)
		}
	}
	return nil
}
