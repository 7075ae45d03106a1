package pvesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Pvesh is `pvesh get PATH [--output-format json|json-pretty]` for the paths of docs/pve.md §4.
func (e *Env) Pvesh(ctx context.Context, args []string) int {
	if len(args) < 2 || args[0] != "get" {
		e.errf("pvesim: only 'pvesh get <path>' is implemented\n")
		return exitDie
	}
	path := "/" + strings.Trim(args[1], "/")
	format := "text"
	for i := 2; i < len(args); i++ {
		switch arg := strings.TrimLeft(args[i], "-"); {
		case arg == "output-format" && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(arg, "output-format="):
			format = strings.TrimPrefix(arg, "output-format=")
		}
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	data, apiErr := e.apiGet(ctx, path)
	if apiErr != nil {
		if apiErr.Code == 0 {
			e.errf("%s\n", strings.TrimSuffix(apiErr.Message, "\n"))
		} else {
			e.errf("%d %s\n", apiErr.Code, strings.TrimSuffix(apiErr.Message, "\n"))
		}
		return exitDie
	}
	return e.printFormatted(data, format)
}

// printFormatted mimics CLIFormatter: json is compact with sorted keys (Go maps marshal
// sorted), json-pretty indented; the text form prints JSON too (the bordered tables are not
// reproduced).
func (e *Env) printFormatted(data any, format string) int {
	var out []byte
	var err error
	if format == "json-pretty" {
		out, err = json.MarshalIndent(data, "", "   ")
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		err = enc.Encode(data)
		out = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	if err != nil {
		e.errf("%v\n", err)
		return exitDie
	}
	e.outf("%s\n", out)
	return 0
}

func (e *Env) apiGet(ctx context.Context, path string) (any, *APIError) {
	host, err := e.Host()
	if err != nil {
		return nil, &APIError{Code: 500, Message: err.Error()}
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/version":
		return versionInfo(host), nil
	case path == "/cluster/status":
		return e.clusterStatus(ctx, host)
	case path == "/cluster/config/nodes":
		conf, apiErr := e.readClusterConfForAPI()
		if apiErr != nil {
			return []any{}, nil
		}
		var list []map[string]string
		for _, node := range conf.Nodes() {
			entry := node.Values()
			entry["node"] = entry["name"]
			list = append(list, entry)
		}
		if list == nil {
			return []any{}, nil
		}
		return list, nil
	case path == "/cluster/config/join":
		return e.joinInfo(host)
	case path == "/cluster/config/apiversion":
		return joinAPIVersion, nil
	case path == "/cluster/config/qdevice":
		return e.qdeviceStatus()
	case len(parts) == 3 && parts[0] == "nodes" && (parts[2] == "qemu" || parts[2] == "lxc") && validNodeName(parts[1]):
		return e.guestList(parts[1], parts[2])
	}
	return nil, &APIError{Message: fmt.Sprintf("No 'get' handler defined for '%s'", path)}
}

// errNoJoinInfo is join_info's PVE::Exception::raise: its message has no newline, so the
// stringified exception names the raising line (pve-cluster 9.1.6).
func errNoJoinInfo() *APIError {
	return &APIError{Code: 424, Message: "node is not in a cluster, no join info available! at /usr/share/perl5/PVE/API2/ClusterConfig.pm line 585"}
}

func (e *Env) readClusterConfForAPI() (*ConfSection, *APIError) {
	raw, err := os.ReadFile(e.Path(clusterConfPath))
	if err != nil {
		return nil, errNoJoinInfo()
	}
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return nil, &APIError{Code: 500, Message: err.Error()}
	}
	return conf, nil
}

// clusterStatus is GET /cluster/status (docs/pve.md §4.1).
func (e *Env) clusterStatus(ctx context.Context, host HostConfig) (any, *APIError) {
	ip, _ := e.NodeIP()
	conf, apiErr := e.readClusterConfForAPI()
	if apiErr != nil {
		entry := map[string]any{"id": "node/" + host.Node, "level": "", "local": 1, "name": host.Node, "nodeid": 0, "online": 1, "type": "node"}
		if ip != "" {
			entry["ip"] = ip
		}
		return []any{entry}, nil
	}
	online := e.corosyncMembers(ctx)
	quorate := 0
	if e.Quorate() {
		quorate = 1
	}
	list := []any{map[string]any{
		"id": "cluster", "name": conf.Section("totem").Get("cluster_name"), "nodes": len(conf.Nodes()),
		"quorate": quorate, "type": "cluster", "version": conf.ConfigVersion(),
	}}
	for _, node := range conf.Nodes() {
		name := node.Get("name")
		id, _ := strconv.Atoi(node.Get("nodeid"))
		entry := map[string]any{"id": "node/" + name, "level": "", "local": boolInt(name == host.Node), "name": name,
			"nodeid": id, "online": boolInt(online[id]), "type": "node"}
		if addr := node.Get("ring0_addr"); addr != "" {
			entry["ip"] = addr
		}
		list = append(list, entry)
	}
	return list, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// corosyncMembers asks corosync which node ids are in the current membership.
func (e *Env) corosyncMembers(ctx context.Context) map[int]bool {
	members := map[int]bool{}
	code, out := e.runStdout(ctx, "corosync-quorumtool", "-l")
	if code != 0 && code != 2 {
		return members
	}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			if id, err := strconv.Atoi(fields[0]); err == nil {
				members[id] = true
			}
		}
	}
	return members
}

