package lab

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// initConfig is everything a host's PID 1 needs; the parent composes it so that the
// init itself stays a dumb executor (lab/initproc.go).
type initConfig struct {
	Lab        string     `json:"lab"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Fresh      bool       `json:"fresh"` // provision from scratch (Up, reinstall); false on restart
	StateDir   string     `json:"state_dir"`
	BinDir     string     `json:"bin_dir"`
	SharedDir  string     `json:"shared_dir"`
	PrivateTmp bool       `json:"private_tmp"`
	Remove     []string   `json:"remove"`   // globs removed on a fresh boot
	Files      []fileSpec `json:"files"`    // written on a fresh boot
	HostKeys   []string   `json:"hostkeys"` // ssh host key types generated on a fresh boot
	Password   string     `json:"password"` // root password, set with chpasswd on a fresh boot
	Boot       bool       `json:"boot"`     // run pvesim boot
	Services   []string   `json:"services"` // started by systemctl (the pvesim shim) after boot
	Sysfs      string     `json:"sysfs"`    // sh script run once /run is mounted: overlays on /sys/class/net (faults_nic.go)
}

type fileSpec struct {
	Path    string `json:"path"`
	Mode    uint32 `json:"mode"`
	Content string `json:"content"`
}

const (
	sshdConfigPath  = "/etc/ssh/sshd_config"
	sshdDropinDir   = "/etc/ssh/sshd_config.d"
	skewDropin      = "/etc/ssh/sshd_config.d/quorate-lab-skew.conf"
	faketimerc      = "/etc/faketimerc"
	chronyConfPath  = "/etc/chrony/chrony.conf"
	libfaketime     = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
	hostJSONPath    = "/etc/pvesim/host.json"
	rootBashrc      = "/root/.bashrc"
	noisyBashrcLine = `echo "Welcome to $(hostname)! This .bashrc talks on every login." # quorate-lab noisy-bashrc`
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: Go aborts the program itself if the kernel cannot provide
	return hex.EncodeToString(b)
}

// newPassword makes a lab's root password: letters and digits only, so that the env
// file and shell quoting never matter.
func newPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// hostsFile is /etc/hosts as the PVE installer writes it: the host itself right after
// localhost, then (in the lab) the controller; the controller's lists every machine.
func hostsFile(self Host, all []Host, mapSelf string) string {
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost.localdomain localhost\n")
	selfAddr := self.Address()
	if mapSelf != "" {
		selfAddr = mapSelf
	}
	fmt.Fprintf(&b, "%s %s %s\n", selfAddr, self.FQDN(), self.Name)
	for _, h := range all {
		if h.Name != self.Name && (self.Role == RoleController || h.Role == RoleController) {
			fmt.Fprintf(&b, "%s %s %s\n", h.Address(), h.FQDN(), h.Name)
		}
	}
	b.WriteString("\n# The following lines are desirable for IPv6 capable hosts\n" +
		"::1     ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\nff00::0 ip6-mcastprefix\n" +
		"ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\nff02::3 ip6-allhosts\n")
	return b.String()
}

// interfacesFile is /etc/network/interfaces as a PVE install writes it: each NIC
// "inet manual", each address static on its bridge (vmbr0, and vmbr1 for link1) whose
// port is the NIC. A Wi-Fi NIC holds its address itself, with its wpa-ssid, and its
// bridge has no ports; ctl and qnetd have their addresses static on their NICs.
func interfacesFile(links []linkState, addrs []string, sh linkShape) string {
	var b strings.Builder
	mtu := func(i int) {
		if i == 0 && sh.mtu > 0 {
			fmt.Fprintf(&b, "\tmtu %d\n", sh.mtu)
		}
	}
	b.WriteString("auto lo\niface lo inet loopback\n")
	for i, k := range links {
		if k.addrDev() != k.NIC {
			fmt.Fprintf(&b, "\niface %s inet manual\n", k.NIC)
			mtu(i)
			continue
		}
		fmt.Fprintf(&b, "\nauto %s\niface %s inet static\n\taddress %s/24\n", k.NIC, k.NIC, addrs[i])
		mtu(i)
		if k.wireless() {
			b.WriteString("\twpa-ssid quorate-lab\n\twpa-psk 0123456789abcdef\n")
		}
	}
	for i, k := range links {
		if k.Bridge == "" {
			continue
		}
		if k.addrDev() == k.Bridge {
			fmt.Fprintf(&b, "\nauto %s\niface %s inet static\n\taddress %s/24\n\tbridge-ports %s\n", k.Bridge, k.Bridge, addrs[i], k.NIC)
		} else {
			fmt.Fprintf(&b, "\nauto %s\niface %s inet manual\n\tbridge-ports none\n", k.Bridge, k.Bridge)
		}
		b.WriteString("\tbridge-stp off\n\tbridge-fd 0\n")
		mtu(i)
	}
	if len(links) > 0 && links[0].Bridge != "" {
		b.WriteString("\n\nsource /etc/network/interfaces.d/*\n")
	}
	return b.String()
}

