// Package pvesim is the lab's stand-in for the Proxmox VE tooling that runs inside one
// simulated host: pvecm, pvesh, pveversion, pvenode, qm, pct, a systemctl shim and the
// daemons a cluster join needs (pmxcfs, pveproxy). Its texts, streams and exit codes follow
// docs/pve.md; corosync itself is the real one.
package pvesim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Env is everything a command needs from its surroundings. On a lab host Root is "" and
// every path is the real one (the host has a private mount namespace). Unit tests set Root to
// a temporary directory: then nothing is mounted and no daemon is started in the background.
type Env struct {
	Root   string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Cwd is the working directory, for the `cd /` rule of pvecm add.
	Cwd string
	// PathDirs is where external commands (corosync, corosync-quorumtool, ssh, ...) are
	// looked up; unit tests point it at fake scripts.
	PathDirs []string
	// LocalIPs overrides the addresses found on local interfaces (unit tests).
	LocalIPs []string
	// SelfExe is the pvesim binary, re-executed to start daemons.
	SelfExe string
	// APIPort is pveproxy's port, 8006 unless a unit test says otherwise.
	APIPort int

	stdinReader *bufio.Reader
}

// NewProcessEnv describes the current process.
func NewProcessEnv() *Env {
	cwd, _ := os.Getwd()
	self, _ := os.Executable()
	env := &Env{
		Root:     os.Getenv("PVESIM_ROOT"),
		Stdin:    os.Stdin,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Cwd:      cwd,
		PathDirs: filepath.SplitList(os.Getenv("PATH")),
		SelfExe:  self,
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		env.PathDirs = appendUnique(env.PathDirs, dir)
	}
	if ips := os.Getenv("PVESIM_LOCAL_IPS"); ips != "" {
		env.LocalIPs = strings.Split(ips, ",")
	}
	return env
}

func appendUnique(list []string, item string) []string {
	for _, existing := range list {
		if existing == item {
			return list
		}
	}
	return append(list, item)
}

func (e *Env) apiPort() string {
	if e.APIPort == 0 {
		return "8006"
	}
	return strconv.Itoa(e.APIPort)
}

// Sandboxed reports whether this is a unit-test root (no mounts, no background daemons).
func (e *Env) Sandboxed() bool { return e.Root != "" }

// Path maps a real absolute path into the environment's root.
func (e *Env) Path(p string) string {
	if e.Root == "" {
		return p
	}
	return filepath.Join(e.Root, p)
}

// stdin returns one buffered reader shared by every read of this command: Perl's STDIN
// buffer is shared by the password read and the fingerprint question too (docs/pve.md §0.2).
func (e *Env) stdin() *bufio.Reader {
	if e.stdinReader == nil {
		e.stdinReader = bufio.NewReader(e.Stdin)
	}
	return e.stdinReader
}

func (e *Env) outf(format string, args ...any) { fmt.Fprintf(e.Stdout, format, args...) }
func (e *Env) errf(format string, args ...any) { fmt.Fprintf(e.Stderr, format, args...) }

// HostConfig is /etc/pvesim/host.json, written by the lab before boot.
type HostConfig struct {
	Node               string `json:"node"`
	Version            string `json:"version"`
	RepoID             string `json:"repoid"`
	Kernel             string `json:"kernel"`
	RootPasswordSHA256 string `json:"root_password_sha256"`
	// Role is "host" for a PVE node and "qnetd" for the lab's plain Debian qnetd machine,
	// which runs none of PVE's services.
	Role string `json:"role,omitempty"`
}

const hostConfigPath = "/etc/pvesim/host.json"

// Host loads host.json, filling the defaults of a fresh PVE 9.1 node.
func (e *Env) Host() (HostConfig, error) {
	cfg := HostConfig{Version: "9.1.1", RepoID: "42db4a6cf33dac83", Kernel: "6.17.2-1-pve"}
	raw, err := os.ReadFile(e.Path(hostConfigPath))
	if err != nil && !os.IsNotExist(err) {
		return cfg, fmt.Errorf("read host config: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return cfg, fmt.Errorf("parse %s: %w", hostConfigPath, err)
		}
	}
	if override, err := os.ReadFile(e.Path(versionOverridePath)); err == nil {
		cfg.Version = strings.TrimSpace(string(override))
		// The fault swaps the whole release: its kernel and its short repoid too.
		major, _, _ := strings.Cut(cfg.Version, ".")
		if kernel, ok := releaseKernels[major]; ok {
			cfg.Kernel = kernel
		}
		if major <= "7" && len(cfg.RepoID) > 8 {
			cfg.RepoID = cfg.RepoID[:8]
		}
	}
	if cfg.Node == "" {
		name, err := os.Hostname()
		if err != nil {
			return cfg, fmt.Errorf("hostname: %w", err)
		}
		cfg.Node = name
	}
	// PVE::INotify::nodename is the hostname up to the first dot.
	cfg.Node, _, _ = strings.Cut(cfg.Node, ".")
	return cfg, nil
}

// releaseKernels are the kernels PVE releases ship, for the pveversion fault.
var releaseKernels = map[string]string{"6": "5.4.203-1-pve", "7": "5.15.74-1-pve", "8": "6.8.12-4-pve", "9": "6.17.2-1-pve"}

// NodeName is the local node's name.
func (e *Env) NodeName() (string, error) {
	cfg, err := e.Host()
	return cfg.Node, err
}

// ResolveHost looks name up in the host's /etc/hosts like getaddrinfo would and returns the
// first address that is not loopback, as PVE::Network::get_ip_from_hostname does.
func (e *Env) ResolveHost(name string) (string, error) {
	if ip := net.ParseIP(name); ip != nil {
		return name, nil
	}
	raw, err := os.ReadFile(e.Path("/etc/hosts"))
	if err != nil {
		return "", fmt.Errorf("address lookup for '%s' did not find any IP address", name)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip := net.ParseIP(fields[0])
		if ip == nil || ip.IsLoopback() {
			continue
		}
		for _, alias := range fields[1:] {
			if alias == name {
				return fields[0], nil
			}
		}
	}
	return "", fmt.Errorf("address lookup for '%s' did not find any IP address", name)
}

// NodeIP is remote_node_ip(nodename): the node's own non-loopback address.
func (e *Env) NodeIP() (string, error) {
	node, err := e.NodeName()
	if err != nil {
		return "", err
	}
	return e.ResolveHost(node)
}

// HasLocalIP reports whether ip is configured on a local interface.
func (e *Env) HasLocalIP(ip string) bool {
	want := net.ParseIP(ip)
	if want == nil {
		return false
	}
	if e.LocalIPs != nil {
		for _, have := range e.LocalIPs {
			if net.ParseIP(have).Equal(want) {
				return true
			}
		}
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, addr := range addrs {
		if ipnet, ok := addr.(*net.IPNet); ok && ipnet.IP.Equal(want) {
			return true
		}
	}
	return false
}

// LookPath finds an external command in the environment's PATH.
func (e *Env) LookPath(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	for _, dir := range e.PathDirs {
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return candidate
		}
	}
	return name
}
