package pve

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Member is one node of a cluster as seen by whichever source answered.
type Member struct {
	NodeID  int
	Name    string // node name; from `pvecm status` this is the address (it runs -i)
	Addr    string
	Votes   int    // 0 when the source does not say
	Online  bool   // in the current corosync membership
	Local   bool   // the node that answered
	QDevice string // A,V,NMW style flags from `pvecm status`; "" when no QDevice column
}

// pveshStatusEntry is one element of `pvesh get /cluster/status --output-format json`.
type pveshStatusEntry struct {
	Type    jsonString `json:"type"`
	ID      jsonString `json:"id"`
	Name    jsonString `json:"name"`
	Nodes   jsonInt    `json:"nodes"`
	Quorate jsonBool   `json:"quorate"`
	Version jsonInt    `json:"version"`
	IP      jsonString `json:"ip"`
	Local   jsonBool   `json:"local"`
	NodeID  jsonInt    `json:"nodeid"`
	Online  jsonBool   `json:"online"`
}

// ParsePveshClusterStatus reads `pvesh get /cluster/status --output-format json`
// (docs/pve.md §4.1). A standalone node shows one fake entry with nodeid 0 and no cluster entry:
// that is reported as State NotInCluster, never as "not quorate".
func ParsePveshClusterStatus(out string) (ClusterStatus, error) {
	body, ok := jsonStart(out)
	if !ok {
		return ClusterStatus{}, &ParseError{Format: "pvesh /cluster/status", Reason: "no JSON array in output"}
	}
	var entries []pveshStatusEntry
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&entries); err != nil {
		return ClusterStatus{}, &ParseError{Format: "pvesh /cluster/status", Reason: err.Error()}
	}
	st := ClusterStatus{Source: SourcePvesh, State: NotInCluster}
	haveCluster := false
	for _, e := range entries {
		switch e.Type {
		case "cluster":
			haveCluster = true
			st.Name = string(e.Name)
			st.ConfigVersion = int(e.Version)
			st.NodeCount = int(e.Nodes)
			st.State = NotQuorate
			if e.Quorate {
				st.State = Quorate
			}
		case "node":
			st.Members = append(st.Members, Member{
				NodeID: int(e.NodeID),
				Name:   string(e.Name),
				Addr:   string(e.IP),
				Online: bool(e.Online),
				Local:  bool(e.Local),
			})
		}
	}
	if !haveCluster {
		// The standalone shape: one entry, nodeid 0. Anything else without a cluster entry is a
		// shape we do not know, and guessing either way would be dangerous.
		if len(st.Members) == 1 && st.Members[0].NodeID == 0 {
			return st, nil
		}
		return ClusterStatus{}, &ParseError{Format: "pvesh /cluster/status", Reason: fmt.Sprintf("no cluster entry but %d node entries", len(st.Members))}
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].NodeID < st.Members[j].NodeID })
	return st, nil
}

// ClusterNode is one entry of the corosync nodelist as pvesh reports it.
type ClusterNode struct {
	Name        string
	NodeID      int
	Votes       int
	Links       map[int]string // link number -> ringN_addr
	PVEAddr     string         // join info only: the address pveproxy is reached at
	Fingerprint string         // join info only: SHA-256 of the certificate pveproxy serves
}

var ringKey = regexp.MustCompile(`^(?:ring|link)([0-7])_addr$`)

func parseClusterNode(raw map[string]json.RawMessage) (ClusterNode, error) {
	var n ClusterNode
	get := func(key string, into json.Unmarshaler) error {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		if err := into.UnmarshalJSON(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	var name, fp, addr jsonString
	var id, votes jsonInt
	for key, into := range map[string]json.Unmarshaler{
		"name": &name, "pve_fp": &fp, "pve_addr": &addr, "nodeid": &id, "quorum_votes": &votes,
	} {
		if err := get(key, into); err != nil {
			return n, err
		}
	}
	n.Name, n.Fingerprint, n.PVEAddr, n.NodeID, n.Votes = string(name), string(fp), string(addr), int(id), int(votes)
	if _, ok := raw["quorum_votes"]; !ok {
		n.Votes = 1 // corosync's default when the key is absent
	}
	for key, v := range raw {
		m := ringKey.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		var a jsonString
		if err := a.UnmarshalJSON(v); err != nil {
			return n, fmt.Errorf("%s: %w", key, err)
		}
		link, _ := strconv.Atoi(m[1])
		if n.Links == nil {
			n.Links = map[int]string{}
		}
		n.Links[link] = string(a)
	}
	if n.Name == "" {
		return n, errors.New("node entry without a name")
	}
	return n, nil
}

func parseClusterNodes(raws []map[string]json.RawMessage, format string) ([]ClusterNode, error) {
	nodes := make([]ClusterNode, 0, len(raws))
	for i, raw := range raws {
		n, err := parseClusterNode(raw)
		if err != nil {
			return nil, &ParseError{Format: format, Reason: fmt.Sprintf("entry %d: %v", i, err)}
		}
		nodes = append(nodes, n)
	}
	// pvesh lists them in Perl hash order; sorted by nodeid they compare and print stably.
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].NodeID < nodes[j].NodeID })
	return nodes, nil
}