// joinInfo is GET /cluster/config/join (docs/pve.md §4.2).
func (e *Env) joinInfo(host HostConfig) (any, *APIError) {
	raw, err := os.ReadFile(e.Path(clusterConfPath))
	if err != nil {
		return nil, errNoJoinInfo()
	}
	conf, perr := ParseCorosyncConf(string(raw))
	if perr != nil {
		return nil, &APIError{Code: 500, Message: perr.Error()}
	}
	var nodes []map[string]string
	for _, node := range conf.Nodes() {
		entry := node.Values()
		name := entry["name"]
		entry["pve_addr"] = entry["ring0_addr"]
		certPath, _ := servedCertFiles(filepath.Join(e.pveTree(), "nodes", name))
		if cert, _, err := readCert(certPath); err == nil {
			entry["pve_fp"] = Fingerprint(cert.Raw)
		}
		nodes = append(nodes, entry)
	}
	totem := map[string]any{}
	for key, value := range conf.Section("totem").Values() {
		totem[key] = value
	}
	interfaces := map[string]any{}
	for _, iface := range conf.Section("totem").Sections("interface") {
		interfaces[iface.Get("linknumber")] = iface.Values()
	}
	totem["interface"] = interfaces
	return map[string]any{
		"config_digest":  sha1Hex(raw),
		"nodelist":       nodes,
		"preferred_node": host.Node,
		"totem":          totem,
	}, nil
}

// guestList is GET /nodes/NODE/qemu and /lxc: the VMIDs with their config's name.
func (e *Env) guestList(node, kind string) (any, *APIError) {
	dir := "qemu-server"
	if kind == "lxc" {
		dir = "lxc"
	}
	if !dirExists(filepath.Join(e.pveTree(), "nodes", node)) {
		return nil, &APIError{Code: 500, Message: fmt.Sprintf("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", node, node)}
	}
	matches, _ := filepath.Glob(filepath.Join(e.pveTree(), "nodes", node, dir, "*.conf"))
	sort.Strings(matches)
	list := []any{}
	for _, match := range matches {
		id, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(match), ".conf"))
		cfg := readGuestConfig(match)
		name := cfg["name"]
		if kind == "lxc" {
			name = cfg["hostname"]
		}
		entry := map[string]any{"vmid": id, "name": name, "status": "stopped"}
		if kind == "lxc" {
			entry["type"] = "lxc"
		}
		list = append(list, entry)
	}
	return list, nil
}

func dirExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
