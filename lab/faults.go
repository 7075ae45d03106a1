package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Fault kinds the lab implements itself; pvesimFaults are passed to `pvesim fault`.
var (
	labFaults    = []string{"udp-drop", "port-drop", "loss", "delay", "rate", "skew", "hosts-loopback", "hosts-foreign", "noisy-bashrc", "wifi", "half-duplex", "mtu", "reinstall", "crash", "restart"}
	pvesimFaults = []string{"guests", "foreign-cluster", "half-joined", "pveversion"}
)

// Fault injects a fault on a host (not the controller). Kinds and arguments:
//
//	udp-drop            drop corosync UDP 5405-5412, in and out
//	port-drop PORT      drop TCP to PORT, in and out (e.g. 8006, 22)
//	loss PCT            drop PCT % of the host's IP packets, in and out
//	delay MS [JITTER]   delay every frame MS ms (± JITTER) each way, on every link
//	rate KBIT           limit the host's egress to KBIT kbit/s
//	skew SECONDS        shift the clock of SSH sessions (libfaketime), e.g. 300 or -90
//	hosts-loopback      /etc/hosts maps the hostname to 127.0.1.1
//	hosts-foreign       /etc/hosts maps the hostname to an address not on the host
//	noisy-bashrc        root's .bashrc prints text, also on non-interactive logins
//	wifi                link0's NIC leaves vmbr0, is renamed wlp0s20f3, holds the address and looks wireless in /sys
//	half-duplex         link0's NIC reads duplex half and speed 100 in /sys
//	mtu N               link0's NIC and bridge get MTU N (576-9216)
//	reinstall           fresh install: new host keys, machine-id, empty /etc /root /var changes
//	crash               every process of the host dies (SIGKILL of its PID 1)
//	restart             boot a crashed host again with its files as they were
//	guests, foreign-cluster, half-joined, pveversion VERSION: by `pvesim fault`
func (l *Lab) Fault(ctx context.Context, host, kind string, args ...string) error {
	if kind == "clear" {
		return l.Clear(ctx, host)
	}
	if !slices.Contains(labFaults, kind) && !slices.Contains(pvesimFaults, kind) {
		return fmt.Errorf("lab %s: unknown fault %q (known: %s, %s, clear)", l.name, kind,
			strings.Join(labFaults, ", "), strings.Join(pvesimFaults, ", "))
	}
	return l.update(func(s *state) error {
		m, err := s.faultTarget(host)
		if err != nil {
			return err
		}
		if err := l.applyFault(ctx, s, m, kind, args); err != nil {
			return fmt.Errorf("lab %s: %s: fault %s: %w", l.name, host, kind, err)
		}
		switch kind {
		case "reinstall":
			m.Faults = nil
		case "restart":
			m.Faults = slices.DeleteFunc(m.Faults, func(f string) bool { return f == "crash" })
		default:
			// A fault given again, or a new setting of one that has a single setting,
			// replaces the one recorded.
			f := strings.TrimSpace(kind + " " + strings.Join(args, " "))
			m.Faults = append(slices.DeleteFunc(m.Faults, func(x string) bool {
				return x == f || slices.Contains(oneSetting, kind) && strings.HasPrefix(x, kind+" ")
			}), f)
		}
		return nil
	})
}

// oneSetting are the kinds of which a host has one at a time: "mtu 9000" replaces "mtu 1400".
var oneSetting = []string{"loss", "delay", "rate", "skew", "mtu", "pveversion"}

