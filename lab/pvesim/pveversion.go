package pvesim

import (
	"fmt"
	"sort"
	"strings"
)

// Pveversion is `pveversion [-v|--verbose]` (docs/pve.md §9).
func (e *Env) Pveversion(args []string) int {
	verbose := false
	for _, arg := range args {
		switch arg {
		case "-v", "--verbose", "-verbose":
			verbose = true
		default:
			e.errf("USAGE: pveversion [--verbose]\n")
			return exitDie
		}
	}
	host, err := e.Host()
	if err != nil {
		return e.die(exitDie, err)
	}
	if !verbose {
		e.outf("pve-manager/%s/%s (running kernel: %s)\n", host.Version, host.RepoID, host.Kernel)
		return 0
	}
	for _, line := range verbosePackages(host) {
		e.outf("%s\n", line)
	}
	return 0
}

// verbosePackages lists packages in pveversion -v order: proxmox-ve, pve-manager, the
// kernel packages, then the rest sorted.
func verbosePackages(host HostConfig) []string {
	major := strings.SplitN(host.Version, ".", 2)[0]
	kernelSeries := strings.Join(strings.SplitN(host.Kernel, ".", 3)[:2], ".")
	kernelVersion := strings.TrimSuffix(host.Kernel, "-pve")
	lines := []string{}
	var rest map[string]string
	if major == "7" || major == "6" || major == "5" {
		lines = append(lines,
			fmt.Sprintf("proxmox-ve: %s-1 (running kernel: %s)", strings.SplitN(host.Version, "-", 2)[0], host.Kernel),
			fmt.Sprintf("pve-manager: %s (running version: %s/%s)", host.Version, host.Version, host.RepoID),
			fmt.Sprintf("pve-kernel-%s: 7.2-14", kernelSeries),
			"pve-kernel-helper: 7.2-14",
			fmt.Sprintf("pve-kernel-%s: %s", host.Kernel, kernelVersion),
		)
		rest = map[string]string{
			"ceph-fuse": "15.2.17-pve1", "corosync": "3.1.7-pve1", "criu": "3.15-1+pve-1", "libknet1": "1.24-pve2",
			"libproxmox-acme-perl": "1.4.2", "libpve-access-control": "7.2-5", "libpve-apiclient-perl": "3.2-1",
			"libpve-common-perl": "7.2-8", "libpve-guest-common-perl": "4.2-3", "libpve-storage-perl": "7.3-1",
			"lxc-pve": "5.0.0-3", "proxmox-backup-client": "2.2.7-1", "pve-cluster": "7.3-1", "pve-container": "4.4-2",
			"pve-firewall": "4.2-7", "pve-ha-manager": "3.5.1", "qemu-server": "7.3-1", "zfsutils-linux": "2.1.6-pve1",
		}
	} else {
		release := versionInfo(host)["release"].(string)
		lines = append(lines,
			fmt.Sprintf("proxmox-ve: %s.0 (running kernel: %s)", release, host.Kernel),
			fmt.Sprintf("pve-manager: %s (running version: %s/%s)", host.Version, host.Version, host.RepoID),
			"proxmox-kernel-helper: "+major+".0.4",
			fmt.Sprintf("proxmox-kernel-%s-signed: %s", host.Kernel, kernelVersion),
			fmt.Sprintf("proxmox-kernel-%s: %s", kernelSeries, kernelVersion),
		)
		cluster := release + ".6"
		rest = map[string]string{
			"ceph-fuse": "19.2.3-pve2", "corosync": "3.1.9-pve2", "criu": "4.1.1-1", "libknet1": "1.30-pve2",
			"libproxmox-acme-perl": "1.7.0", "libpve-access-control": release + ".1", "libpve-apiclient-perl": "3.4.2",
			"libpve-cluster-perl": cluster, "libpve-common-perl": release + ".2", "libpve-guest-common-perl": "6.0.2",
			"libpve-storage-perl": release + ".1", "lxc-pve": "6.0.5-3", "proxmox-backup-client": "4.0.20-1",
			"pve-cluster": cluster, "pve-container": "6.0.18", "pve-firewall": "6.0.4", "pve-ha-manager": "5.0.8",
			"qemu-server": release + ".3", "zfsutils-linux": "2.3.4-pve1",
		}
	}
	names := make([]string, 0, len(rest))
	for name := range rest {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		lines = append(lines, name+": "+rest[name])
	}
	return lines
}
