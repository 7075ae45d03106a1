package pvesim

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// joinAPIVersion is PVE::Cluster::Setup::JOIN_API_VERSION; the age is 1 too, so every
// version >= 0 may join.
const joinAPIVersion = 1

// APIError is a failed API call: HTTP code, message and the per-item details PVE puts in
// an exception's errors hash.
type APIError struct {
	Code    int
	Message string
	Errors  map[string]string
}

func (e *APIError) Error() string { return strings.TrimSuffix(e.Message, "\n") }

// AddNodeRequest holds the parameters of POST /cluster/config/nodes/{node} and of
// `pvecm addnode`.
type AddNodeRequest struct {
	Node       string
	NodeID     int  // 0: not given
	Votes      *int // nil: not given
	Force      bool
	NewNodeIP  string
	APIVersion int
	Links      []Link
}

// AddNodeResult is what the cluster node sends back. ClusterID is the stand-in's own field:
// which shared /etc/pve the joiner mounts.
type AddNodeResult struct {
	AuthKey   string   `json:"corosync_authkey"`
	Conf      string   `json:"corosync_conf"`
	Warnings  []string `json:"warnings"`
	ClusterID string   `json:"pvesim_cluster_id"`
}

// lockClusterConf is cfs_lock_file('corosync.conf', 10, ...) across all members: an
// flock on a file in the shared directory.
func lockClusterConf(dir string) (func(), error) {
	path := filepath.Join(dir, ".pvesim-corosync.conf.lock")
	file, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cfs-lock 'file-corosync_conf' error: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return func() { file.Close() }, nil
		}
		if time.Now().After(deadline) {
			file.Close()
			return nil, fmt.Errorf("cfs-lock 'file-corosync_conf' error: got lock request timeout")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyConf is PVE::Corosync::verify_conf, reduced to the checks that can fail in the lab.
func verifyConf(conf *ConfSection) (errs, warnings []string) {
	nodes := conf.Nodes()
	if len(nodes) == 0 {
		return []string{"no nodes found"}, nil
	}
	totem := conf.Section("totem")
	if totem == nil {
		return []string{"no totem found"}, nil
	}
	if totem.Get("secauth") != "on" && (totem.Get("crypto_cipher") == "" || totem.Get("crypto_cipher") == "none") {
		warnings = append(warnings, "warning: authentication/encryption is not explicitly enabled (secauth / crypto_cipher / crypto_hash)")
	}
	interfaces := map[string]bool{}
	for _, iface := range totem.Sections("interface") {
		interfaces[iface.Get("linknumber")] = true
	}
	names := make([]string, 0, len(nodes))
	byName := map[string]*ConfSection{}
	for _, node := range nodes {
		names = append(names, node.Get("name"))
		byName[node.Get("name")] = node
	}
	sort.Strings(names)
	for link := 0; link <= 7; link++ {
		key := fmt.Sprintf("ring%d_addr", link)
		withLink := 0
		for _, name := range names {
			if byName[name].Get(key) != "" {
				withLink++
			}
		}
		for _, name := range names {
			has := byName[name].Get(key) != ""
			switch {
			case len(interfaces) > 0 && has && !interfaces[strconv.Itoa(link)]:
				errs = append(errs, fmt.Sprintf("node '%s' has '%s', but there is no interface number %d configured", name, key, link))
			case len(interfaces) > 0 && !has && interfaces[strconv.Itoa(link)]:
				errs = append(errs, fmt.Sprintf("node '%s' is missing address forinterface number %d", name, link))
			case len(interfaces) == 0 && !has && withLink > 0:
				errs = append(errs, fmt.Sprintf("node '%s' is missing link %d, which is configured on other nodes", name, link))
			}
		}
	}
	return errs, warnings
}

// AddNode is ClusterConfig.pm addnode: the cluster-side half of a join. Messages a real
// node prints go to out (the CLI's stdout, or the task log for the API).
func (e *Env) AddNode(ctx context.Context, req AddNodeRequest, out io.Writer) (*AddNodeResult, error) {
	if req.APIVersion < joinAPIVersion-1 {
		return nil, &APIError{Code: 500, Message: fmt.Sprintf("error: unsupported old API version on joining node (%d), cluster node has %d and supports >= %d. Please upgrade node before joining\n", req.APIVersion, joinAPIVersion, joinAPIVersion-1)}
	}
	if !e.Quorate() {
		return nil, &APIError{Code: 500, Message: "cluster not ready - no quorum?\n"}
	}
	tree := e.BackingDir()
	unlock, err := lockClusterConf(tree)
	if err != nil {
		return nil, &APIError{Code: 500, Message: err.Error() + "\n"}
	}
	defer unlock()

	raw, _ := os.ReadFile(filepath.Join(tree, "corosync.conf"))
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return nil, &APIError{Code: 500, Message: err.Error() + "\n"}
	}
	vcErrors, vcWarnings := verifyConf(conf)
	if len(vcErrors) > 0 {
		details := map[string]string{}
		for i, w := range vcWarnings {
			details[fmt.Sprintf("warning%d", i)] = w
		}
		for i, msg := range vcErrors {
			details[fmt.Sprintf("error%d", i)] = msg
		}
		return nil, &APIError{Code: 500, Message: "invalid corosync.conf\n", Errors: details}
	}
	fail := func(format string, args ...any) (*AddNodeResult, error) {
		return nil, &APIError{Code: 500, Message: fmt.Sprintf(format, args...)}
	}

	for _, link := range req.Links {
		for _, node := range conf.Nodes() {
			if node.Get("name") == req.Node {
				continue
			}
			for n := 0; n <= 7; n++ {
				key := fmt.Sprintf("ring%d_addr", n)
				if node.Get(key) != "" && node.Get(key) == link.Address {
					return fail("corosync: address '%s' already used on link %s by node '%s'\n", link.Address, key, node.Get("name"))
				}
			}
		}
	}
	clusterLinks := map[int]bool{}
	for n := 0; n <= 7; n++ {
		if conf.Nodes()[0].Get(fmt.Sprintf("ring%d_addr", n)) != "" {
			clusterLinks[n] = true
		}
	}
	links := append([]Link(nil), req.Links...)
	if len(links) > 0 {
		given := map[int]bool{}
		for _, link := range links {
			given[link.Number] = true
		}
		for n := 0; n <= 7; n++ {
			if clusterLinks[n] && !given[n] {
				return fail("corosync: link %d exists in cluster config but wasn't specified for new node\n", n)
			}
			if !clusterLinks[n] && given[n] {
				return fail("corosync: link %d specified for new node doesn't exist in cluster config\n", n)
			}
		}
	} else {
		if req.NewNodeIP == "" {
			return fail("no links and no fallback ip (new_node_ip) given, cannot join cluster\n")
		}
		if len(clusterLinks) != 1 {
			return fail("no links given but multiple links found on other nodes, fallback only supported on single-link clusters\n")
		}
		for n := range clusterLinks {
			links = []Link{{Number: n, Address: req.NewNodeIP}}
		}
	}

	nodeID := req.NodeID
	votes := 1
	if req.Votes != nil {
		votes = *req.Votes
	}
	if existing := conf.FindNode(req.Node); existing != nil {
		existingID, _ := strconv.Atoi(existing.Get("nodeid"))
		existingVotes, _ := strconv.Atoi(existing.Get("quorum_votes"))
		if nodeID == 0 {
			nodeID = existingID
		}
		if req.Votes == nil {
			votes = existingVotes
		}
		if !(existingVotes == votes && existingID == nodeID && req.Force) {
			return fail("can't add existing node '%s'\n", req.Node)
		}
		fmt.Fprintf(out, "forcing overwrite of configured node '%s'\n", req.Node)
	} else if nodeID == 0 {
		used := map[string]bool{}
		for _, node := range conf.Nodes() {
			used[node.Get("nodeid")] = true
		}
		for nodeID = 1; used[strconv.Itoa(nodeID)]; nodeID++ {
		}
	}

	if err := ensureNodeDirs(tree, req.Node); err != nil {
		return nil, err
	}
	if err := e.sshMergeKeys(tree); err != nil {
		fmt.Fprintln(out, err)
	}
	entry := &ConfSection{Items: []ConfItem{{Key: "name", Value: req.Node}, {Key: "nodeid", Value: strconv.Itoa(nodeID)}}}
	if votes != 0 {
		entry.Set("quorum_votes", strconv.Itoa(votes))
	}
	for _, link := range links {
		entry.Set(fmt.Sprintf("ring%d_addr", link.Number), link.Address)
	}
	replaceNode(conf, req.Node, entry)
	if err := writeClusterConf(tree, conf); err != nil {
		return nil, err
	}

	authKey, err := os.ReadFile(e.Path(authKeyPath))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", authKeyPath, err)
	}
	confText, err := os.ReadFile(filepath.Join(tree, "corosync.conf"))
	if err != nil {
		return nil, fmt.Errorf("read cluster corosync.conf: %w", err)
	}
	return &AddNodeResult{
		AuthKey:   base64.StdEncoding.EncodeToString(authKey),
		Conf:      string(confText),
		Warnings:  vcWarnings,
		ClusterID: e.ClusterID(),
	}, nil
}

