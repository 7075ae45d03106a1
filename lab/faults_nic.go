package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The faults that change what link0 is made of (wifi, half-duplex, mtu N) and what
// /sys/class/net says about it. They share one desired state, linkShape, read from the
// host's active faults, so that any mix of them, clear, restart and reinstall all end in
// the same place.

const (
	wifiIface       = "wlp0s20f3"
	sysNetClass     = "/sys/devices/virtual/net/"
	nicRunDir       = "/run/quorate-lab-nic" // inside the host: the sysfs overlays' upper dirs
	nicOverlay      = "quorate-lab-nic"      // their source name in /proc/mounts
	defaultMTU      = 1500
	halfDuplexSpeed = "100" // what a failed autonegotiation falls back to
	minMTU, maxMTU  = 576, 9216
)

// shapeFaults are the fault kinds linkShape covers.
var shapeFaults = []string{"wifi", "half-duplex", "mtu"}

// linkShape is what the faults make of link0.
type linkShape struct {
	wifi       bool // the NIC is Wi-Fi: renamed wlp0s20f3, not a bridge port, holds the address
	halfDuplex bool // the NIC reports half duplex at 100 Mbit/s
	mtu        int  // MTU of the NIC and its bridge; 0 for the default 1500
}

// shapeOf reads the shape from a host's active faults.
func shapeOf(faults []string) linkShape {
	var sh linkShape
	for _, f := range faults {
		kind, arg, _ := strings.Cut(f, " ")
		switch kind {
		case "wifi":
			sh.wifi = true
		case "half-duplex":
			sh.halfDuplex = true
		case "mtu":
			sh.mtu, _ = strconv.Atoi(arg)
		}
	}
	return sh
}

// reshape gives a running host's link0 the shape sh: its sysfs overlays come off (they
// would go on showing a NIC's old name and master), the links change in its network
// namespace, then /etc/network/interfaces is rewritten and the overlays go back on.
func (l *Lab) reshape(ctx context.Context, m *machineState, sh linkShape) error {
	if err := l.consoleOK(ctx, m.Name, "sh", "-c", unmountSysfs); err != nil {
		return err
	}
	if err := relink(ctx, m, sh); err != nil {
		return err
	}
	script := "set -e\ncat > /etc/network/interfaces\n" + sysfsScript(sysfsOverlays(m, sh))
	r, err := l.Exec(ctx, m.Name, strings.NewReader(interfacesFile(m.Links, m.Addrs, sh)), "sh", "-c", script)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("interfaces and sysfs: exit %d: %s", r.Code, strings.TrimSpace(r.Stderr))
	}
	return err
}

// relink changes link0's interfaces in the host's network namespace (which outlives a
// crash) to the shape sh and records the result in m.Links[0].
//
// A Wi-Fi card cannot be a bridge port (the kernel refuses to enslave a station), so
// under wifi the NIC leaves vmbr0, is renamed wlp0s20f3 and takes the address itself;
// vmbr0 stays, without ports, as on a PVE host on Wi-Fi that routes its guests. The
// bridge took its MAC address from its port, so the address keeps its MAC and the
// peers' ARP caches stay right.
func relink(ctx context.Context, m *machineState, sh linkShape) error {
	k := m.Links[0]
	want := linkState{NIC: nicName(m.Role, 0), Bridge: k.Bridge}
	if sh.wifi {
		want.NIC = wifiIface
	}
	addr := m.Addrs[0] + "/24"
	wasPort, isPort := k.addrDev() != k.NIC, want.addrDev() != want.NIC
	var cmds []string
	if wasPort && !isPort {
		cmds = append(cmds, "link set "+k.NIC+" nomaster")
	}
	if k.NIC != want.NIC {
		cmds = append(cmds, "link set "+k.NIC+" down", "link set "+k.NIC+" name "+want.NIC)
	}
	switch {
	case wasPort && !isPort:
		cmds = append(cmds, "addr del "+addr+" dev "+k.Bridge, "addr add "+addr+" dev "+want.NIC)
	case !wasPort && isPort:
		cmds = append(cmds, "addr del "+addr+" dev "+want.NIC, "link set "+want.NIC+" master "+want.Bridge,
			"addr add "+addr+" dev "+want.Bridge)
	}
	mtu := defaultMTU
	if sh.mtu > 0 {
		mtu = sh.mtu
	}
	// The NIC first: a bridge's MTU above its port's may be refused.
	cmds = append(cmds, fmt.Sprintf("link set %s mtu %d up", want.NIC, mtu))
	if want.Bridge != "" {
		cmds = append(cmds, fmt.Sprintf("link set %s mtu %d up", want.Bridge, mtu))
	}
	if err := ipBatch(ctx, m.Netns, cmds); err != nil {
		return err
	}
	m.Links[0] = want
	return nil
}

