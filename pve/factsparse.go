package pve

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// factsBuilder turns the key=value lines of each facts section into Facts.
type factsBuilder struct {
	f       *Facts
	section string
	conf    map[string]*strings.Builder // file path -> its lines
	quorum  *strings.Builder
	ifaces  map[string]*Interface
	order   []string
	sysfs   map[string]map[string]string
	lower   map[string][]string
	addrs   []pendingAddr
	methods map[string]AddrMethod // "vmbr0 inet" -> static
}

type pendingAddr struct {
	iface   string
	addr    IfAddr
	inet6   bool
	dynamic bool
}

func (b *factsBuilder) add(key, val string) error {
	switch {
	case b.section == "host":
		return b.host(key, val)
	case b.section == "resolve" && key == "addr":
		a, err := netip.ParseAddr(val)
		if err != nil {
			return fmt.Errorf("resolved address %q: %v", clip(val, 60), err)
		}
		b.f.ResolvesTo = append(b.f.ResolvesTo, a)
	case b.section == "addresses" && key == "addr":
		return b.address(val)
	case strings.HasPrefix(b.section, "iface "):
		name := strings.TrimPrefix(b.section, "iface ")
		if b.sysfs == nil {
			b.sysfs = map[string]map[string]string{}
		}
		if b.sysfs[name] == nil {
			b.sysfs[name] = map[string]string{}
			b.order = append(b.order, name)
		}
		if key == "lower" {
			if b.lower == nil {
				b.lower = map[string][]string{}
			}
			b.lower[name] = append(b.lower[name], val)
			break
		}
		b.sysfs[name][key] = val
	case b.section == "netconfig" && key == "iface":
		f := strings.Fields(val)
		if len(f) >= 4 && f[0] == "iface" {
			b.methods[f[1]+" "+f[2]] = methodOf(f[3])
		}
	case b.section == "pve":
		return b.pve(key, val)
	case b.section == "time":
		return b.time(key, val)
	case b.section == "ssh" && key == "hostkey":
		typ, fp, ok := strings.Cut(val, " ")
		if !ok {
			return fmt.Errorf("want TYPE FINGERPRINT")
		}
		b.f.SSHHostKeys = append(b.f.SSHHostKeys, HostKey{Type: strings.Trim(typ, "()"), Fingerprint: fp})
	case b.section == "firewall":
		return b.firewall(key, val)
	case strings.HasPrefix(b.section, "file ") && key == "line":
		path := strings.TrimPrefix(b.section, "file ")
		if b.conf == nil {
			b.conf = map[string]*strings.Builder{}
		}
		if b.conf[path] == nil {
			b.conf[path] = &strings.Builder{}
		}
		b.conf[path].WriteString(val + "\n")
	case b.section == "quorum" && key == "line":
		if b.quorum == nil {
			b.quorum = &strings.Builder{}
		}
		b.quorum.WriteString(val + "\n")
	}
	return nil
}

func (b *factsBuilder) host(key, val string) error {
	switch key {
	case "hostname":
		b.f.Hostname = val
	case "fqdn":
		b.f.FQDN = val
	case "nodename":
		b.f.NodeName = val
	case "machine_id":
		b.f.MachineID = val
	case "uid":
		uid, err := strconv.Atoi(val)
		if val != "" && (err != nil || uid < 0) {
			return fmt.Errorf("uid %q is not a number", clip(val, 20))
		}
		if val != "" {
			b.f.UID = uid
		}
	case "user":
		b.f.User = val
	case "missing":
		b.f.Missing = append(b.f.Missing, val)
	case "epoch":
		if val == "" || strings.Contains(val, "N") {
			return nil // date without %N support; the clock check will have to do without
		}
		secs, err := strconv.ParseFloat(val, 64)
		if err != nil || secs < 0 || secs > 1e11 {
			return fmt.Errorf("epoch %q is not a time", clip(val, 40))
		}
		whole, frac := math.Modf(secs)
		b.f.RemoteTime = time.Unix(int64(whole), int64(frac*1e9)).UTC()
	}
	return nil
}

