package pvesim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// `pvecm qdevice setup|remove` (docs/pve.md §3.6), as pvecm.pm does it: ssh to the qnetd host
// and to every member, the real corosync-qnetd-certutil / corosync-qdevice-net-certutil, then the
// device section in corosync.conf and corosync-qdevice on every node. Not a worker: a
// failure exits non-zero.

type clusterMember struct {
	name   string
	ip     string
	online bool
}

// clusterMembers is get_members: the nodelist, with who is in corosync's membership.
func (e *Env) clusterMembers(ctx context.Context) ([]clusterMember, *ConfSection, error) {
	raw, err := os.ReadFile(e.Path(clusterConfPath))
	if err != nil {
		return nil, nil, err
	}
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return nil, nil, err
	}
	online := e.corosyncMembers(ctx)
	var members []clusterMember
	for _, node := range conf.Nodes() {
		id, _ := strconv.Atoi(node.Get("nodeid"))
		members = append(members, clusterMember{name: node.Get("name"), ip: node.Get("ring0_addr"), online: online[id]})
	}
	sort.Slice(members, func(i, j int) bool { return members[i].name < members[j].name })
	return members, conf, nil
}

// sshToMember is ssh_info_to_command: pinned to the node's key in /etc/pve.
func sshToMember(m clusterMember, args ...string) []string {
	cmd := []string{"/usr/bin/ssh", "-e", "none", "-o", "BatchMode=yes", "-o", "HostKeyAlias=" + m.name,
		"-o", "UserKnownHostsFile=/etc/pve/nodes/" + m.name + "/ssh_known_hosts", "-o", "GlobalKnownHostsFile=none",
		"root@" + m.ip, "--"}
	return append(cmd, args...)
}

// runCommand is PVE::Tools::run_command: output passes through, failure dies.
func (e *Env) runCommand(ctx context.Context, cmd ...string) error {
	if code := e.runPassthrough(ctx, cmd[0], cmd[1:]...); code != 0 {
		return fmt.Errorf("command '%s' failed: exit code %d", strings.Join(cmd, " "), code)
	}
	return nil
}

// runOnMember runs a command over ssh and prints each output line as "\nnode '<n>': line".
func (e *Env) runOnMember(ctx context.Context, m clusterMember, noerr bool, args ...string) error {
	cmd := sshToMember(m, args...)
	run := e.command(ctx, cmd[0], cmd[1:]...)
	run.Stderr = e.Stderr
	out, err := run.StdoutPipe()
	if err != nil {
		return err
	}
	if err := run.Start(); err != nil {
		return err
	}
	scanner := bufio.NewScanner(out)
	for scanner.Scan() {
		e.outf("\nnode '%s': %s", m.name, scanner.Text())
	}
	if code := exitCode(run.Wait()); code != 0 && !noerr {
		return fmt.Errorf("command '%s' failed: exit code %d", strings.Join(cmd, " "), code)
	}
	return nil
}

func (e *Env) pvecmQdevice(ctx context.Context, args []string) int {
	if len(args) == 0 || (args[0] != "setup" && args[0] != "remove") {
		e.errf("ERROR: incomplete command 'pvecm qdevice'\nUSAGE: pvecm qdevice <cmd> ...\n")
		return exitDie
	}
	if args[0] == "remove" {
		if _, perr := parseCLI(args[1:], map[string]optKind{}, 0); perr != nil {
			e.errf("%s", perr.format("pvecm qdevice remove"))
			return exitDie
		}
		if err := e.checkConfExists(); err != nil {
			return e.die(exitDieENOENT, err)
		}
		if err := e.qdeviceRemove(ctx); err != nil {
			return e.die(exitDie, err)
		}
		return 0
	}
	parsed, perr := parseCLI(args[1:], map[string]optKind{"force": optBool, "network": optString}, 1)
	if perr == nil && len(parsed.positional) == 0 {
		perr = paramErr("address", "property is missing and it is not optional")
	}
	if perr == nil && net.ParseIP(parsed.positional[0]) == nil {
		perr = paramErr("address", "invalid format - value does not look like a valid IP address\n")
	}
	if perr != nil {
		e.errf("%s", perr.format("pvecm qdevice setup <address> [OPTIONS]"))
		return exitDie
	}
	if err := e.checkConfExists(); err != nil {
		return e.die(exitDieENOENT, err)
	}
	if err := e.qdeviceSetup(ctx, parsed.positional[0], parsed.opts["force"] == "1"); err != nil {
		return e.die(exitDie, err)
	}
	return 0
}

