package pvesim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var fingerprintFormat = regexp.MustCompile(`^([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}$`)

// joinParams are the options of `pvecm add`.
type joinParams struct {
	host        string
	fingerprint string
	force       bool
	useSSH      bool
	nodeID      int
	votes       *int
	links       []Link
}

func (e *Env) pvecmAdd(ctx context.Context, args []string) int {
	spec := linkOptions(map[string]optKind{"fingerprint": optString, "force": optBool, "nodeid": optString, "votes": optString, "use_ssh": optBool})
	parsed, perr := parseCLI(args, spec, 1)
	if perr != nil {
		return e.paramFail("add", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("add", paramErr("hostname", "property is missing and it is not optional"))
	}
	params := joinParams{host: parsed.positional[0], force: parsed.opts["force"] == "1", useSSH: parsed.opts["use_ssh"] == "1"}
	if fp, ok := parsed.opts["fingerprint"]; ok {
		if !fingerprintFormat.MatchString(fp) {
			return e.paramFail("add", paramErr("fingerprint", "value does not match the regex pattern"))
		}
		params.fingerprint = fp
	}
	if v, ok := parsed.opts["nodeid"]; ok {
		id, err := strconv.Atoi(v)
		if err != nil || id < 1 {
			return e.paramFail("add", paramErr("nodeid", "value must have a minimum value of 1"))
		}
		params.nodeID = id
	}
	if v, ok := parsed.opts["votes"]; ok {
		votes, err := strconv.Atoi(v)
		if err != nil || votes < 0 {
			return e.paramFail("add", paramErr("votes", "value must have a minimum value of 0"))
		}
		params.votes = &votes
	}
	links, perr := parsed.parseLinks()
	if perr != nil {
		return e.paramFail("add", perr)
	}
	params.links = links

	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	// Restarting pmxcfs under a shell whose cwd is in /etc/pve breaks it (docs/pve.md §2.2 step 0).
	for _, base := range []string{pveDir, e.Path(pveDir)} {
		if e.Cwd == base || strings.HasPrefix(e.Cwd, base+"/") {
			return e.die(exitDie, errors.New("Navigate out of /etc/pve before running 'pvecm add', for example by running 'cd'."))
		}
	}
	node, err := e.NodeName()
	if err != nil {
		return e.die(exitDie, err)
	}
	return e.worker(func() error {
		if params.useSSH {
			return e.joinSSH(ctx, node, params)
		}
		password, err := e.readPassword(fmt.Sprintf("Please enter superuser (root) password for '%s': ", params.host))
		if err != nil {
			return err
		}
		unlock, err := lockLocal(e.Path(pvecmLockPath))
		if err != nil {
			return err
		}
		defer unlock()
		return e.joinAPI(ctx, node, password, params)
	})
}

// assertJoinable is PVE::Cluster::Setup::assert_joinable (docs/pve.md §2.5a).
func (e *Env) assertJoinable(ctx context.Context, localIP string, links []Link, force bool) error {
	var problems strings.Builder
	problem := func(msg string) { problems.WriteString("* " + msg + "\n") }
	if fileExists(e.Path(authKeyPath)) {
		problem(fmt.Sprintf("authentication key '%s' already exists", authKeyPath))
	}
	if fileExists(e.Path(clusterConfPath)) {
		problem(fmt.Sprintf("cluster config '%s' already exists", clusterConfPath))
	}
	if len(e.guestIDs()) > 0 {
		problem("this host already contains virtual guests")
	}
	if code, _ := e.runQuiet(ctx, "corosync-quorumtool", "-l"); code == 0 {
		problem("corosync is already running, is this node already in a cluster?!")
	}
	checkIP := func(ip, logID string) {
		if net.ParseIP(ip) == nil {
			resolved, err := e.ResolveHost(ip)
			if err != nil {
				problem(fmt.Sprintf("%s: cannot use '%s': %v\n", logID, ip, err))
				return
			}
			ip = resolved
		}
		if !e.HasLocalIP(ip) {
			problem(fmt.Sprintf("%s: cannot use IP '%s', not found on local node!\n", logID, ip))
		}
	}
	checkIP(localIP, "local node address")
	for _, link := range links {
		checkIP(link.Address, fmt.Sprintf("link%d", link.Number))
	}
	if problems.Len() == 0 {
		return nil
	}
	e.outf("detected the following error(s):\n%s", problems.String())
	if !force {
		return errors.New("Check if node may join a cluster failed!")
	}
	e.outf("\nWARNING : detected error but forced to continue!\n\n")
	return nil
}

// prepareJoin is what both join flows do before they reach the cluster (docs/pve.md §2.2 step 4,
// §2.4 step 1): the joinable checks, then sshd and root's SSH set-up. It returns the node's IP.
func (e *Env) prepareJoin(ctx context.Context, params joinParams) (string, error) {
	localIP, err := e.NodeIP()
	if err != nil {
		return "", err
	}
	if err := e.assertJoinable(ctx, localIP, params.links, params.force); err != nil {
		return "", err
	}
	e.setupSSHD(ctx)
	if err := e.setupRootSSH(ctx); err != nil {
		return "", err
	}
	e.setupSSHKeys()
	e.unmergeKnownHosts()
	return localIP, nil
}

// joinAPI is Setup::join (docs/pve.md §2.2).
func (e *Env) joinAPI(ctx context.Context, node, password string, params joinParams) error {
	localIP, err := e.prepareJoin(ctx, params)
	if err != nil {
		return err
	}
	e.outf("Establishing API connection with host '%s'\n", params.host)
	client := newAPIClient(e, params.host, params.fingerprint)
	if err := client.login(ctx, password); err != nil {
		return err
	}
	e.outf("Login succeeded.\n")
	e.outf("check cluster join API version\n")
	apiVersion := 0
	if err := client.call(ctx, http.MethodGet, "/cluster/config/apiversion", nil, &apiVersion); err != nil {
		apiVersion = 0
	}
	if err := assertClusterVersion(apiVersion); err != nil {
		return err
	}
	form := url.Values{}
	if params.force {
		form.Set("force", "1")
	}
	if params.nodeID != 0 {
		form.Set("nodeid", strconv.Itoa(params.nodeID))
	}
	if params.votes != nil {
		form.Set("votes", strconv.Itoa(*params.votes))
	}
	for _, link := range params.links {
		form.Set(fmt.Sprintf("link%d", link.Number), link.String())
	}
	if len(params.links) == 0 {
		if apiVersion == 0 {
			form.Set("link0", localIP)
		} else {
			form.Set("new_node_ip", localIP)
		}
		e.outf("No cluster network links passed explicitly, fallback to local node IP '%s'\n", localIP)
	}
	if apiVersion >= 1 {
		form.Set("apiversion", strconv.Itoa(joinAPIVersion))
	}
	e.outf("Request addition of this node\n")
	var res AddNodeResult
	if err := client.call(ctx, http.MethodPost, "/cluster/config/nodes/"+node, form, &res); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Code != 0 {
			if apiErr.Code == 501 {
				return errors.New("Remote side is not able to use API for Cluster join!\nPass the 'use_ssh' switch or update the remote side.")
			}
			e.outf("An error occurred on the cluster node: %s\n", strings.TrimSuffix(apiErr.Message, "\n"))
			for _, key := range sortedKeys(apiErr.Errors) {
				symbol := "!"
				if strings.HasPrefix(key, "warning") {
					symbol = "*"
				}
				e.outf("%s %s\n", symbol, apiErr.Errors[key])
			}
			return errors.New("Cluster join aborted!")
		}
		return err
	}
	for _, warning := range res.Warnings {
		e.outf("cluster: %s\n", warning)
	}
	e.outf("Join request OK, finishing setup locally\n")
	authKey, err := base64.StdEncoding.DecodeString(res.AuthKey)
	if err != nil {
		return fmt.Errorf("decode authkey: %w", err)
	}
	return e.finishJoin(ctx, node, res.Conf, authKey, res.ClusterID)
}