func (l *Lab) applyFault(ctx context.Context, s *state, m *machineState, kind string, args []string) error {
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("needs %d argument(s)", n)
		}
		return nil
	}
	num := func(i int, lo, hi int) (int, error) {
		v, err := strconv.Atoi(args[i])
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("argument %q: want a whole number from %d to %d", args[i], lo, hi)
		}
		return v, nil
	}
	if slices.Contains(pvesimFaults, kind) {
		return l.consoleOK(ctx, m.Name, append([]string{"/usr/local/sbin/pvesim", "fault", kind}, args...)...)
	}
	switch kind {
	case "udp-drop":
		return nftFault(ctx, m, "qlab_udp_drop",
			"udp dport 5405-5412 drop", "udp sport 5405-5412 drop")
	case "port-drop":
		if err := need(1); err != nil {
			return err
		}
		p, err := num(0, 1, 65535)
		if err != nil {
			return err
		}
		return nftFault(ctx, m, fmt.Sprintf("qlab_port_%d", p), fmt.Sprintf("tcp dport %d drop", p))
	case "loss":
		if err := need(1); err != nil {
			return err
		}
		pct, err := num(0, 0, 100)
		if err != nil {
			return err
		}
		return nftFault(ctx, m, "qlab_loss", fmt.Sprintf("meta nfproto ipv4 numgen random mod 100 < %d drop", pct))
	case "rate":
		if err := need(1); err != nil {
			return err
		}
		kbit, err := num(0, 8, 10_000_000)
		if err != nil {
			return err
		}
		return rateFault(ctx, m, kbit)
	case "delay":
		if err := need(1); err != nil {
			return err
		}
		ms, err := num(0, 0, 60_000)
		if err != nil {
			return err
		}
		jitter := 0
		if len(args) > 1 {
			if jitter, err = num(1, 0, 60_000); err != nil {
				return err
			}
		}
		return l.startRelay(ctx, s, m, ms, jitter)
	case "skew":
		if err := need(1); err != nil {
			return err
		}
		secs, err := num(0, -10*365*86400, 10*365*86400)
		if err != nil {
			return err
		}
		return l.skew(ctx, m, secs)
	case "hosts-loopback":
		return l.writeHosts(ctx, s, m, loopbackAddr)
	case "hosts-foreign":
		return l.writeHosts(ctx, s, m, foreignAddr)
	case "noisy-bashrc":
		return l.consoleOK(ctx, m.Name, "sh", "-c", fmt.Sprintf(
			`grep -qF 'quorate-lab noisy-bashrc' %[1]s 2>/dev/null || { { printf '%%s\n' '%[2]s'; cat %[1]s; } > %[1]s.new && mv %[1]s.new %[1]s; }`,
			rootBashrc, noisyBashrcLine))
	case "wifi", "half-duplex", "mtu":
		sh := shapeOf(m.Faults)
		switch kind {
		case "wifi":
			sh.wifi = true
		case "half-duplex":
			sh.halfDuplex = true
		case "mtu":
			if err := need(1); err != nil {
				return err
			}
			v, err := num(0, minMTU, maxMTU)
			if err != nil {
				return err
			}
			sh.mtu = v
		}
		return l.reshape(ctx, m, sh)
	case "crash":
		return crash(ctx, m)
	case "restart":
		return l.restart(ctx, s, m)
	case "reinstall":
		return l.reinstall(ctx, s, m)
	}
	return fmt.Errorf("not implemented")
}

// Clear undoes every fault on the host except reinstall and crash.
func (l *Lab) Clear(ctx context.Context, host string) error {
	return l.update(func(s *state) error {
		m, err := s.faultTarget(host)
		if err != nil {
			return err
		}
		active := func(prefix string) bool {
			return slices.ContainsFunc(m.Faults, func(f string) bool { return strings.HasPrefix(f, prefix) })
		}
		errs := []error{clearNetwork(ctx, m), l.stopRelay(ctx, s, m)}
		if m.Init.alive() {
			if active("hosts-") {
				errs = append(errs, l.writeHosts(ctx, s, m, ""))
			}
			if slices.ContainsFunc(shapeFaults, active) {
				errs = append(errs, l.reshape(ctx, m, linkShape{}))
			}
			// One console call for the rest: skew, .bashrc, pvesim's own faults.
			errs = append(errs, l.consoleOK(ctx, m.Name, "sh", "-c", fmt.Sprintf(`rc=0
rm -f %[1]s
if [ -e %[2]s ]; then rm -f %[2]s; ( %[3]s ) || rc=1; fi
sed -i '/quorate-lab noisy-bashrc/d' %[4]s || rc=1
/usr/local/sbin/pvesim fault clear || rc=1
exit $rc`, faketimerc, skewDropin, reloadSSHD, rootBashrc)))
		} else {
			for _, kind := range []string{"skew", "hosts-", "noisy-bashrc", "wifi", "half-duplex", "mtu", "guests", "foreign-cluster", "half-joined", "pveversion"} {
				if active(kind) {
					errs = append(errs, fmt.Errorf("%s is down: restart it to clear %s", host, kind))
				}
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("lab %s: %s: clear: %w", l.name, host, err)
		}
		m.Faults = slices.DeleteFunc(m.Faults, func(f string) bool { return f != "crash" })
		return nil
	})
}

// consoleOK runs argv on the host's console and wants exit 0.
func (l *Lab) consoleOK(ctx context.Context, host string, argv ...string) error {
	r, err := l.Exec(ctx, host, nil, argv...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("%s: exit %d: %s", strings.Join(argv, " "), r.Code, strings.TrimSpace(r.Stderr+r.Stdout))
	}
	return nil
}
