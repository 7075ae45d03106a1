package pvesim

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func sha1Hex(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// readGuestConfig reads the `key: value` lines of a qemu-server or lxc config.
func readGuestConfig(path string) map[string]string {
	out := map[string]string{}
	raw, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "[") {
			break
		}
		if key, value, ok := strings.Cut(line, ":"); ok {
			out[strings.TrimSpace(key)] = strings.TrimSpace(value)
		}
	}
	return out
}

// GuestList is `qm list` / `pct list`: the local node's guests, all stopped.
func (e *Env) GuestList(kind string, args []string) int {
	if len(args) == 0 || args[0] != "list" {
		e.errf("pvesim: only '%s list' is implemented\n", map[string]string{"qemu-server": "qm", "lxc": "pct"}[kind])
		return exitDie
	}
	node, err := e.NodeName()
	if err != nil {
		return e.die(exitDie, err)
	}
	matches, _ := filepath.Glob(filepath.Join(e.pveTree(), "nodes", node, kind, "*.conf"))
	sort.Strings(matches)
	if len(matches) == 0 {
		return 0
	}
	if kind == "lxc" {
		e.outf("VMID       Status     Lock         Name                \n")
		for _, match := range matches {
			cfg := readGuestConfig(match)
			e.outf("%-10s %-10s %-12s %-20s\n", strings.TrimSuffix(filepath.Base(match), ".conf"), "stopped", "", cfg["hostname"])
		}
		return 0
	}
	e.outf("      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n")
	for _, match := range matches {
		cfg := readGuestConfig(match)
		e.outf("%10s %-20s %-10s %-10s %12s %-10d\n", strings.TrimSuffix(filepath.Base(match), ".conf"), cfg["name"], "stopped", valueOr(cfg["memory"], "2048"), "32.00", 0)
	}
	return 0
}

func valueOr(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}