// address reads one `ip -o addr` line: "4: eth0    inet 192.0.2.2/24 brd ... scope global eth0".
func (b *factsBuilder) address(val string) error {
	f := strings.Fields(val)
	if len(f) < 4 {
		return fmt.Errorf("want INDEX: NAME FAMILY ADDRESS")
	}
	name, _, _ := strings.Cut(f[1], "@")
	fam := f[2]
	if fam != "inet" && fam != "inet6" {
		return nil
	}
	p, err := netip.ParsePrefix(f[3])
	if err != nil {
		a, aerr := netip.ParseAddr(f[3])
		if aerr != nil {
			return fmt.Errorf("address %q: %v", clip(f[3], 60), err)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	pa := pendingAddr{iface: name, addr: IfAddr{Prefix: p}, inet6: fam == "inet6"}
	for _, w := range f[4:] {
		if w == "dynamic" {
			pa.dynamic = true
		}
	}
	b.addrs = append(b.addrs, pa)
	return nil
}

func methodOf(word string) AddrMethod {
	switch word {
	case "static":
		return MethodStatic
	case "dhcp":
		return MethodDHCP
	case "manual":
		return MethodManual
	case "auto":
		return MethodAuto
	}
	return MethodUnknown
}

func (b *factsBuilder) pve(key, val string) error {
	switch key {
	case "pveversion":
		b.f.PVEVersionLine = val
		if mv, err := ParseManagerVersion(val); err == nil {
			b.f.PVEVersion = &mv
		}
	case "pmxcfs":
		b.f.PmxcfsMounted = val == "mounted"
	case "file":
		state, path, _ := strings.Cut(val, " ")
		present := state == "present"
		switch path {
		case "/etc/pve/corosync.conf":
			b.f.Files.PVECorosyncConf = present
		case "/etc/corosync/authkey":
			b.f.Files.CorosyncAuthkey = present
		case "/etc/corosync/corosync.conf":
			b.f.Files.CorosyncConf = present
		}
	case "corosync":
		b.f.CorosyncRunning = val == "running"
	case "quorumtool":
		b.f.QuorumtoolAnswers = val == "ok"
	case "vm", "ct":
		id, err := strconv.Atoi(val)
		if err != nil || id < 0 {
			return fmt.Errorf("guest id %q is not a number", clip(val, 20))
		}
		if key == "vm" {
			b.f.VMs = append(b.f.VMs, id)
		} else {
			b.f.CTs = append(b.f.CTs, id)
		}
	}
	return nil
}

func (b *factsBuilder) time(key, val string) error {
	t := &b.f.Time
	boolOf := func(v string) *bool { x := v == "yes"; return &x }
	switch key {
	case "daemon":
		t.Daemons = append(t.Daemons, val)
	case "timedatectl.NTP":
		t.NTPEnabled = boolOf(val)
	case "timedatectl.NTPSynchronized":
		t.NTPSynchronized = boolOf(val)
	case "ntpq_selected":
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("ntpq_selected %q is not a number", clip(val, 20))
		}
		sel := n > 0
		t.NTPDSelected = &sel
	}
	field, ok := strings.CutPrefix(key, "chrony.")
	if !ok {
		return nil
	}
	if t.Chrony == nil {
		t.Chrony = &ChronyTracking{}
	}
	switch field {
	case "Reference ID":
		t.Chrony.RefID = val
	case "Stratum":
		t.Chrony.Stratum, _ = strconv.Atoi(val)
	case "Leap status":
		t.Chrony.LeapStatus = val
	case "System time":
		// "0.000012345 seconds fast of NTP time" or "... slow of NTP time"
		f := strings.Fields(val)
		if len(f) >= 3 {
			secs, err := strconv.ParseFloat(f[0], 64)
			if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
				return fmt.Errorf("chrony system time %q is not a number", clip(f[0], 30))
			}
			if f[2] == "slow" {
				secs = -secs
			}
			t.Chrony.Offset = secs
		}
	}
	return nil
}

func (b *factsBuilder) firewall(key, val string) error {
	fw := &b.f.Firewall
	switch key {
	case "pve_firewall":
		fw.PVEStatus = val
	case "enable":
		// pve-firewall (src/PVE/Firewall.pm): the cluster firewall is off unless enabled, the
		// host rules are on unless "enable: 0" says otherwise.
		path, v, _ := strings.Cut(val, " ")
		if strings.HasSuffix(path, "/cluster.fw") {
			on := v == "1"
			fw.ClusterEnabled = &on
		} else {
			on := v != "0"
			fw.HostEnabled = &on
		}
	case "rule", "policy":
		r, err := parseFirewallRule(val, key == "policy")
		if err != nil {
			return err
		}
		fw.Rules = append(fw.Rules, r)
	case "nft_drop_rules", "iptables_drop_rules":
		n, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("%s %q is not a number", key, clip(val, 20))
		}
		if key == "nft_drop_rules" {
			fw.NftDropRules = n
		} else {
			fw.IptablesDropRules = n
		}
	}
	return nil
}

