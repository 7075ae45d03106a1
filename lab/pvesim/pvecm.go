package pvesim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Exit codes of a Perl die outside the worker: 255 (errno is usually clear), and 2 where a
// failed -f test leaves ENOENT behind (check_conf_exists, docs/pve.md §3.1).
const (
	exitDie       = 255
	exitDieENOENT = 2
)

var pvecmUsage = map[string]string{
	"create":      "pvecm create <clustername> [OPTIONS]",
	"add":         "pvecm add <hostname> [OPTIONS]",
	"addnode":     "pvecm addnode <node> [OPTIONS]",
	"delnode":     "pvecm delnode <node>",
	"status":      "pvecm status",
	"nodes":       "pvecm nodes",
	"expected":    "pvecm expected <expected>",
	"apiver":      "pvecm apiver",
	"keygen":      "pvecm keygen <filename>",
	"updatecerts": "pvecm updatecerts  [OPTIONS]",
	"qdevice":     "pvecm qdevice <cmd> ...",
}

// Pvecm is the `pvecm` command.
func (e *Env) Pvecm(ctx context.Context, args []string) int {
	if len(args) == 0 {
		e.errf("ERROR: no command specified\nUSAGE: pvecm <COMMAND> [ARGS] [OPTIONS]\n")
		return exitDie
	}
	if err := e.pvecmPrepare(); err != nil {
		return e.die(exitDie, err)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "create":
		return e.pvecmCreate(ctx, rest)
	case "add":
		return e.pvecmAdd(ctx, rest)
	case "addnode":
		return e.pvecmAddNode(ctx, rest)
	case "delnode":
		return e.pvecmDelNode(ctx, rest)
	case "status":
		return e.pvecmExecQuorumtool(ctx, "status", rest, true, "-siH")
	case "nodes":
		return e.pvecmExecQuorumtool(ctx, "nodes", rest, false, "-l")
	case "expected":
		return e.pvecmExpected(ctx, rest)
	case "apiver":
		e.outf("%d\n", joinAPIVersion)
		return 0
	case "keygen":
		return e.pvecmKeygen(ctx, rest)
	case "updatecerts":
		return e.pvecmUpdateCerts(ctx, rest)
	case "qdevice":
		return e.pvecmQdevice(ctx, rest)
	}
	e.errf("ERROR: unknown command 'pvecm %s'\nUSAGE: pvecm <COMMAND> [ARGS] [OPTIONS]\n", cmd)
	return exitDie
}

// pvecmPrepare is the prepare step of /usr/bin/pvecm, run before any subcommand: pmxcfs
// must be mounted and, outside a cluster, the node name must resolve (in a cluster the
// address comes from pmxcfs's node list).
func (e *Env) pvecmPrepare() error {
	if err := e.checkPmxcfs(); err != nil {
		return err
	}
	if e.ClusterID() != "" {
		return nil
	}
	_, err := e.NodeIP()
	return err
}