// ensureNodeDirs is gen_local_dirs for a node.
func ensureNodeDirs(tree, node string) error {
	for _, sub := range []string{"qemu-server", "lxc", "openvz", "priv"} {
		if err := os.MkdirAll(filepath.Join(tree, "nodes", node, sub), 0o755); err != nil {
			return fmt.Errorf("create node directory: %w", err)
		}
	}
	return nil
}

// replaceNode puts entry into the nodelist (replacing a node of the same name, or removing
// it when entry is nil).
func replaceNode(conf *ConfSection, name string, entry *ConfSection) {
	nodelist := conf.Section("nodelist")
	if nodelist == nil {
		nodelist = &ConfSection{}
		conf.Items = append(conf.Items, ConfItem{Key: "nodelist", Sub: nodelist})
	}
	kept := nodelist.Items[:0]
	for _, item := range nodelist.Items {
		if item.Key == "node" && item.Sub != nil && item.Sub.Get("name") == name {
			continue
		}
		kept = append(kept, item)
	}
	nodelist.Items = kept
	if entry != nil {
		nodelist.Items = append(nodelist.Items, ConfItem{Key: "node", Sub: entry})
	}
}

// writeClusterConf is atomic_write_conf: bump config_version and write corosync.conf.new,
// then rename it.
func writeClusterConf(tree string, conf *ConfSection) error {
	totem := conf.Section("totem")
	if totem == nil {
		return fmt.Errorf("corosync.conf has no totem section")
	}
	totem.Set("config_version", strconv.Itoa(conf.ConfigVersion()+1))
	path := filepath.Join(tree, "corosync.conf")
	if err := os.WriteFile(path+".new", []byte(conf.Format()), 0o640); err != nil {
		return fmt.Errorf("write corosync.conf.new: %w", err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		return fmt.Errorf("rename corosync.conf.new: %w", err)
	}
	return nil
}
