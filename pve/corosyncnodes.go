package pve

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// ConfNode is one node of the corosync nodelist.
type ConfNode struct {
	Name   string
	NodeID int
	Votes  int            // 0: quorum_votes is omitted (as pvecm does for --votes 0)
	Links  map[int]string // link number -> ringN_addr
}

// ClusterName is totem.cluster_name.
func (c *CorosyncConf) ClusterName() string {
	v, _ := c.Get("totem.cluster_name")
	return v
}

// ConfigVersion is totem.config_version.
func (c *CorosyncConf) ConfigVersion() (int, error) {
	v, ok := c.Get("totem.config_version")
	if !ok {
		return 0, errors.New("corosync.conf: no totem.config_version")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("corosync.conf: config_version %q is not a number", clip(v, 20))
	}
	return n, nil
}

// BumpVersion adds 1 to config_version, as every PVE change to the nodelist does; corosync
// refuses a reload that does not raise it.
func (c *CorosyncConf) BumpVersion() error {
	v, err := c.ConfigVersion()
	if err != nil {
		return err
	}
	c.root.sections["totem"].values["config_version"] = strconv.Itoa(v + 1)
	return nil
}

// LinkNumbers are the totem interface link numbers, sorted.
func (c *CorosyncConf) LinkNumbers() []int {
	var out []int
	if totem := c.root.sections["totem"]; totem != nil {
		for _, iface := range totem.lists["interface"] {
			if n, err := strconv.Atoi(itemKey(iface, "linknumber", "ringnumber")); err == nil {
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out
}

// QDeviceHost is quorum.device.net.host, when a QDevice is configured.
func (c *CorosyncConf) QDeviceHost() (string, bool) {
	return c.Get("quorum.device.net.host")
}

// Nodes lists the nodelist sorted by node id.
func (c *CorosyncConf) Nodes() ([]ConfNode, error) {
	nl := c.root.sections["nodelist"]
	if nl == nil {
		return nil, nil
	}
	var out []ConfNode
	for _, item := range nl.lists["node"] {
		n := ConfNode{Name: item.values["name"], Links: map[int]string{}}
		id, err := strconv.Atoi(item.values["nodeid"])
		if err != nil {
			return nil, fmt.Errorf("corosync.conf: node %q: nodeid %q is not a number", n.Name, clip(item.values["nodeid"], 20))
		}
		n.NodeID = id
		if v, ok := item.values["quorum_votes"]; ok {
			if n.Votes, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("corosync.conf: node %q: quorum_votes %q is not a number", n.Name, clip(v, 20))
			}
		}
		for key, addr := range item.values {
			if m := ringKey.FindStringSubmatch(key); m != nil {
				link, _ := strconv.Atoi(m[1])
				n.Links[link] = addr
			}
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out, nil
}

// AddNode adds n to the nodelist with the checks pvecm's addnode makes: a new name, a free
// node id, addresses no other node uses, and exactly the cluster's link numbers. It does not
// bump config_version.
func (c *CorosyncConf) AddNode(n ConfNode) error {
	if !validNodeName(n.Name) {
		return fmt.Errorf("corosync.conf: invalid node name %q", n.Name)
	}
	if n.NodeID < 1 {
		return fmt.Errorf("corosync.conf: node %q: node id must be at least 1", n.Name)
	}
	existing, err := c.Nodes()
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.Name == n.Name {
			return fmt.Errorf("corosync.conf: can't add existing node %q", n.Name)
		}
		if e.NodeID == n.NodeID {
			return fmt.Errorf("corosync.conf: node id %d already used by node %q", n.NodeID, e.Name)
		}
		for _, addr := range n.Links {
			for elink, eaddr := range e.Links {
				if addr == eaddr {
					return fmt.Errorf("corosync.conf: address %q already used on link %d by node %q", addr, elink, e.Name)
				}
			}
		}
	}
	want := c.LinkNumbers()
	if len(want) != len(n.Links) {
		return fmt.Errorf("corosync.conf: node %q has %d links, the cluster has %d", n.Name, len(n.Links), len(want))
	}
	for _, l := range want {
		if _, ok := n.Links[l]; !ok {
			return fmt.Errorf("corosync.conf: node %q is missing link %d", n.Name, l)
		}
	}
	item := newConfSection()
	item.values["name"] = n.Name
	item.values["nodeid"] = strconv.Itoa(n.NodeID)
	if n.Votes > 0 {
		item.values["quorum_votes"] = strconv.Itoa(n.Votes)
	}
	for link, addr := range n.Links {
		if _, err := parseIP(addr); err != nil {
			return fmt.Errorf("corosync.conf: node %q link %d: %q is not an IP address", n.Name, link, addr)
		}
		item.values["ring"+strconv.Itoa(link)+"_addr"] = addr
	}
	nl := c.root.sections["nodelist"]
	if nl == nil {
		nl = newConfSection()
		c.root.sections["nodelist"] = nl
	}
	nl.lists["node"] = append(nl.lists["node"], item)
	return nil
}

// RemoveNode drops the named node; it reports whether it was there.
func (c *CorosyncConf) RemoveNode(name string) bool {
	nl := c.root.sections["nodelist"]
	if nl == nil {
		return false
	}
	items := nl.lists["node"]
	for i, item := range items {
		if item.values["name"] == name {
			nl.lists["node"] = append(items[:i:i], items[i+1:]...)
			return true
		}
	}
	return false
}

// Link is one corosync link of a cluster being created or joined.
type Link struct {
	Number   int    // 0..7
	Addr     string // an IP address; names resolve to surprises (docs/pve.md §6.2)
	Priority int    // 0..255, create only; 0 is omitted
}

// NewClusterConf is the corosync.conf `pvecm create` writes (docs/pve.md §1.6), config_version 1.
// tokenCoefficient < 0 leaves token_coefficient out, as pve-cluster before 9.1.0 does.
func NewClusterConf(clusterName string, node ConfNode, links []Link, tokenCoefficient int) (*CorosyncConf, error) {
	if err := validClusterName(clusterName); err != nil {
		return nil, err
	}
	if len(links) == 0 {
		return nil, errors.New("corosync.conf: at least one link is needed")
	}
	if node.Votes < 1 {
		node.Votes = 1
	}
	if node.NodeID < 1 {
		node.NodeID = 1
	}
	root := newConfSection()
	logging := newConfSection()
	logging.values["debug"] = "off"
	logging.values["to_syslog"] = "yes"
	quorum := newConfSection()
	quorum.values["provider"] = "corosync_votequorum"
	totem := newConfSection()
	for k, v := range map[string]string{
		"cluster_name": clusterName, "config_version": "1", "ip_version": "ipv4-6",
		"link_mode": "passive", "secauth": "on", "version": "2",
	} {
		totem.values[k] = v
	}
	if tokenCoefficient >= 0 {
		totem.values["token_coefficient"] = strconv.Itoa(tokenCoefficient)
	}
	node.Links = map[int]string{}
	for _, l := range links {
		if err := l.validate(); err != nil {
			return nil, err
		}
		if _, dup := node.Links[l.Number]; dup {
			return nil, fmt.Errorf("corosync.conf: link %d given twice", l.Number)
		}
		iface := newConfSection()
		iface.values["linknumber"] = strconv.Itoa(l.Number)
		if l.Priority != 0 {
			iface.values["knet_link_priority"] = strconv.Itoa(l.Priority)
		}
		totem.lists["interface"] = append(totem.lists["interface"], iface)
		node.Links[l.Number] = l.Addr
	}
	root.sections["logging"], root.sections["quorum"], root.sections["totem"] = logging, quorum, totem
	root.sections["nodelist"] = newConfSection()
	conf := &CorosyncConf{root: root}
	if err := conf.AddNode(node); err != nil {
		return nil, err
	}
	return conf, nil
}