func (e *Env) qdeviceSetup(ctx context.Context, qnetd string, force bool) error {
	members, conf, err := e.clusterMembers(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !m.online {
			return fmt.Errorf("All nodes must be online! Node %s is offline, aborting.", m.name)
		}
	}
	if conf.Section("quorum").Section("device") != nil && !force {
		return errors.New("QDevice already configured!")
	}
	algorithm := "ffsplit"
	if len(members)%2 == 1 {
		if !force {
			return errors.New("Clusters with an odd node count are not officially supported!")
		}
		algorithm = "lms"
	}
	const (
		baseDir     = "/etc/corosync/qdevice/net"
		dbDirQnetd  = "/etc/corosync/qnetd/nssdb"
		dbDirNode   = baseDir + "/nssdb"
		caExport    = "qnetd-cacert.crt"
		crqFile     = "qdevice-net-node.crq"
		p12File     = "qdevice-net-node.p12"
		nodeCertutl = "corosync-qdevice-net-certutil"
		qnetdCertut = "corosync-qnetd-certutil"
	)
	clusterName := conf.Section("totem").Get("cluster_name")
	ssh := []string{"ssh", "-o", "BatchMode=yes", "-lroot"}
	scp := []string{"scp", "-o", "BatchMode=yes"}
	remote := "root@[" + qnetd + "]:"

	if err := e.runCommand(ctx, "ssh-copy-id", "-i", "/root/.ssh/id_rsa", "root@"+qnetd); err != nil {
		return err
	}
	if dirExists(e.Path(dbDirNode)) {
		if !force {
			return errors.New("QDevice certificate store already initialised, set force to delete!")
		}
		os.RemoveAll(e.Path(dbDirNode))
	}
	e.outf("\nINFO: initializing qnetd server\n")
	e.runPassthrough(ctx, ssh[0], append(ssh[1:], qnetd, qnetdCertut, "-i")...)

	e.outf("\nINFO: copying CA cert and initializing on all nodes\n")
	if err := e.runCommand(ctx, append(scp, remote+dbDirQnetd+"/"+caExport, "/etc/pve/"+caExport)...); err != nil {
		return err
	}
	for _, m := range members {
		if err := e.runOnMember(ctx, m, true, nodeCertutl, "-i", "-c", "/etc/pve/"+caExport); err != nil {
			return err
		}
	}
	os.Remove(e.Path("/etc/pve/" + caExport))

	steps := []struct {
		info string
		cmd  []string
	}{
		{"generating cert request", []string{nodeCertutl, "-r", "-n", clusterName}},
		{"copying exported cert request to qnetd server", append(append([]string{}, scp...), dbDirNode+"/"+crqFile, remote+"/tmp")},
		{"sign and export cluster cert", append(append([]string{}, ssh...), qnetd, qnetdCertut, "-s", "-c", "/tmp/"+crqFile, "-n", clusterName)},
		{"copy exported CRT", append(append([]string{}, scp...), remote+dbDirQnetd+"/cluster-"+clusterName+".crt", dbDirNode)},
		{"import certificate", []string{nodeCertutl, "-M", "-c", dbDirNode + "/cluster-" + clusterName + ".crt"}},
	}
	for _, step := range steps {
		e.outf("\nINFO: %s\n", step.info)
		if err := e.runCommand(ctx, step.cmd...); err != nil {
			return err
		}
	}
	e.outf("\nINFO: copy and import pk12 cert to all nodes\n")
	if err := e.runCommand(ctx, append(scp, dbDirNode+"/"+p12File, "/etc/pve/")...); err != nil {
		return err
	}
	for _, m := range members {
		if err := e.runOnMember(ctx, m, false, nodeCertutl, "-m", "-c", "/etc/pve/"+p12File); err != nil {
			return err
		}
	}
	os.Remove(e.Path("/etc/pve/" + p12File))

	e.outf("\nINFO: add QDevice to cluster configuration\n")
	err = e.updateClusterConf(func(conf *ConfSection) error {
		quorum := conf.Section("quorum")
		if quorum == nil {
			quorum = &ConfSection{}
			conf.Items = append(conf.Items, ConfItem{Key: "quorum", Sub: quorum})
		}
		if quorum.Section("device") != nil {
			return errors.New("Qdevice already configured, must be removed before setting up new one!")
		}
		device := &ConfSection{Items: []ConfItem{
			{Key: "model", Value: "net"},
			{Key: "net", Sub: &ConfSection{Items: []ConfItem{{Key: "algorithm", Value: algorithm}, {Key: "host", Value: qnetd}, {Key: "tls", Value: "on"}}}},
		}}
		if algorithm == "ffsplit" {
			device.Set("votes", "1")
		}
		quorum.Items = append(quorum.Items, ConfItem{Key: "device", Sub: device})
		return nil
	})
	if err != nil {
		return err
	}
	// Every member's pmxcfs must have written the new corosync.conf before qdevice starts.
	e.waitConfSynced(ctx, members)
	for _, m := range members {
		e.outf("\nINFO: start and enable corosync qdevice daemon on node '%s'...\n", m.name)
		if err := e.runOnMember(ctx, m, false, "systemctl", "start", "corosync-qdevice"); err != nil {
			return err
		}
		if err := e.runOnMember(ctx, m, false, "systemctl", "enable", "corosync-qdevice"); err != nil {
			return err
		}
	}
	return e.runCommand(ctx, "corosync-cfgtool", "-R")
}

