package pvesim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// corosyncKeygen does what `corosync-keygen -l -k FILE` does and prints its three lines.
func (e *Env) corosyncKeygen(file string) error {
	key := make([]byte, 256)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("gather key material: %w", err)
	}
	e.outf("Corosync Cluster Engine Authentication key generator.\n")
	e.outf("Gathering 2048 bits for key from /dev/urandom.\n")
	e.outf("Writing corosync key to %s.\n", file)
	if err := os.MkdirAll(filepath.Dir(e.Path(file)), 0o755); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	os.Remove(e.Path(file))
	if err := os.WriteFile(e.Path(file), key, 0o400); err != nil {
		return fmt.Errorf("Could not write key to %s: %w", file, err)
	}
	return nil
}

// pvecmExecQuorumtool is status / nodes: check_conf_exists, the header for status, then
// exec corosync-quorumtool, whose output and exit code are the command's.
func (e *Env) pvecmExecQuorumtool(ctx context.Context, cmd string, args []string, header bool, toolArgs ...string) int {
	if _, perr := parseCLI(args, map[string]optKind{}, 0); perr != nil {
		return e.paramFail(cmd, perr)
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	if err := e.checkConfExists(); err != nil {
		return e.die(exitDieENOENT, err)
	}
	if header {
		raw, _ := os.ReadFile(e.Path(clusterConfPath))
		conf, err := ParseCorosyncConf(string(raw))
		if err != nil {
			e.errf("%v\n", err)
			conf = &ConfSection{}
		}
		if totem := conf.Section("totem"); totem != nil && len(totem.Items) > 0 {
			info := func(label, key, def string) {
				value := totem.Get(key)
				if value == "" {
					value = def
				}
				e.outf("%-17s %s\n", label+":", value)
			}
			e.outf("Cluster information\n-------------------\n")
			info("Name", "cluster_name", "UNKOWN?")
			info("Config Version", "config_version", "-1")
			info("Transport", "transport", "knet")
			info("Secure auth", "secauth", "off")
			e.outf("\n")
		}
	}
	return e.runPassthrough(ctx, "corosync-quorumtool", toolArgs...)
}

func (e *Env) pvecmExpected(ctx context.Context, args []string) int {
	parsed, perr := parseCLI(args, map[string]optKind{}, 1)
	if perr != nil {
		return e.paramFail("expected", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("expected", paramErr("expected", "property is missing and it is not optional"))
	}
	value, err := strconv.Atoi(parsed.positional[0])
	if err != nil {
		return e.paramFail("expected", paramErr("expected", "type check ('integer') failed - got '"+parsed.positional[0]+"'"))
	}
	if value < 1 {
		return e.paramFail("expected", paramErr("expected", "value must have a minimum value of 1"))
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	if err := e.checkConfExists(); err != nil {
		return e.die(exitDieENOENT, err)
	}
	return e.runPassthrough(ctx, "corosync-quorumtool", "-e", strconv.Itoa(value))
}

func (e *Env) pvecmKeygen(ctx context.Context, args []string) int {
	parsed, perr := parseCLI(args, map[string]optKind{}, 1)
	if perr != nil {
		return e.paramFail("keygen", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("keygen", paramErr("filename", "property is missing and it is not optional"))
	}
	file := parsed.positional[0]
	if !filepath.IsAbs(file) {
		file = filepath.Join(e.Cwd, file)
	}
	if _, err := os.Lstat(e.Path(file)); err == nil {
		return e.die(exitDie, fmt.Errorf("key file '%s' already exists", parsed.positional[0]))
	}
	if err := e.corosyncKeygen(file); err != nil {
		return e.die(exitDie, err)
	}
	return 0
}

// pvecmUpdateCerts is `pvecm updatecerts`: wait for quorum (80 s), then regenerate.
func (e *Env) pvecmUpdateCerts(ctx context.Context, args []string) int {
	parsed, perr := parseCLI(args, map[string]optKind{"force": optBool, "silent": optBool, "unmerge-known-hosts": optBool}, 0)
	if perr != nil {
		return e.paramFail("updatecerts", perr)
	}
	ctx, cancel := context.WithTimeout(ctx, 80*time.Second)
	defer cancel()
	silent := parsed.opts["silent"] == "1"
	for !e.Quorate() || e.checkPmxcfs() != nil {
		if !silent {
			e.outf("waiting for pmxcfs mount to appear and get quorate...\n")
		}
		if !sleepCtx(ctx, 5*time.Second) {
			msg := "got timeout when trying to ensure cluster certificates and base file hierarchy is set up - no quorum (yet) or hung pmxcfs?\n"
			if silent {
				e.errf("%s", msg) // a warning: pveproxy's ExecStartPre must not fail
				return 0
			}
			return e.die(exitDie, errors.New(msg))
		}
	}
	runner := e
	if silent {
		quiet := *e
		quiet.Stdout = devNullWriter{}
		runner = &quiet
	}
	if err := runner.updateCertsAndSSH(parsed.opts["force"] == "1", parsed.opts["unmerge-known-hosts"] == "1"); err != nil {
		return e.die(exitDie, err)
	}
	return 0
}

// updateCertsAndSSH is updatecerts_and_ssh.
func (e *Env) updateCertsAndSSH(forceNewCert, unmergeKnownHosts bool) error {
	node, err := e.NodeName()
	if err != nil {
		return err
	}
	ip, err := e.NodeIP()
	if err != nil {
		return err
	}
	tree := e.pveTree()
	e.setupSSHKeys()
	e.outf("(re)generate node files\n")
	if forceNewCert {
		e.outf("generate new node certificate\n")
	}
	if err := ensureNodeDirs(tree, node); err != nil {
		return err
	}
	if err := genNodeCert(tree, node, ip, forceNewCert); err != nil {
		return err
	}
	e.outf("merge authorized SSH keys\n")
	if err := e.sshMergeKeys(tree); err != nil {
		return err
	}
	if err := e.createNodeKnownHosts(tree, node); err != nil {
		return err
	}
	if unmergeKnownHosts {
		e.outf("unmerge SSH known hosts\n")
	}
	return nil
}

// updateCertsSilent is `pvecm updatecerts --silent` on a quorate node.
func (e *Env) updateCertsSilent() error {
	quiet := *e
	quiet.Stdout = devNullWriter{}
	return quiet.updateCertsAndSSH(false, false)
}

func containsLine(text, line string) bool {
	line = strings.TrimSpace(line)
	for _, have := range strings.Split(text, "\n") {
		if strings.TrimSpace(have) == line {
			return true
		}
	}
	return false
}

// sleepCtx sleeps unless ctx ends first; it reports whether the full sleep happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
