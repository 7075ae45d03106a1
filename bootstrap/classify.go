// Package bootstrap turns what quorate observed of the nodes into a plan (create, then joins,
// with the quorum arithmetic of each step) and carries it out one step at a time, proving
// after each step, from every member, that the cluster is what the plan said it would be.
package bootstrap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/quorate/quorate/pve"
)

// NodeState is what a node is, measured against the cluster file.
type NodeState string

const (
	StateFresh      NodeState = "fresh"         // standalone, nothing of a cluster on it
	StateMember     NodeState = "member"        // member of this cluster
	StateForeign    NodeState = "other-cluster" // member of another cluster
	StateHalfJoined NodeState = "half-joined"   // cluster files or corosync without a membership
	StateHasGuests  NodeState = "has-guests"    // standalone with VMs or containers: PVE refuses the join
	// StateReinstalled is a fresh host whose name this cluster still lists: a reinstall.
	StateReinstalled NodeState = "reinstalled"
	// StateUnfinished is a member whose join did not finish: its root key is not in the
	// cluster's authorized_keys (pvecm add was cut short after corosync took it in).
	StateUnfinished NodeState = "member-unfinished"
	// StateMemberDown is a member by its files whose corosync is not running.
	StateMemberDown NodeState = "member-down"
	StateUnknown    NodeState = "unknown" // unreachable, or its state could not be read
)

// Observation is one node's state when quorate looked, the input of a plan. A saved plan
// keeps the observations it was made from, so that applying it later can refuse a cluster
// that has changed since.
type Observation struct {
	Node          string    `json:"node"`
	State         NodeState `json:"state"`
	Cluster       string    `json:"cluster,omitempty"` // the cluster it is a member of
	NodeID        int       `json:"nodeid,omitempty"`
	ConfigVersion int       `json:"config_version,omitempty"`
	Quorate       bool      `json:"quorate,omitempty"`
	// Members are the nodes of its cluster as it sees them, online or not, sorted.
	Members []string `json:"members,omitempty"`
	Guests  []int    `json:"guests,omitempty"`
	Detail  string   `json:"detail,omitempty"`
}

// Seen is what the playbook read of one node: its facts and its cluster status, or why not.
type Seen struct {
	Node      string
	Facts     *pve.Facts
	Status    *pve.ClusterStatus
	StatusErr error
	// RootKeyMissing is a member whose root key is not in /etc/pve/priv/authorized_keys.
	RootKeyMissing bool
	Err            error // the node could not be reached or its facts read
}

// Classify measures every node against the cluster named cluster. A fresh node whose name a
// member of this cluster still lists is a reinstall.
func Classify(cluster string, seen []Seen) []Observation {
	obs := make([]Observation, len(seen))
	listed := map[string]bool{}
	for i, s := range seen {
		obs[i] = classifyOne(cluster, s)
		if obs[i].State == StateMember || obs[i].State == StateUnfinished {
			for _, m := range obs[i].Members {
				listed[m] = true
			}
		}
	}
	for i := range obs {
		if obs[i].State == StateFresh && listed[obs[i].Node] {
			obs[i].State = StateReinstalled
			obs[i].Detail = fmt.Sprintf("the host is fresh but cluster %s still lists %s: it was reinstalled", cluster, obs[i].Node)
		}
	}
	return obs
}

func classifyOne(cluster string, s Seen) Observation {
	o := Observation{Node: s.Node, State: StateUnknown}
	switch {
	case s.Err != nil:
		o.Detail = s.Err.Error()
		return o
	case s.Facts == nil:
		o.Detail = "no facts"
		return o
	}
	f := s.Facts
	o.Guests = append(append([]int(nil), f.VMs...), f.CTs...)
	if s.StatusErr != nil || s.Status == nil {
		// No status source answered. A node whose /etc/pve/corosync.conf names this cluster
		// is a member whose corosync is down: cleaning it up would be destructive. Anything
		// else is a half-finished join or a broken install.
		o.State = StateHalfJoined
		if s.StatusErr != nil {
			o.Detail = s.StatusErr.Error()
		}
		if name := confClusterName(f); f.Files.PVECorosyncConf && name == cluster {
			o.State, o.Cluster = StateMemberDown, name
		}
		return o
	}
	st := s.Status
	if st.State == pve.NotInCluster {
		files := f.Files
		switch {
		case files.PVECorosyncConf || files.CorosyncAuthkey || files.CorosyncConf || f.CorosyncRunning:
			o.State = StateHalfJoined
			o.Detail = halfJoinedDetail(f)
		case len(o.Guests) > 0:
			o.State = StateHasGuests
			o.Detail = fmt.Sprintf("guests %s exist; PVE refuses to join a node with VMs or containers", joinInts(o.Guests))
		default:
			o.State = StateFresh
		}
		return o
	}
	// corosync-quorumtool, the last fallback, does not name the cluster; the node's own
	// corosync.conf does.
	name := st.Name
	if name == "" {
		name = confClusterName(f)
	}
	o.Cluster, o.ConfigVersion, o.Quorate = name, st.ConfigVersion, st.State == pve.Quorate
	if local, ok := st.Local(); ok {
		o.NodeID = local.NodeID
	}
	for _, m := range st.Members {
		if m.Name != "" {
			o.Members = append(o.Members, m.Name)
		}
	}
	slices.Sort(o.Members)
	if name != cluster {
		o.State = StateForeign
		if name == "" {
			o.Detail = fmt.Sprintf("member of a cluster that does not say its name, not known to be %s", cluster)
		} else {
			o.Detail = fmt.Sprintf("member of cluster %s, not %s", name, cluster)
		}
		return o
	}
	o.State = StateMember
	if s.RootKeyMissing {
		o.State = StateUnfinished
		o.Detail = "a member whose join did not finish: its root key is not in /etc/pve/priv/authorized_keys"
	}
	return o
}

// confClusterName is the cluster name in the node's corosync.conf (/etc/pve's, else
// /etc/corosync's), "" when it has none.
func confClusterName(f *pve.Facts) string {
	for _, text := range []string{f.PVECorosyncConf, f.LocalCorosyncConf} {
		if text == "" {
			continue
		}
		if conf, err := pve.ParseCorosyncConf([]byte(text)); err == nil && conf.ClusterName() != "" {
			return conf.ClusterName()
		}
	}
	return ""
}

func halfJoinedDetail(f *pve.Facts) string {
	var what []string
	if f.Files.PVECorosyncConf {
		what = append(what, "/etc/pve/corosync.conf")
	}
	if f.Files.CorosyncConf {
		what = append(what, "/etc/corosync/corosync.conf")
	}
	if f.Files.CorosyncAuthkey {
		what = append(what, "/etc/corosync/authkey")
	}
	if f.CorosyncRunning {
		what = append(what, "a running corosync")
	}
	return "not in a cluster, but has " + strings.Join(what, ", ") + " (left over from an earlier or failed join)"
}

func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ", ")
}
