package pvesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The systemctl shim: the lab hosts have no systemd. It knows the units a PVE node's
// cluster tooling touches; anything else is "not found" (exit 5) as with systemd.

type unit struct {
	name        string
	description string
	pidPath     string
	start       func(ctx context.Context, e *Env) error
	stop        func(ctx context.Context, e *Env)
	reload      func(ctx context.Context, e *Env) error // nil: reload-or-restart restarts
}

func knownUnits() map[string]*unit {
	corosync := &unit{name: "corosync", description: "Corosync Cluster Engine", pidPath: "/run/corosync.pid",
		start: startCorosync, stop: stopCorosync}
	pveCluster := &unit{name: "pve-cluster", description: "The Proxmox VE cluster filesystem", pidPath: pmxcfsPIDPath,
		start: func(ctx context.Context, e *Env) error {
			// pmxcfs's complaint goes to the journal, not to systemctl's caller.
			var complaint strings.Builder
			quiet := *e
			quiet.Stdout, quiet.Stderr = &complaint, &complaint
			if code := quiet.runPmxcfs(ctx, nil); code != 0 {
				return fmt.Errorf("pmxcfs: %s", strings.TrimSpace(complaint.String()))
			}
			return nil
		},
		stop: func(ctx context.Context, e *Env) {
			e.stopPID(ctx, pmxcfsPIDPath)
			e.unmountPVE()
			os.Remove(e.Path(quorateStatePath))
		}}
	pveproxy := &unit{name: "pveproxy", description: "PVE API Proxy Server", pidPath: pveproxyPIDPath,
		start: func(ctx context.Context, e *Env) error { return e.startPveproxy(ctx) },
		stop:  func(ctx context.Context, e *Env) { e.stopPID(ctx, pveproxyPIDPath) }}
	pvedaemon := &unit{name: "pvedaemon", description: "PVE API Daemon", pidPath: pvedaemonPIDPath,
		start: func(ctx context.Context, e *Env) error { return e.writeActiveMarker(pvedaemonPIDPath) },
		stop:  func(ctx context.Context, e *Env) { os.Remove(e.Path(pvedaemonPIDPath)) }}
	ssh := &unit{name: "ssh", description: "OpenBSD Secure Shell server", pidPath: "/run/sshd.pid",
		start: func(ctx context.Context, e *Env) error {
			return e.runDaemonCommand(ctx, "/usr/sbin/sshd", "-f", "/etc/ssh/sshd_config", "-E", "/var/log/sshd.log")
		},
		stop:   func(ctx context.Context, e *Env) { e.stopPID(ctx, "/run/sshd.pid") },
		reload: func(ctx context.Context, e *Env) error { return e.signalPID("/run/sshd.pid", syscall.SIGHUP) }}
	chrony := &unit{name: "chrony", description: "chrony, an NTP client/server", pidPath: "/run/chrony/chronyd.pid",
		start: func(ctx context.Context, e *Env) error {
			// Always -x: a chronyd that steers the clock would steer the whole machine's.
			os.MkdirAll(e.Path("/run/chrony"), 0o750)
			return e.runDaemonCommand(ctx, "chronyd", "-x")
		},
		stop: func(ctx context.Context, e *Env) { e.stopPID(ctx, "/run/chrony/chronyd.pid") }}
	qdevice := &unit{name: "corosync-qdevice", description: "Corosync Qdevice daemon", pidPath: "/run/corosync-qdevice/corosync-qdevice.pid",
		start: func(ctx context.Context, e *Env) error {
			os.MkdirAll(e.Path("/run/corosync-qdevice"), 0o770)
			return e.runDaemonCommand(ctx, "corosync-qdevice")
		},
		stop: func(ctx context.Context, e *Env) { e.stopPID(ctx, "/run/corosync-qdevice/corosync-qdevice.pid") }}
	qnetd := &unit{name: "corosync-qnetd", description: "Corosync Qdevice Network daemon", pidPath: "/run/corosync-qnetd/corosync-qnetd.pid",
		start: func(ctx context.Context, e *Env) error {
			os.MkdirAll(e.Path("/run/corosync-qnetd"), 0o770)
			return e.runDaemonCommand(ctx, "corosync-qnetd")
		},
		stop: func(ctx context.Context, e *Env) { e.stopPID(ctx, "/run/corosync-qnetd/corosync-qnetd.pid") }}
	return map[string]*unit{
		"corosync": corosync, "pve-cluster": pveCluster, "pveproxy": pveproxy, "pvedaemon": pvedaemon,
		"ssh": ssh, "sshd": ssh, "chrony": chrony, "chronyd": chrony,
		"corosync-qdevice": qdevice, "corosync-qnetd": qnetd,
	}
}