// assertClusterVersion is assert_we_can_join_cluster_version.
func assertClusterVersion(version int) error {
	if version >= joinAPIVersion-1 {
		return nil
	}
	return fmt.Errorf("error: incompatible join API version on cluster (%d), local node has %d and supports >= %d. Make sureall cluster nodes are up-to-date.", version, joinAPIVersion, joinAPIVersion-1)
}

// setupRootSSH is setup_rootsshconfig: an RSA key for root and a ~/.ssh/config. PVE makes
// a 4096-bit key; 2048 bits keep the lab fast on small machines.
func (e *Env) setupRootSSH(ctx context.Context) error {
	sshDir := e.Path("/root/.ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return fmt.Errorf("create /root/.ssh: %w", err)
	}
	if !fileExists(filepath.Join(sshDir, "id_rsa.pub")) {
		if code, out := e.runQuiet(ctx, "ssh-keygen", "-t", "rsa", "-N", "", "-b", "2048", "-f", filepath.Join(sshDir, "id_rsa")); code != 0 {
			return fmt.Errorf("command 'ssh-keygen -t rsa -N '' -b 2048 -f /root/.ssh/id_rsa' failed: exit code %d: %s", code, out)
		}
	}
	config := filepath.Join(sshDir, "config")
	if !fileExists(config) {
		os.WriteFile(config, []byte("Ciphers aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com\n"), 0o640)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