// die prints a message as Perl's die does outside a worker.
func (e *Env) die(code int, err error) int {
	var perr *ParamError
	if errors.As(err, &perr) {
		return code
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	e.errf("%s", msg)
	return code
}

func (e *Env) paramFail(cmd string, perr *ParamError) int {
	e.errf("%s", perr.format(pvecmUsage[cmd]))
	return exitDie
}

// worker runs fn as fork_worker does in CLI mode: everything it prints goes to stdout, its
// failure to stderr on one line without "TASK ERROR: ", and the exit code is 0 either way.
func (e *Env) worker(fn func() error) int {
	if err := fn(); err != nil {
		msg := strings.TrimRight(err.Error(), "\n")
		e.errf("%s\n", strings.ReplaceAll(msg, "\n", " "))
	}
	return 0
}

func versionAtLeast(version string, major, minor, patch int) bool {
	fields := strings.FieldsFunc(version, func(r rune) bool { return r == '.' || r == '-' })
	want := []int{major, minor, patch}
	for i := 0; i < 3; i++ {
		have := 0
		if i < len(fields) {
			have, _ = strconv.Atoi(fields[i])
		}
		if have != want[i] {
			return have > want[i]
		}
	}
	return true
}

// checkConfExists is PVE::Corosync::check_conf_exists.
func (e *Env) checkConfExists() error {
	if !fileExists(e.Path(clusterConfPath)) {
		return fmt.Errorf("Error: Corosync config '%s' does not exist - is this node part of a cluster?", clusterConfPath)
	}
	return nil
}

// errPmxcfsDown is what the CLI tools print when pmxcfs is not running: loading the access
// control list over pmxcfs's IPC fails before any command runs (docs/pve.md §1.2).
var errPmxcfsDown = errors.New("ipcc_send_rec[1] failed: Connection refused\nUnable to load access control list: Connection refused")

// checkPmxcfs is the common start of every CLI tool: pmxcfs must be serving /etc/pve. In the
// stand-in /etc/pve is mounted exactly while pmxcfs runs.
func (e *Env) checkPmxcfs() error {
	if e.Sandboxed() {
		if _, err := os.Stat(e.Path(pveDir + "/nodes")); err != nil {
			return errPmxcfsDown
		}
		return nil
	}
	if !pveMounted() {
		return errPmxcfsDown
	}
	return nil
}

func (e *Env) pvecmCreate(ctx context.Context, args []string) int {
	host, err := e.Host()
	if err != nil {
		return e.die(exitDie, err)
	}
	spec := linkOptions(map[string]optKind{"nodeid": optString, "votes": optString})
	newStyle := versionAtLeast(host.Version, 9, 1, 0)
	if newStyle {
		spec["token-coefficient"] = optString
	}
	parsed, perr := parseCLI(args, spec, 1)
	if perr != nil {
		return e.paramFail("create", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("create", paramErr("clustername", "property is missing and it is not optional"))
	}
	name := parsed.positional[0]
	if !validNodeName(name) {
		return e.paramFail("create", paramErr("clustername", "invalid format - value does not look like a valid node name\n"))
	}
	if len(name) > 15 {
		return e.paramFail("create", paramErr("clustername", "value may only be 15 characters long"))
	}
	links, perr := parsed.parseLinks()
	if perr != nil {
		return e.paramFail("create", perr)
	}
	nodeID, votes := 1, 1
	if v, ok := parsed.opts["nodeid"]; ok {
		if nodeID, err = strconv.Atoi(v); err != nil || nodeID < 1 {
			return e.paramFail("create", paramErr("nodeid", "value must have a minimum value of 1"))
		}
	}
	if v, ok := parsed.opts["votes"]; ok {
		if votes, err = strconv.Atoi(v); err != nil || votes < 1 {
			return e.paramFail("create", paramErr("votes", "value must have a minimum value of 1"))
		}
	}
	var coefficient *int
	if newStyle {
		value := 125
		if v, ok := parsed.opts["token-coefficient"]; ok {
			if value, err = strconv.Atoi(v); err != nil || value < 0 {
				return e.paramFail("create", paramErr("token-coefficient", "value must have a minimum value of 0"))
			}
		}
		coefficient = &value
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	ip, err := e.NodeIP()
	if err != nil {
		return e.die(exitDie, err)
	}
	if fileExists(e.Path(clusterConfPath)) {
		return e.die(exitDie, fmt.Errorf("cluster config '%s' already exists", clusterConfPath))
	}
	return e.worker(func() error {
		unlock, err := lockLocal(e.Path(pvecmLockPath))
		if err != nil {
			return err
		}
		defer unlock()
		e.setupSSHD(ctx)
		if err := e.setupRootSSH(ctx); err != nil {
			return err
		}
		e.setupSSHKeys()
		if !fileExists(e.Path(authKeyPath)) {
			if err := e.corosyncKeygen(authKeyPath); err != nil {
				return err
			}
		}
		if len(links) == 0 {
			links = []Link{{Number: 0, Address: ip}}
		}
		conf := NewClusterConf(name, host.Node, nodeID, votes, links, coefficient)
		e.outf("Writing corosync config to /etc/pve/corosync.conf\n")
		if err := writeFileAtomic(e.Path(clusterConfPath), []byte(conf.Format()), 0o640); err != nil {
			return err
		}
		if err := e.sshMergeKeys(e.pveTree()); err != nil {
			return err
		}
		if err := genNodeCert(e.pveTree(), host.Node, ip, false); err != nil {
			return err
		}
		if err := e.mergeKnownHosts(host.Node, ip); err != nil {
			return err
		}
		e.outf("Restart corosync and cluster filesystem\n")
		if code := e.Systemctl(ctx, []string{"restart", "corosync", "pve-cluster"}); code != 0 {
			return fmt.Errorf("command 'systemctl restart corosync pve-cluster' failed: exit code %d", code)
		}
		return nil
	})
}
