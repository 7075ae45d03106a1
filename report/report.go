// Package report is the document `quorate report` writes of a running cluster, for the
// admin's own records (the seed's "document node roles, storage backends and migration
// dependencies"): the data, its Markdown, an SVG diagram drawn here (nothing to install, any
// browser shows it) and the redaction that makes it fit to post publicly.
package report

import "time"

// Cluster is everything the report says, as read from the members.
type Cluster struct {
	Name          string    `json:"cluster"`
	ConfigVersion int       `json:"config_version"`
	Written       time.Time `json:"written"`
	// ReadFrom are the members that answered.
	ReadFrom []string `json:"read_from"`
	Nodes    []Node   `json:"nodes"`
	// Links are the corosync link numbers, with the network each is on.
	Links     []LinkNet  `json:"links"`
	QDevice   *QDevice   `json:"qdevice,omitempty"`
	Quorum    Quorum     `json:"quorum"`
	Latencies []Latency  `json:"latencies"`
	Storages  []Storage  `json:"storages"`
	StorageOK bool       `json:"storage_cfg"` // /etc/pve/storage.cfg was read
	HA        []HA       `json:"ha_resources"`
	Migration *Migration `json:"migration,omitempty"`
	// Notes are what could not be read, said plainly.
	Notes    []string `json:"notes,omitempty"`
	Redacted bool     `json:"redacted"`
}

// Node is one member of the nodelist.
type Node struct {
	Name    string `json:"name"`
	NodeID  int    `json:"nodeid"`
	Votes   int    `json:"votes"`
	Role    string `json:"role"` // "voting member", "member without a vote"
	SSH     string `json:"ssh,omitempty"`
	FQDN    string `json:"fqdn,omitempty"`
	Online  bool   `json:"online"`  // in the quorate members' view
	Reached bool   `json:"reached"` // quorate read it itself
	Links   []Link `json:"links"`
	PVE     string `json:"pve_version,omitempty"`
	Kernel  string `json:"kernel,omitempty"`
	State   string `json:"state"` // quorate, not quorate, unreachable, ...
}

// Link is a node's address on one corosync link and what carries it.
type Link struct {
	Number    int    `json:"link"`
	Addr      string `json:"address"`
	Interface string `json:"interface,omitempty"` // "vmbr0 (bridge)"
	Devices   string `json:"devices,omitempty"`   // "eno1: 10 Gb/s, full duplex"
	MTU       int    `json:"mtu,omitempty"`
}

// LinkNet is one corosync link and the networks its addresses are in.
type LinkNet struct {
	Number   int      `json:"link"`
	Networks []string `json:"networks"`
}

// QDevice is the configured quorum device.
type QDevice struct {
	Host      string            `json:"host"`
	Votes     int               `json:"votes"`
	Algorithm string            `json:"algorithm,omitempty"`
	Flags     map[string]string `json:"flags,omitempty"` // by node: "A,V,NMW"
}

// Quorum is the cluster's vote arithmetic.
type Quorum struct {
	Expected  int      `json:"expected_votes"`
	Quorum    int      `json:"quorum"`
	Tolerates int      `json:"nodes_may_fail"`
	Lines     []string `json:"explanation"`
}

// Latency is knet's measured round trip on one link between two nodes.
type Latency struct {
	A     string  `json:"a"`
	B     string  `json:"b"`
	Link  int     `json:"link"`
	AveMS float64 `json:"average_ms"`
	MaxMS float64 `json:"max_ms"`
	Down  bool    `json:"down"`
	Known bool    `json:"known"`
}

// Storage is one storage of /etc/pve/storage.cfg.
type Storage struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Shared   bool     `json:"shared"`
	Disabled bool     `json:"disabled,omitempty"`
	Content  []string `json:"content,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
	Where    string   `json:"where,omitempty"`
	Servers  []string `json:"servers,omitempty"`
}

// HA is one HA resource.
type HA struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Group string `json:"group,omitempty"`
}

// Migration is datacenter.cfg's migration setting.
type Migration struct {
	Type    string `json:"type"`
	Network string `json:"network,omitempty"` // "" : the cluster network (corosync's)
}

// NodeNames are the nodes' names in the report's order.
func (c *Cluster) NodeNames() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Name)
	}
	return out
}
