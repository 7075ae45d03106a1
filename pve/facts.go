package pve

import (
	"context"
	_ "embed"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

//go:embed facts.sh
var factsScript string

// Facts is everything preflight needs to know about one node, gathered in one round trip.
type Facts struct {
	Hostname  string
	FQDN      string
	NodeName  string // `uname -n` up to the first dot: the name PVE uses
	MachineID string
	// UID and User are who the facts script ran as; UID is -1 when `id` did not say. PVE's
	// tools need root.
	UID  int
	User string
	// RemoteTime is the node's clock when the script ran (zero if unknown).
	RemoteTime time.Time
	// ResolvesTo is what NodeName resolves to on the node (getent ahosts), in resolver order;
	// pmxcfs takes the first address that is not loopback.
	ResolvesTo []netip.Addr
	Interfaces []Interface

	PVEVersion      *ManagerVersion // nil when pveversion is missing or unreadable
	PVEVersionLine  string
	PmxcfsMounted   bool
	Files           ClusterFiles
	CorosyncRunning bool
	// QuorumtoolAnswers is `corosync-quorumtool -l` exiting 0: what pvecm add calls "corosync
	// is already running".
	QuorumtoolAnswers bool
	VMs, CTs          []int
	// PVECorosyncConf and LocalCorosyncConf are the text of /etc/pve/corosync.conf (the
	// cluster's, through pmxcfs) and /etc/corosync/corosync.conf (what corosync runs), "" when
	// absent: which cluster the node is in, and whom its nodelist names.
	PVECorosyncConf, LocalCorosyncConf string
	// Quorum is `corosync-quorumtool -s` while corosync runs; nil when it does not run or its
	// answer was unreadable (QuorumError says why).
	Quorum      *ClusterStatus
	QuorumError string

	Time        TimeSync
	SSHHostKeys []HostKey
	Firewall    Firewall
	// Missing lists the tools that are not installed; their facts are simply absent.
	Missing []string
}

// ClusterFiles are the files whose presence makes a node not fresh (docs/pve.md §2.5a).
type ClusterFiles struct {
	PVECorosyncConf bool // /etc/pve/corosync.conf
	CorosyncAuthkey bool // /etc/corosync/authkey
	CorosyncConf    bool // /etc/corosync/corosync.conf
}

// InterfaceKind is what sort of network interface a name is.
type InterfaceKind string

const (
	KindLoopback InterfaceKind = "loopback"
	KindEthernet InterfaceKind = "ethernet"
	KindWiFi     InterfaceKind = "wifi"
	KindBridge   InterfaceKind = "bridge"
	KindBond     InterfaceKind = "bond"
	KindVLAN     InterfaceKind = "vlan"
	KindVirtual  InterfaceKind = "virtual"
)

// Interface is one network interface of the node.
type Interface struct {
	Name      string
	Kind      InterfaceKind
	MTU       int
	OperState string
	SpeedMbps int    // -1 when the driver does not say
	Duplex    string // "full", "half" or "" when unknown
	// Master is the bridge or bond this interface is enslaved to ("" if none): the speed of
	// vmbr0 is the speed of its port.
	Master string
	// BondMode is a bond's mode as the kernel names it ("802.3ad", "active-backup").
	BondMode string
	// Lower lists the devices a VLAN (or macvlan) interface sits on.
	Lower []string
	Addrs []IfAddr
}

// AddrMethod is how an address is configured, per /etc/network/interfaces.
type AddrMethod string

const (
	MethodStatic  AddrMethod = "static"
	MethodDHCP    AddrMethod = "dhcp"
	MethodManual  AddrMethod = "manual"
	MethodAuto    AddrMethod = "auto" // inet6 SLAAC
	MethodUnknown AddrMethod = "unknown"
)

// IfAddr is one address on an interface.
type IfAddr struct {
	Prefix netip.Prefix
	Method AddrMethod
	// Dynamic is the kernel's "dynamic" flag: the address has a lease (DHCP or SLAAC).
	Dynamic bool
}

// TimeSync is the state of the node's time service.
type TimeSync struct {
	Daemons []string // running among chronyd, ntpd, systemd-timesyncd, ptp4l, phc2sys
	Chrony  *ChronyTracking
	// From timedatectl; nil when timedatectl is missing or did not say.
	NTPEnabled      *bool
	NTPSynchronized *bool
	// NTPDSelected is ntpq showing a selected peer ('*'); nil without ntpq.
	NTPDSelected *bool
}

// ChronyTracking is the part of `chronyc tracking` preflight uses.
type ChronyTracking struct {
	RefID      string
	Stratum    int
	LeapStatus string  // "Normal" when synchronised
	Offset     float64 // seconds the system clock is ahead of NTP time (negative: behind)
}

// Synchronized reports whether any source says the clock is disciplined.
func (t TimeSync) Synchronized() bool {
	if t.Chrony != nil && t.Chrony.LeapStatus == "Normal" {
		return true
	}
	if t.NTPDSelected != nil && *t.NTPDSelected {
		return true
	}
	return t.NTPSynchronized != nil && *t.NTPSynchronized
}

// HostKey is one SSH host key fingerprint, e.g. {ED25519, SHA256:...}.
type HostKey struct {
	Type        string
	Fingerprint string
}

// Firewall is what the node says about packet filtering.
type Firewall struct {
	PVEStatus      string // pve-firewall's first line, e.g. "Status: disabled/running"
	ClusterEnabled *bool  // [OPTIONS] enable of /etc/pve/firewall/cluster.fw, nil if absent
	HostEnabled    *bool  // this node's host.fw, nil if absent; true unless it says enable: 0
	// NftDropRules and IptablesDropRules count drop/reject rules; -1 when the tool is absent.
	NftDropRules      int
	IptablesDropRules int
	// Rules are the rules that drop or reject and the chains whose policy is drop, from
	// `nft list ruleset` and iptables-save (first 200 of each).
	Rules []FirewallRule
}

// Facts gathers the node's facts: the embedded script goes to `sh -s` on stdin, so nothing
// depends on root's login shell or on the length of a command line.
func (n *Node) Facts(ctx context.Context) (Facts, error) {
	res, err := n.run(ctx, remote.Command{Line: "sh -s", Stdin: []byte(factsScript)}, n.timeouts.Facts)
	if err != nil {
		return Facts{}, n.wrap("facts", err)
	}
	f, err := ParseFacts(string(res.Stdout))
	if err != nil {
		return Facts{}, n.wrap("facts", fmt.Errorf("%w (exit status %d, stderr: %s)", err, res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	return f, nil
}

const (
	factsHeader = "quorate-facts v1"
	factsEnd    = "quorate-facts end"
)

// ParseFacts reads the facts block. Anything before the header (a noisy login shell) is
// skipped; keys unknown to this version are ignored so the script can grow; a missing end line
// means the output was cut short.
func ParseFacts(out string) (Facts, error) {
	const format = "facts"
	f := Facts{UID: -1, Firewall: Firewall{NftDropRules: -1, IptablesDropRules: -1}}
	lines := splitLines(out)
	start := -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == factsHeader {
			start = i
			break
		}
		if strings.HasPrefix(t, "quorate-facts v") {
			return Facts{}, &ParseError{Format: format, LineNo: i + 1, Line: l, Reason: "unsupported facts version (want v1)"}
		}
	}
	if start < 0 {
		return Facts{}, &ParseError{Format: format, Reason: "no \"" + factsHeader + "\" line"}
	}
	b := factsBuilder{f: &f, ifaces: map[string]*Interface{}, methods: map[string]AddrMethod{}}
	ended := false
	for i := start + 1; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		if line == factsEnd {
			ended = true
			break
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			b.section = strings.TrimSuffix(strings.TrimPrefix(line, "["), "]")
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || b.section == "" {
			return Facts{}, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "want [SECTION] or KEY=VALUE"}
		}
		if err := b.add(key, val); err != nil {
			return Facts{}, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: err.Error()}
		}
	}
	if !ended {
		return Facts{}, &ParseError{Format: format, Reason: "output ends before \"" + factsEnd + "\" (cut short?)"}
	}
	b.finish()
	return f, nil
}