// finish builds the interfaces from their sysfs attributes and addresses.
func (b *factsBuilder) finish() {
	get := func(name string) *Interface {
		if i := b.ifaces[name]; i != nil {
			return i
		}
		i := &Interface{Name: name, Kind: KindVirtual, SpeedMbps: -1}
		b.ifaces[name] = i
		b.order = appendUnique(b.order, name)
		return i
	}
	for name, attrs := range b.sysfs {
		i := get(name)
		i.MTU, _ = strconv.Atoi(attrs["mtu"])
		i.OperState = attrs["operstate"]
		if s, err := strconv.Atoi(attrs["speed"]); err == nil && s > 0 {
			i.SpeedMbps = s
		}
		if d := attrs["duplex"]; d == "full" || d == "half" {
			i.Duplex = d
		}
		i.Kind = kindOf(attrs)
		i.Master = attrs["master"]
		if f := strings.Fields(attrs["bond_mode"]); len(f) > 0 {
			i.BondMode = f[0] // "802.3ad 4"
		}
		i.Lower = b.lower[name]
	}
	for _, pa := range b.addrs {
		i := get(pa.iface)
		fam := "inet"
		if pa.inet6 {
			fam = "inet6"
		}
		a := pa.addr
		a.Dynamic = pa.dynamic
		a.Method = b.methods[pa.iface+" "+fam]
		if a.Method == "" || a.Method == MethodUnknown {
			switch {
			case pa.dynamic && !pa.inet6:
				a.Method = MethodDHCP
			case pa.inet6 && (pa.dynamic || a.Prefix.Addr().IsLinkLocalUnicast()):
				a.Method = MethodAuto
			case a.Prefix.Addr().IsLoopback():
				a.Method = MethodStatic
			default:
				a.Method = MethodUnknown
			}
		}
		i.Addrs = append(i.Addrs, a)
	}
	sort.Strings(b.order)
	for _, name := range b.order {
		b.f.Interfaces = append(b.f.Interfaces, *b.ifaces[name])
	}
	sort.Ints(b.f.VMs)
	sort.Ints(b.f.CTs)
	if c := b.conf["/etc/pve/corosync.conf"]; c != nil {
		b.f.PVECorosyncConf = c.String()
	}
	if c := b.conf["/etc/corosync/corosync.conf"]; c != nil {
		b.f.LocalCorosyncConf = c.String()
	}
	if b.quorum != nil {
		st, err := ParseQuorumStatus(b.quorum.String())
		if err != nil {
			b.f.QuorumError = strings.Join(lastLines(b.quorum.String(), 2), " / ")
		} else {
			b.f.Quorum = &st
		}
	}
}

func kindOf(attrs map[string]string) InterfaceKind {
	switch {
	case attrs["type"] == "772":
		return KindLoopback
	case attrs["wireless"] == "1":
		return KindWiFi
	case attrs["bridge"] == "1":
		return KindBridge
	case attrs["bond"] == "1":
		return KindBond
	case attrs["vlan"] == "1":
		return KindVLAN
	case attrs["physical"] == "1" && attrs["type"] == "1":
		return KindEthernet
	}
	return KindVirtual
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Addresses returns every address on the node's interfaces.
func (f Facts) Addresses() []netip.Addr {
	var out []netip.Addr
	for _, i := range f.Interfaces {
		for _, a := range i.Addrs {
			out = append(out, a.Prefix.Addr())
		}
	}
	return out
}

// HasAddress reports whether a is configured on one of the node's interfaces, the test
// pvecm add makes for the node's own address and every link address (docs/pve.md §2.5a).
func (f Facts) HasAddress(a netip.Addr) bool {
	for _, x := range f.Addresses() {
		if x == a.Unmap() || x.Unmap() == a.Unmap() {
			return true
		}
	}
	return false
}

// PrimaryAddress is the first non-loopback address NodeName resolves to: the address pmxcfs
// and pvecm use for this node (docs/pve.md §6.2). ok is false when there is none.
func (f Facts) PrimaryAddress() (netip.Addr, bool) {
	for _, a := range f.ResolvesTo {
		if !a.IsLoopback() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// ClusterConf parses the node's corosync.conf: /etc/pve/corosync.conf, the cluster's, when
// there is one, else /etc/corosync/corosync.conf (a half-joined node has only that). nil and
// no error when there is neither.
func (f Facts) ClusterConf() (*CorosyncConf, error) {
	text := f.PVECorosyncConf
	if text == "" {
		text = f.LocalCorosyncConf
	}
	if text == "" {
		return nil, nil
	}
	return ParseCorosyncConf([]byte(text))
}