// startOrder: pve-cluster runs Before=corosync, and the API daemons after both.
var startOrder = []string{"pve-cluster", "corosync", "corosync-qdevice", "corosync-qnetd", "pvedaemon", "pveproxy", "ssh", "chrony"}

func orderUnits(units []*unit, reverse bool) []*unit {
	rank := map[string]int{}
	for i, name := range startOrder {
		rank[name] = i
	}
	sorted := append([]*unit(nil), units...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0; j-- {
			less := rank[sorted[j].name] < rank[sorted[j-1].name]
			if reverse {
				less = rank[sorted[j].name] > rank[sorted[j-1].name]
			}
			if !less {
				break
			}
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	return sorted
}

func (u *unit) active(e *Env) bool {
	_, alive := readPID(e.Path(u.pidPath))
	return alive || markerActive(e.Path(u.pidPath))
}

// Systemctl is the shim's entry point.
func (e *Env) Systemctl(ctx context.Context, args []string) int {
	quiet := false
	var words []string
	for _, arg := range args {
		switch {
		case arg == "-q" || arg == "--quiet":
			quiet = true
		case arg == "--version":
			e.outf("systemd 252 (pvesim shim)\n")
			return 0
		case strings.HasPrefix(arg, "-"):
		default:
			words = append(words, arg)
		}
	}
	if len(words) == 0 {
		return 0
	}
	verb := words[0]
	switch verb {
	case "daemon-reload", "reset-failed", "list-units":
		return 0
	}
	known := knownUnits()
	var units []*unit
	for _, name := range words[1:] {
		u, ok := known[strings.TrimSuffix(name, ".service")]
		if !ok {
			return e.unknownUnit(verb, withServiceSuffix(name), quiet)
		}
		units = append(units, u)
	}
	rc := 0
	switch verb {
	case "start":
		for _, u := range orderUnits(units, false) {
			if err := e.startUnit(ctx, u); err != nil {
				e.jobFailed(u, err)
				rc = 1
			}
		}
	case "stop":
		for _, u := range orderUnits(units, true) {
			u.stop(ctx, e)
		}
	case "restart", "try-restart":
		for _, u := range orderUnits(units, true) {
			u.stop(ctx, e)
		}
		for _, u := range orderUnits(units, false) {
			if verb == "try-restart" {
				continue
			}
			if err := e.startUnit(ctx, u); err != nil {
				e.jobFailed(u, err)
				rc = 1
			}
		}
	case "reload", "reload-or-restart", "try-reload-or-restart":
		for _, u := range orderUnits(units, false) {
			if u.reload != nil && u.active(e) {
				if err := u.reload(ctx, e); err != nil {
					e.jobFailed(u, err)
					rc = 1
				}
				continue
			}
			u.stop(ctx, e)
			if err := e.startUnit(ctx, u); err != nil {
				e.jobFailed(u, err)
				rc = 1
			}
		}
	case "is-active", "status":
		for _, u := range units {
			active := u.active(e)
			if !quiet {
				e.printUnitState(verb, u, active)
			}
			if !active {
				rc = 3
			}
		}
	case "enable", "disable", "mask", "unmask":
		for _, u := range units {
			e.setEnabled(u.name, verb == "enable" || verb == "unmask")
		}
	case "is-enabled":
		for _, u := range units {
			if !quiet {
				e.outf("enabled\n")
			}
			_ = u
		}
	default:
		e.errf("Unknown command verb %s.\n", verb)
		return 1
	}
	return rc
}

// jobFailed prints systemctl's text and keeps the reason in the unit's log, where
// journalctl would have it.
func (e *Env) jobFailed(u *unit, err error) {
	logPath := e.Path(filepath.Join(daemonLogDir, u.name+".log"))
	os.MkdirAll(filepath.Dir(logPath), 0o755)
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
		fmt.Fprintf(f, "%s: start failed: %v\n", time.Now().Format(time.RFC3339), err)
		f.Close()
	}
	e.errf("Job for %[1]s.service failed because the control process exited with error code.\nSee \"systemctl status %[1]s.service\" and \"journalctl -xeu %[1]s.service\" for details.\n", u.name)
}

// unknownUnit answers as systemd 252 does for a unit it has no file for.
func (e *Env) unknownUnit(verb, unit string, quiet bool) int {
	switch verb {
	case "status":
		e.errf("Unit %s could not be found.\n", unit)
		return 4
	case "is-active":
		if !quiet {
			e.outf("inactive\n")
		}
		return 3
	case "is-enabled":
		e.errf("Failed to get unit file state for %s: No such file or directory\n", unit)
		return 1
	case "stop":
		e.errf("Failed to stop %s: Unit %s not loaded.\n", unit, unit)
		return 5
	case "enable", "disable":
		e.errf("Failed to %s unit: Unit file %s does not exist.\n", verb, unit)
		return 1
	}
	e.errf("Failed to %s %s: Unit %s not found.\n", verb, unit, unit)
	return 5
}

func withServiceSuffix(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return name + ".service"
}

func (e *Env) startUnit(ctx context.Context, u *unit) error {
	if u.active(e) {
		return nil
	}
	tracef("start %s", u.name)
	defer tracef("started %s", u.name)
	return u.start(ctx, e)
}

func (e *Env) printUnitState(verb string, u *unit, active bool) {
	if verb == "is-active" {
		if active {
			e.outf("active\n")
		} else {
			e.outf("inactive\n")
		}
		return
	}
	if active {
		pid, _ := readPID(e.Path(u.pidPath))
		e.outf("● %s.service - %s\n     Loaded: loaded (/lib/systemd/system/%s.service; enabled; preset: enabled)\n     Active: active (running)\n   Main PID: %d\n", u.name, u.description, u.name, pid)
		return
	}
	e.outf("○ %s.service - %s\n     Loaded: loaded (/lib/systemd/system/%s.service; enabled; preset: enabled)\n     Active: inactive (dead)\n", u.name, u.description, u.name)
}

func (e *Env) setEnabled(name string, enabled bool) {
	path := e.Path("/etc/pvesim/enabled/" + name)
	if enabled {
		writeFileAtomic(path, nil, 0o644)
		return
	}
	os.Remove(path)
}

// activeMarker stands in a pid file for a unit without a process of its own (pvedaemon, and
// pveproxy in a unit-test sandbox). It is never a pid, so nothing is ever signalled for it.
const activeMarker = "active-without-process"

func (e *Env) writeActiveMarker(path string) error {
	return writeFileAtomic(e.Path(path), []byte(activeMarker+"\n"), 0o644)
}

func markerActive(path string) bool {
	raw, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(raw)) == activeMarker
}

