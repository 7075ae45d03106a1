package pvesim

import (
	"context"
	"os"
)

// Boot brings up what a booted PVE node runs: pmxcfs, corosync when configured, pveproxy.
// It is idempotent and does not wait for corosync's IPC, to stay fast. Like a real boot it
// goes on when a service fails (say pmxcfs, when the node name does not resolve): the
// failure is reported on stderr and in /var/log/pvesim, and boot still exits 0.
func (e *Env) Boot(ctx context.Context) int {
	for _, dir := range []string{stateDir, pveDir, "/var/lock", pveLibDir} {
		if err := os.MkdirAll(e.Path(dir), 0o755); err != nil {
			e.errf("pvesim boot: %v\n", err)
			return 1
		}
	}
	if cfg, err := e.Host(); err == nil && cfg.Role == "qnetd" {
		return 0
	}
	if code := e.runPmxcfs(ctx, nil); code != 0 {
		e.errf("pvesim boot: pve-cluster failed to start\n")
	}
	// pveproxy's ExecStartPre: `pvecm updatecerts --silent`, which also moves root's
	// authorized_keys into /etc/pve on a fresh node.
	if e.Quorate() {
		if err := e.updateCertsSilent(); err != nil {
			e.errf("pvesim boot: %v\n", err)
		}
	}
	if fileExists(e.Path(localCorosyncConf)) {
		if _, alive := readPID(e.Path("/run/corosync.pid")); !alive {
			if err := e.runDaemonCommand(ctx, "corosync"); err != nil {
				e.errf("pvesim boot: %v\n", err)
			}
		}
	}
	e.bootEnabledUnits(ctx)
	if _, alive := readPID(e.Path(pveproxyPIDPath)); !alive && e.checkPmxcfs() == nil {
		if err := e.startPveproxy(ctx); err != nil {
			e.errf("pvesim boot: %v\n", err)
		}
	}
	if err := e.writeActiveMarker(pvedaemonPIDPath); err != nil {
		e.errf("pvesim boot: %v\n", err)
		return 1
	}
	return 0
}
