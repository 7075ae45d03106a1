package pvesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// joinSSH is the --use_ssh flow of pvecm add (docs/pve.md §2.4): everything over root SSH in
// BatchMode, so it fails without key trust.
func (e *Env) joinSSH(ctx context.Context, node string, params joinParams) error {
	localIP, err := e.prepareJoin(ctx, params)
	if err != nil {
		return err
	}
	host := params.host
	if code, _ := e.runQuiet(ctx, "ssh-copy-id", "-i", "/root/.ssh/id_rsa", "root@"+host); code != 0 {
		return fmt.Errorf("unable to copy ssh ID: exit code %d", code)
	}
	remoteAPIVersion := 0
	if code, out := e.runStdout(ctx, "ssh", host, "-o", "BatchMode=yes", "pvecm", "apiver"); code == 0 {
		remoteAPIVersion, _ = strconv.Atoi(strings.TrimSpace(out))
	}
	if err := assertClusterVersion(remoteAPIVersion); err != nil {
		return err
	}
	cmd := []string{"ssh", host, "-o", "BatchMode=yes", "pvecm", "addnode", node, "--force", "1"}
	if params.nodeID != 0 {
		cmd = append(cmd, "--nodeid", strconv.Itoa(params.nodeID))
	}
	if params.votes != nil {
		cmd = append(cmd, "--votes", strconv.Itoa(*params.votes))
	}
	for _, link := range params.links {
		cmd = append(cmd, fmt.Sprintf("--link%d", link.Number), link.String())
	}
	if len(params.links) == 0 {
		if remoteAPIVersion == 0 {
			cmd = append(cmd, "--link0", localIP)
		} else {
			cmd = append(cmd, "--new_node_ip", localIP)
		}
		e.outf("No cluster network links passed explicitly, fallback to local node IP '%s'\n", localIP)
	}
	if code := e.runPassthrough(ctx, cmd[0], cmd[1:]...); code != 0 {
		return fmt.Errorf("unable to add node: command failed (%s)", strings.Join(cmd, " "))
	}
	tmp := e.Path(filepath.Join(pveLibDir, fmt.Sprintf(".pvecm_add.tmp.%d", os.Getpid())))
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	defer os.RemoveAll(tmp)
	e.outf("copy corosync auth key\n")
	code, _ := e.runQuiet(ctx, "rsync", "--rsh=ssh -l root -o BatchMode=yes", "-lpgoq",
		fmt.Sprintf("[%s]:%s", host, authKeyPath), fmt.Sprintf("[%s]:%s", host, clusterConfPath),
		fmt.Sprintf("[%s]:%s", host, clusterIDPath), tmp)
	if code != 0 {
		return fmt.Errorf("can't rsync data from host '%s'", host)
	}
	conf, err := os.ReadFile(filepath.Join(tmp, "corosync.conf"))
	if err != nil {
		return fmt.Errorf("can't rsync data from host '%s'", host)
	}
	authKey, err := os.ReadFile(filepath.Join(tmp, "authkey"))
	if err != nil {
		return fmt.Errorf("can't rsync data from host '%s'", host)
	}
	clusterID, _ := os.ReadFile(filepath.Join(tmp, "cluster-id"))
	return e.finishJoin(ctx, node, string(conf), authKey, strings.TrimSpace(string(clusterID)))
}

// runStdout runs a program with stdin closed and returns its exit code and stdout.
func (e *Env) runStdout(ctx context.Context, name string, args ...string) (int, string) {
	cmd := e.command(ctx, name, args...)
	var out strings.Builder
	cmd.Stdout = &out
	return exitCode(cmd.Run()), out.String()
}