// ParseNodelist reads `pvesh get /cluster/config/nodes --output-format json` (docs/pve.md §4.3).
func ParseNodelist(out string) ([]ClusterNode, error) {
	body, ok := jsonStart(out)
	if !ok {
		return nil, &ParseError{Format: "pvesh /cluster/config/nodes", Reason: "no JSON array in output"}
	}
	var raws []map[string]json.RawMessage
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&raws); err != nil {
		return nil, &ParseError{Format: "pvesh /cluster/config/nodes", Reason: err.Error()}
	}
	return parseClusterNodes(raws, "pvesh /cluster/config/nodes")
}

// JoinInfo is `pvesh get /cluster/config/join` (docs/pve.md §4.2): what a joiner needs to know.
type JoinInfo struct {
	ConfigDigest  string
	PreferredNode string
	Nodes         []ClusterNode
	ClusterName   string
	ConfigVersion int
	LinkNumbers   []int  // the totem interface link numbers, sorted
	LinkMode      string // "passive" unless changed
}

// Preferred returns the nodelist entry of the preferred node, the one that answered.
func (j JoinInfo) Preferred() (ClusterNode, bool) {
	for _, n := range j.Nodes {
		if n.Name == j.PreferredNode {
			return n, true
		}
	}
	return ClusterNode{}, false
}

type joinInfoJSON struct {
	ConfigDigest  jsonString                   `json:"config_digest"`
	PreferredNode jsonString                   `json:"preferred_node"`
	Nodelist      []map[string]json.RawMessage `json:"nodelist"`
	Totem         struct {
		ClusterName   jsonString                 `json:"cluster_name"`
		ConfigVersion jsonInt                    `json:"config_version"`
		LinkMode      jsonString                 `json:"link_mode"`
		Interface     map[string]json.RawMessage `json:"interface"`
	} `json:"totem"`
}

// ParseJoinInfo reads `pvesh get /cluster/config/join --output-format json`.
func ParseJoinInfo(out string) (JoinInfo, error) {
	const format = "pvesh /cluster/config/join"
	body, ok := jsonStart(out)
	if !ok {
		return JoinInfo{}, &ParseError{Format: format, Reason: "no JSON object in output"}
	}
	var raw joinInfoJSON
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&raw); err != nil {
		return JoinInfo{}, &ParseError{Format: format, Reason: err.Error()}
	}
	nodes, err := parseClusterNodes(raw.Nodelist, format)
	if err != nil {
		return JoinInfo{}, err
	}
	if len(nodes) == 0 {
		return JoinInfo{}, &ParseError{Format: format, Reason: "empty nodelist"}
	}
	ji := JoinInfo{
		ConfigDigest:  string(raw.ConfigDigest),
		PreferredNode: string(raw.PreferredNode),
		Nodes:         nodes,
		ClusterName:   string(raw.Totem.ClusterName),
		ConfigVersion: int(raw.Totem.ConfigVersion),
		LinkMode:      string(raw.Totem.LinkMode),
	}
	for key := range raw.Totem.Interface {
		n, err := strconv.Atoi(key)
		if err != nil || n < 0 || n > 7 {
			return JoinInfo{}, &ParseError{Format: format, Reason: fmt.Sprintf("totem interface key %q is not a link number", clip(key, 20))}
		}
		ji.LinkNumbers = append(ji.LinkNumbers, n)
	}
	sort.Ints(ji.LinkNumbers)
	return ji, nil
}
