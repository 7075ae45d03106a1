package pvesim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// pvecmAddNode is `pvecm addnode`: the cluster-side add, run over ssh by --use_ssh joins.
func (e *Env) pvecmAddNode(ctx context.Context, args []string) int {
	spec := linkOptions(map[string]optKind{"force": optBool, "nodeid": optString, "votes": optString, "new_node_ip": optString, "apiversion": optString})
	parsed, perr := parseCLI(args, spec, 1)
	if perr != nil {
		return e.paramFail("addnode", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("addnode", paramErr("node", "property is missing and it is not optional"))
	}
	if !validNodeName(parsed.positional[0]) {
		return e.paramFail("addnode", paramErr("node", "invalid format - value does not look like a valid node name\n"))
	}
	req := AddNodeRequest{Node: parsed.positional[0], Force: parsed.opts["force"] == "1", NewNodeIP: parsed.opts["new_node_ip"]}
	req.NodeID, _ = strconv.Atoi(parsed.opts["nodeid"])
	req.APIVersion, _ = strconv.Atoi(parsed.opts["apiversion"])
	if v, ok := parsed.opts["votes"]; ok {
		votes, _ := strconv.Atoi(v)
		req.Votes = &votes
	}
	links, perr := parsed.parseLinks()
	if perr != nil {
		return e.paramFail("addnode", perr)
	}
	req.Links = links
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	if _, err := e.AddNode(ctx, req, e.Stdout); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			msg := apiErr.Message
			for _, key := range sortedKeys(apiErr.Errors) {
				msg += key + ": " + apiErr.Errors[key] + "\n"
			}
			e.errf("%s", msg)
			return exitDie
		}
		return e.die(exitDie, err)
	}
	return 0
}

// pvecmDelNode is ClusterConfig.pm delnode (docs/pve.md §3.4); not a worker, so errors exit
// non-zero.
func (e *Env) pvecmDelNode(ctx context.Context, args []string) int {
	parsed, perr := parseCLI(args, map[string]optKind{}, 1)
	if perr != nil {
		return e.paramFail("delnode", perr)
	}
	if len(parsed.positional) == 0 {
		return e.paramFail("delnode", paramErr("node", "property is missing and it is not optional"))
	}
	target := parsed.positional[0]
	if !validNodeName(target) {
		return e.paramFail("delnode", paramErr("node", "invalid format - value does not look like a valid node name\n"))
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	self, err := e.NodeName()
	if err != nil {
		return e.die(exitDie, err)
	}
	if target == self {
		return e.die(exitDie, errors.New("Cannot delete myself from cluster!"))
	}
	if !e.Quorate() {
		return e.die(exitDie, errors.New("cluster not ready - no quorum?"))
	}
	tree := e.BackingDir()
	unlock, err := lockClusterConf(tree)
	if err != nil {
		return e.die(exitDie, err)
	}
	defer unlock()
	raw, _ := os.ReadFile(e.Path(clusterConfPath))
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return e.die(exitDie, err)
	}
	var found *ConfSection
	for _, node := range conf.Nodes() {
		if node.Get("name") == target || node.Get("ring0_addr") == target || node.Get("ring1_addr") == target {
			found = node
			break
		}
	}
	if found == nil {
		return e.die(exitDie, fmt.Errorf("Node/IP: %s is not a known host of the cluster.", target))
	}
	replaceNode(conf, found.Get("name"), nil)
	// Allowed to fail when the node is already off; its output is shown as is.
	e.runPassthrough(ctx, "corosync-cfgtool", "-k", found.Get("nodeid"))
	if err := writeClusterConf(tree, conf); err != nil {
		return e.die(exitDie, err)
	}
	return 0
}
