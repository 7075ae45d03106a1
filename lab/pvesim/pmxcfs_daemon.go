package pvesim

import (
	"context"
	"fmt"
	"os"
	"time"
)

// runPmxcfs is the `pmxcfs` command: prepare and mount /etc/pve, then leave the watcher
// loop running in the background (real pmxcfs daemonizes the same way).
func (e *Env) runPmxcfs(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "--pvesim-loop" {
		return e.pmxcfsLoop()
	}
	if _, alive := readPID(e.Path(pmxcfsPIDPath)); alive {
		return 0
	}
	// `pmxcfs -l`: local mode, always writable, as the docs' "separate a node" recipe uses.
	os.Remove(e.Path(localModePath))
	if len(args) > 0 && (args[0] == "-l" || args[0] == "--local") {
		if err := e.enterLocalMode(); err != nil {
			e.errf("%v\n", err)
			return 255
		}
		if err := writeFileAtomic(e.Path(localModePath), nil, 0o644); err != nil {
			e.errf("%v\n", err)
			return 255
		}
	} else if err := e.leaveLocalMode(); err != nil {
		e.errf("%v\n", err)
		return 255
	}
	if err := e.prepareClusterFS(ctx); err != nil {
		e.errf("%v\n", err)
		return 255
	}
	if e.Sandboxed() {
		return 0
	}
	if err := e.spawnDaemon(ctx, "pmxcfs", pmxcfsPIDPath, "--pvesim-loop"); err != nil {
		e.errf("%v\n", err)
		return 255
	}
	return 0
}

const localModePath = "/run/pvesim/pmxcfs-local-mode"

func (e *Env) localMode() bool { return fileExists(e.Path(localModePath)) }

// pmxcfsLoop watches quorum and corosync.conf until SIGTERM.
func (e *Env) pmxcfsLoop() int {
	ctx, cancel := signalContext()
	defer cancel()
	if err := e.writeOwnPID(pmxcfsPIDPath); err != nil {
		e.errf("%v\n", err)
		return 1
	}
	var reloadAt time.Time
	lastQuorate := e.Quorate()
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		clustered := e.ClusterID() != ""
		quorate := !clustered || e.localMode() || e.corosyncQuorate(ctx)
		if ctx.Err() != nil {
			break
		}
		if quorate != lastQuorate {
			if err := e.setPVEReadOnly(!quorate); err != nil {
				e.errf("%v\n", err)
			}
			if err := e.writeQuorate(quorate); err != nil {
				e.errf("%v\n", err)
			}
			e.errf("%s node has %s quorum\n", time.Now().Format(time.RFC3339), map[bool]string{true: "gained", false: "lost"}[quorate])
			lastQuorate = quorate
		}
		if clustered {
			wrote, err := e.syncCorosyncConf()
			if err != nil {
				e.errf("%v\n", err)
			}
			if wrote {
				// Like dcdb.c: give every node time to write its copy, then reload.
				reloadAt = time.Now().Add(time.Second)
			}
		}
		if !reloadAt.IsZero() && time.Now().After(reloadAt) {
			reloadAt = time.Time{}
			code, out := e.runQuiet(ctx, "corosync-cfgtool", "-R")
			e.errf("corosync-cfgtool -R: exit %d %s\n", code, out)
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := e.unmountPVE(); err != nil {
		e.errf("%v\n", err)
	}
	os.Remove(e.Path(quorateStatePath))
	os.Remove(e.Path(pmxcfsPIDPath))
	fmt.Fprintln(e.Stderr, "pmxcfs stopped")
	return 0
}
