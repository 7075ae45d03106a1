package pvesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Proxmox-level faults (lab/CONTRACT.md): `pvesim fault guests|foreign-cluster|half-joined|
// pveversion VERSION|clear`. Each leaves a marker so that clear undoes only what a fault did.

const faultMarkerDir = "/etc/pvesim/faults"

// Fault is the `pvesim fault` command: exit 0, or a message on stderr and exit 1.
func (e *Env) Fault(ctx context.Context, args []string) int {
	if len(args) == 0 {
		e.errf("usage: pvesim fault guests|foreign-cluster|half-joined|pveversion VERSION|clear\n")
		return 1
	}
	var err error
	switch args[0] {
	case "guests":
		err = e.faultGuests()
	case "foreign-cluster":
		err = e.faultForeignCluster(ctx)
	case "half-joined":
		err = e.faultHalfJoined(ctx)
	case "pveversion":
		if len(args) != 2 || args[1] == "" {
			err = fmt.Errorf("usage: pvesim fault pveversion VERSION")
		} else {
			err = writeFileAtomic(e.Path(versionOverridePath), []byte(args[1]+"\n"), 0o644)
		}
	case "clear":
		err = e.faultClear(ctx)
	default:
		err = fmt.Errorf("unknown fault %q", args[0])
	}
	if err != nil {
		e.errf("pvesim fault %s: %v\n", args[0], err)
		return 1
	}
	if args[0] != "clear" && args[0] != "pveversion" {
		writeFileAtomic(e.Path(filepath.Join(faultMarkerDir, args[0])), nil, 0o644)
	}
	return 0
}

func (e *Env) faultGuests() error {
	node, err := e.NodeName()
	if err != nil {
		return err
	}
	// The backing directory is writable even while /etc/pve is read-only.
	nodeDir := filepath.Join(e.BackingDir(), "nodes", node)
	vm := "boot: order=scsi0\ncores: 1\nmemory: 2048\nname: vm100\nnet0: virtio=BC:24:11:00:01:00,bridge=vmbr0\nostype: l26\nscsi0: local-lvm:vm-100-disk-0,size=32G\nscsihw: virtio-scsi-single\n"
	ct := "arch: amd64\ncores: 1\nhostname: ct101\nmemory: 512\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:01:01,ip=dhcp,type=veth\nostype: debian\nrootfs: local-lvm:vm-101-disk-0,size=8G\nswap: 512\n"
	if err := writeFileAtomic(filepath.Join(nodeDir, "qemu-server", "100.conf"), []byte(vm), 0o640); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(nodeDir, "lxc", "101.conf"), []byte(ct), 0o640)
}

// faultForeignCluster makes the host the first node of a two-node cluster "foreign" whose
// other member never shows up: clustered, corosync running, not quorate.
func (e *Env) faultForeignCluster(ctx context.Context) error {
	if e.ClusterID() != "" || fileExists(e.Path(clusterConfPath)) {
		return fmt.Errorf("host is already in a cluster")
	}
	node, err := e.NodeName()
	if err != nil {
		return err
	}
	ip, err := e.NodeIP()
	if err != nil {
		return err
	}
	coefficient := 125
	conf := NewClusterConf("foreign", node, 1, 1, []Link{{Number: 0, Address: ip}}, &coefficient)
	ghost := &ConfSection{Items: []ConfItem{{Key: "name", Value: "ghost"}, {Key: "nodeid", Value: "2"}, {Key: "quorum_votes", Value: "1"}, {Key: "ring0_addr", Value: "198.51.100.250"}}}
	conf.Section("nodelist").Items = append(conf.Section("nodelist").Items, ConfItem{Key: "node", Sub: ghost})
	quiet := *e
	quiet.Stdout, quiet.Stderr = devNullWriter{}, devNullWriter{}
	if err := quiet.corosyncKeygen(authKeyPath); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(e.Path(localDBDir), "corosync.conf"), []byte(conf.Format()), 0o640); err != nil {
		return err
	}
	if code := quiet.Systemctl(ctx, []string{"restart", "corosync", "pve-cluster"}); code != 0 {
		return fmt.Errorf("restart corosync and pve-cluster failed")
	}
	return nil
}

// faultHalfJoined leaves an authkey and a corosync running on a one-node config that is
// not a PVE cluster (/etc/pve/corosync.conf absent): a join that died half-way.
func (e *Env) faultHalfJoined(ctx context.Context) error {
	node, err := e.NodeName()
	if err != nil {
		return err
	}
	ip, err := e.NodeIP()
	if err != nil {
		return err
	}
	quiet := *e
	quiet.Stdout, quiet.Stderr = devNullWriter{}, devNullWriter{}
	if err := quiet.corosyncKeygen(authKeyPath); err != nil {
		return err
	}
	conf := NewClusterConf("halfjoined", node, 1, 1, []Link{{Number: 0, Address: ip}}, nil)
	if err := writeFileAtomic(e.Path(localCorosyncConf), []byte(conf.Format()), 0o644); err != nil {
		return err
	}
	if code := quiet.Systemctl(ctx, []string{"start", "corosync"}); code != 0 {
		return fmt.Errorf("start corosync failed")
	}
	return nil
}

func (e *Env) faultMarked(kind string) bool {
	return fileExists(e.Path(filepath.Join(faultMarkerDir, kind)))
}

func (e *Env) faultClear(ctx context.Context) error {
	quiet := *e
	quiet.Stdout, quiet.Stderr = devNullWriter{}, devNullWriter{}
	if e.faultMarked("guests") {
		node, err := e.NodeName()
		if err != nil {
			return err
		}
		nodeDir := filepath.Join(e.BackingDir(), "nodes", node)
		os.Remove(filepath.Join(nodeDir, "qemu-server", "100.conf"))
		os.Remove(filepath.Join(nodeDir, "lxc", "101.conf"))
	}
	if e.faultMarked("foreign-cluster") && strings.HasPrefix(e.ClusterID(), "foreign-") {
		shared := e.BackingDir()
		quiet.Systemctl(ctx, []string{"stop", "pve-cluster", "corosync"})
		if err := copyTree(shared, e.Path(localDBDir)); err != nil {
			return err
		}
		os.Remove(filepath.Join(e.Path(localDBDir), "corosync.conf"))
		os.RemoveAll(shared)
		os.Remove(e.Path(clusterIDPath))
		os.Remove(e.Path(authKeyPath))
		os.Remove(e.Path(localCorosyncConf))
		if code := quiet.Systemctl(ctx, []string{"start", "pve-cluster"}); code != 0 {
			return fmt.Errorf("start pve-cluster failed")
		}
	}
	if e.faultMarked("half-joined") && !fileExists(e.Path(clusterConfPath)) {
		quiet.Systemctl(ctx, []string{"stop", "corosync"})
		os.Remove(e.Path(authKeyPath))
		os.Remove(e.Path(localCorosyncConf))
	}
	os.Remove(e.Path(versionOverridePath))
	return os.RemoveAll(e.Path(faultMarkerDir))
}

type devNullWriter struct{}

func (devNullWriter) Write(p []byte) (int, error) { return len(p), nil }
