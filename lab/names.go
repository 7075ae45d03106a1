package lab

import (
	"fmt"
	"regexp"
)

// Address plan (CONTRACT.md): link0 in 198.51.100.0/24, link1 in 203.0.113.0/24. The
// machine's own uplink is in 192.0.2.0/24, which the lab never uses.
const (
	link0Net     = "198.51.100"
	link1Net     = "203.0.113"
	ctlOctet     = 100
	qnetdOctet   = 50
	hostOctet0   = 10
	domain       = "lab.test"
	maxHosts     = 15
	defaultName  = "demo"
	stateRoot    = "/run/quorate-lab"
	netnsPrefix  = "qlab-"
	pveVersion   = "9.1.1"
	pveRepoID    = "42db4a6cf33dac83"
	pveKernel    = "6.17.2-1-pve"
	pvesimPkg    = "./lab/pvesim/cmd/pvesim"
	pvelabPkg    = "./lab/cmd/pvelab"
	ctlName      = "ctl"
	qnetdName    = "qnetd"
	foreignAddr  = "198.51.100.250" // hosts-foreign: an address no lab machine has
	loopbackAddr = "127.0.1.1"
)

// Roles of the machines of a lab.
const (
	RoleController = "ctl"
	RoleHost       = "host"
	RoleQNetd      = "qnetd"
)

var labNameRE = regexp.MustCompile(`^[a-z0-9]{1,8}$`)

// Host is one machine of a lab as tests see it.
type Host struct {
	Name  string   // hostname: pve1..pveN, qnetd or ctl
	Role  string   // RoleHost, RoleQNetd or RoleController
	Addrs []string // one address per corosync link; Addrs[0] is where ssh goes
}

// Address is the host's link0 address, the one quorate connects to.
func (h Host) Address() string { return h.Addrs[0] }

// FQDN is the name the host's /etc/hosts gives it, as the PVE installer writes it.
func (h Host) FQDN() string { return h.Name + "." + domain }

// machinesFor lays out the controller, the PVE hosts and the optional qnetd host.
func machinesFor(hosts, links int, qnetd bool) []Host {
	addrs := func(octet int) []string {
		a := []string{fmt.Sprintf("%s.%d", link0Net, octet)}
		if links == 2 {
			a = append(a, fmt.Sprintf("%s.%d", link1Net, octet))
		}
		return a
	}
	ms := []Host{{Name: ctlName, Role: RoleController, Addrs: addrs(ctlOctet)}}
	for i := 1; i <= hosts; i++ {
		ms = append(ms, Host{Name: fmt.Sprintf("pve%d", i), Role: RoleHost, Addrs: addrs(hostOctet0 + i)})
	}
	if qnetd {
		ms = append(ms, Host{Name: qnetdName, Role: RoleQNetd, Addrs: addrs(qnetdOctet)})
	}
	return ms
}

func netnsName(lab, machine string) string { return netnsPrefix + lab + "-" + machine }
func bridgeNetns(lab string) string        { return netnsName(lab, "br") }

// nicName is the name of link i's network card inside a machine, before any wifi
// fault: onboard-NIC names eno1, eno2 on PVE hosts (what the installer finds on a
// server), eth0, eth1 on the controller and the qnetd box.
func nicName(role string, i int) string {
	if role == RoleHost {
		return fmt.Sprintf("eno%d", i+1)
	}
	return fmt.Sprintf("eth%d", i)
}

// hostBridge is the Linux bridge of link i on a PVE host, which holds its address
// (vmbr0 as the installer makes it, vmbr1 for link1); ctl and qnetd have none.
func hostBridge(role string, i int) string {
	if role == RoleHost {
		return fmt.Sprintf("vmbr%d", i)
	}
	return ""
}

// linksOf is a machine's links as it is installed: NIC eno1 as the port of vmbr0 and so
// on for PVE hosts, eth0... for the others.
func linksOf(h Host) []linkState {
	var ks []linkState
	for i := range h.Addrs {
		ks = append(ks, linkState{NIC: nicName(h.Role, i), Bridge: hostBridge(h.Role, i)})
	}
	return ks
}

// Interface names in the bridge namespace (15 characters at most: "pve15-l0").
func portName(machine string, link int) string  { return fmt.Sprintf("%s-l%d", machine, link) }
func relayName(machine string, link int) string { return fmt.Sprintf("%s-d%d", machine, link) }
func relayPort(machine string, link int) string { return fmt.Sprintf("%s-p%d", machine, link) }
func bridgeName(link int) string                { return fmt.Sprintf("br%d", link) }