func sshdConfig(h Host) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# sshd of lab host %s (quorate lab)\nInclude %s/*.conf\n", h.Name, sshdDropinDir)
	for _, a := range h.Addrs {
		fmt.Fprintf(&b, "ListenAddress %s\n", a)
	}
	b.WriteString(`Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
`)
	return b.String()
}

// chronyConf: hosts follow the controller; the controller serves its own clock.
// chronyd always runs with -x in the lab: a steering chronyd would move the clock of
// the whole machine.
func chronyConf(h Host, ctl Host) string {
	common := "driftfile /var/lib/chrony/chrony.drift\npidfile /run/chrony/chronyd.pid\n"
	if h.Role == RoleController {
		var b strings.Builder
		b.WriteString("# time server of the quorate lab\nlocal stratum 8\n")
		for _, p := range labPrefixes {
			fmt.Fprintf(&b, "allow %s\n", p)
		}
		return b.String() + common
	}
	return fmt.Sprintf("# quorate lab: follow the controller\nserver %s iburst minpoll 0 maxpoll 4\nmakestep 1 3\n%s",
		ctl.Address(), common)
}

func hostJSON(h Host, password string) string {
	sum := sha256.Sum256([]byte(password))
	b, _ := json.MarshalIndent(map[string]string{
		"node": h.Name, "version": pveVersion, "repoid": pveRepoID, "kernel": pveKernel,
		"root_password_sha256": hex.EncodeToString(sum[:]), "role": h.Role,
	}, "", "  ")
	return string(b) + "\n"
}

// freshConfig is the init configuration of a machine's first boot (Up, reinstall).
func freshConfig(s *state, m *machineState, ctlPub, ctlKey string) initConfig {
	hosts := make([]Host, len(s.Machines))
	for i, x := range s.Machines {
		hosts[i] = x.Host
	}
	ctl := s.Machines[0].Host
	dir := labDir(s.Name)
	c := initConfig{
		Lab: s.Name, Name: m.Name, Role: m.Role, Fresh: true,
		StateDir:  filepath.Join(dir, "hosts", m.Name),
		BinDir:    filepath.Join(dir, "bin"),
		SharedDir: filepath.Join(dir, "shared"),
		Remove: []string{"/etc/ssh/ssh_host_*", "/etc/corosync/corosync.conf", "/etc/corosync/authkey",
			"/var/lib/dbus/machine-id", "/etc/hosts", "/etc/hostname", "/etc/machine-id", "/etc/network/interfaces.d/*"},
		Files: []fileSpec{
			{Path: "/etc/hostname", Mode: 0o644, Content: m.Name + "\n"},
			{Path: "/etc/hosts", Mode: 0o644, Content: hostsFile(m.Host, hosts, "")},
			{Path: "/etc/machine-id", Mode: 0o444, Content: randomHex(16) + "\n"},
			{Path: chronyConfPath, Mode: 0o644, Content: chronyConf(m.Host, ctl)},
		},
		Password: s.Password,
	}
	if m.Role == RoleController {
		c.Files = append(c.Files,
			fileSpec{Path: "/root/.ssh/id_ed25519", Mode: 0o600, Content: ctlKey},
			fileSpec{Path: "/root/.ssh/id_ed25519.pub", Mode: 0o644, Content: ctlPub})
		return c
	}
	sh := shapeOf(m.Faults)
	c.PrivateTmp = true
	c.Boot = true
	c.Sysfs = sysfsScript(sysfsOverlays(m, sh))
	if m.Role == RoleQNetd {
		// A qnetd host is a Debian box with corosync-qnetd installed: systemd would start it.
		c.Services = []string{"corosync-qnetd"}
	}
	c.HostKeys = []string{"ed25519", "rsa"}
	c.Files = append(c.Files,
		fileSpec{Path: "/etc/network/interfaces", Mode: 0o644, Content: interfacesFile(m.Links, m.Addrs, sh)},
		fileSpec{Path: sshdConfigPath, Mode: 0o644, Content: sshdConfig(m.Host)},
		fileSpec{Path: "/root/.ssh/authorized_keys", Mode: 0o600, Content: ctlPub},
		fileSpec{Path: hostJSONPath, Mode: 0o644, Content: hostJSON(m.Host, s.Password)})
	return c
}