func (e *Env) signalPID(pidPath string, sig syscall.Signal) error {
	pid, alive := readPID(e.Path(pidPath))
	if !alive || pid <= 1 || e.Sandboxed() {
		return fmt.Errorf("not running")
	}
	return syscall.Kill(pid, sig)
}

// runDaemonCommand runs a program that daemonizes itself.
// Its output goes to a file, not a pipe: a daemon that keeps the inherited descriptors
// open would otherwise keep us waiting for EOF.
func (e *Env) runDaemonCommand(ctx context.Context, name string, args ...string) error {
	logDir := e.Path(daemonLogDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", daemonLogDir, err)
	}
	logPath := filepath.Join(logDir, filepath.Base(name)+".start.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logFile.Close()
	cmd := e.command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if code := exitCode(cmd.Run()); code != 0 {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%s exited with %d: %s", name, code, strings.TrimSpace(string(out)))
	}
	return nil
}

// startCorosync starts the real corosync (ConditionPathExists=/etc/corosync/corosync.conf)
// and waits until its IPC answers, which is 0.1-0.4 s after the command returns.
func startCorosync(ctx context.Context, e *Env) error {
	if !fileExists(e.Path(localCorosyncConf)) {
		return nil
	}
	if err := e.runDaemonCommand(ctx, "corosync"); err != nil {
		return err
	}
	ready := pollUntil(ctx, 10*time.Second, 50*time.Millisecond, func() bool {
		code, _ := e.runQuiet(ctx, "corosync-quorumtool", "-s")
		return code == 0 || code == 2
	})
	if !ready {
		return fmt.Errorf("corosync IPC did not answer")
	}
	return nil
}

func stopCorosync(ctx context.Context, e *Env) {
	if _, alive := readPID(e.Path("/run/corosync.pid")); !alive {
		return
	}
	e.runQuiet(ctx, "corosync-cfgtool", "-H", "--force")
	e.stopPID(ctx, "/run/corosync.pid")
}