func (e *Env) qdeviceRemove(ctx context.Context) error {
	members, _, err := e.clusterMembers(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !m.online {
			return fmt.Errorf("All nodes must be online! Node %s is offline, aborting.", m.name)
		}
	}
	err = e.updateClusterConf(func(conf *ConfSection) error {
		quorum := conf.Section("quorum")
		if quorum == nil || quorum.Section("device") == nil {
			return errors.New("No QDevice configured!")
		}
		quorum.RemoveAll("device")
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := e.runOnMember(ctx, m, false, "rm", "-rf", "/etc/corosync/qdevice"); err != nil {
			return err
		}
	}
	for _, m := range members {
		if err := e.runOnMember(ctx, m, false, "systemctl", "stop", "corosync-qdevice"); err != nil {
			return err
		}
		if err := e.runOnMember(ctx, m, false, "systemctl", "disable", "corosync-qdevice"); err != nil {
			return err
		}
	}
	if err := e.runCommand(ctx, "corosync-cfgtool", "-R"); err != nil {
		return err
	}
	e.outf("\nRemoved Qdevice.\n")
	return nil
}

// updateClusterConf edits /etc/pve/corosync.conf under the cluster-wide lock, bumping
// config_version (cfs_lock_file + atomic_write_conf).
func (e *Env) updateClusterConf(edit func(conf *ConfSection) error) error {
	if !e.Quorate() {
		return errors.New("cluster not ready - no quorum?")
	}
	tree := e.BackingDir()
	unlock, err := lockClusterConf(tree)
	if err != nil {
		return err
	}
	defer unlock()
	raw, err := os.ReadFile(filepath.Join(tree, "corosync.conf"))
	if err != nil {
		return err
	}
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return err
	}
	if err := edit(conf); err != nil {
		return err
	}
	return writeClusterConf(tree, conf)
}

// waitConfSynced waits (up to 10 s) until every member's /etc/corosync/corosync.conf has
// the cluster's config_version; real pmxcfs propagates it as fast.
func (e *Env) waitConfSynced(ctx context.Context, members []clusterMember) {
	raw, _ := os.ReadFile(e.Path(clusterConfPath))
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return
	}
	want := "config_version: " + strconv.Itoa(conf.ConfigVersion())
	for _, m := range members {
		probe := sshToMember(m, "grep", "-c", want, localCorosyncConf)
		pollUntil(ctx, 10*time.Second, 200*time.Millisecond, func() bool {
			code, out := e.runStdout(ctx, probe[0], probe[1:]...)
			return code == 0 && strings.TrimSpace(out) != "0"
		})
	}
}
