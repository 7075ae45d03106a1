package pvesim

import (
	"context"
	"time"
)

// bootEnabledUnits starts, at boot, the units pvecm enabled that a plain boot does not start
// by itself: corosync-qdevice (pvecm qdevice setup runs systemctl enable on every member,
// docs/pve.md §3.6), after corosync answers, as its unit's After=corosync.service orders.
func (e *Env) bootEnabledUnits(ctx context.Context) {
	if !fileExists(e.Path("/etc/pvesim/enabled/corosync-qdevice")) || !fileExists(e.Path(localCorosyncConf)) {
		return
	}
	pollUntil(ctx, 20*time.Second, 200*time.Millisecond, func() bool {
		code, _ := e.runQuiet(ctx, "corosync-quorumtool", "-l")
		return code == 0 || code == 2
	})
	if code := e.Systemctl(ctx, []string{"start", "corosync-qdevice"}); code != 0 {
		e.errf("pvesim boot: corosync-qdevice failed to start\n")
	}
}