// sysfsOverlay is an overlay on one interface's sysfs directory (sysfs itself cannot be
// written): entries added or replaced in an upper dir on the host's /run. Reads of every
// other attribute go to sysfs, live.
type sysfsOverlay struct {
	dev    string
	dirs   []string    // directories added: device (a NIC is a device), wireless
	files  [][2]string // attributes replaced: name, content
	hidden []string    // attributes taken away (whiteouts): reading them fails
}

// sysfsOverlays is what the host's /sys/class/net shows beyond the kernel's veths and
// bridges: every NIC has a device/, as a card on a bus has (a veth has none); a Wi-Fi NIC
// has wireless/ and, like a Wi-Fi driver, no speed or duplex to read; a half-duplex NIC
// reads duplex "half" and speed 100, and so does its bridge's speed (a bridge reports
// its fastest port's).
func sysfsOverlays(m *machineState, sh linkShape) []sysfsOverlay {
	if m.Role == RoleController {
		return nil
	}
	var ovs []sysfsOverlay
	for i, k := range m.Links {
		nic := sysfsOverlay{dev: k.NIC, dirs: []string{"device"}}
		if i == 0 {
			if k.wireless() {
				nic.dirs = append(nic.dirs, "wireless")
				if !sh.halfDuplex {
					nic.hidden = []string{"duplex", "speed"}
				}
			}
			if sh.halfDuplex {
				nic.files = [][2]string{{"duplex", "half"}, {"speed", halfDuplexSpeed}}
				if k.addrDev() != k.NIC {
					ovs = append(ovs, sysfsOverlay{dev: k.Bridge, files: [][2]string{{"speed", halfDuplexSpeed}}})
				}
			}
		}
		ovs = append(ovs, nic)
	}
	return ovs
}

// unmountSysfs takes the lab's overlays off the host's sysfs.
const unmountSysfs = `set -e
awk '$1 == "` + nicOverlay + `" { print $2 }' /proc/mounts | while read -r d; do umount "$d"; done
rm -rf ` + nicRunDir + "\n"

// sysfsScript is a shell script that replaces the lab's overlays on the host's sysfs
// with ovs. The host's init runs it at every boot, after /run is mounted.
func sysfsScript(ovs []sysfsOverlay) string {
	var b strings.Builder
	b.WriteString(unmountSysfs)
	for _, o := range ovs {
		dir := nicRunDir + "/" + o.dev
		fmt.Fprintf(&b, "mkdir -p %s/upper %s/work\n", dir, dir)
		for _, d := range o.dirs {
			fmt.Fprintf(&b, "mkdir %s/upper/%s\n", dir, d)
		}
		for _, f := range o.files {
			fmt.Fprintf(&b, "echo %s > %s/upper/%s\n", f[1], dir, f[0])
		}
		for _, h := range o.hidden {
			fmt.Fprintf(&b, "mknod %s/upper/%s c 0 0\n", dir, h)
		}
		fmt.Fprintf(&b, "mount -t overlay %s -o lowerdir=%s,upperdir=%s/upper,workdir=%s/work %s\n",
			nicOverlay, sysNetClass+o.dev, dir, dir, sysNetClass+o.dev)
	}
	return b.String()
}
