package pvesim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ConfSection is one `{ }` block of a corosync.conf: keys in file order, a key may repeat
// (nodelist.node, totem.interface).
type ConfSection struct {
	Items []ConfItem
}

// ConfItem is either `key: value` (Sub == nil) or `key { ... }`.
type ConfItem struct {
	Key   string
	Value string
	Sub   *ConfSection
}

// ParseCorosyncConf reads corosync's configuration syntax.
func ParseCorosyncConf(text string) (*ConfSection, error) {
	root := &ConfSection{}
	stack := []*ConfSection{root}
	for lineNo, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		current := stack[len(stack)-1]
		switch {
		case strings.HasSuffix(line, "{"):
			sub := &ConfSection{}
			current.Items = append(current.Items, ConfItem{Key: strings.TrimSpace(strings.TrimSuffix(line, "{")), Sub: sub})
			stack = append(stack, sub)
		case line == "}":
			if len(stack) == 1 {
				return nil, fmt.Errorf("corosync.conf line %d: unbalanced '}'", lineNo+1)
			}
			stack = stack[:len(stack)-1]
		default:
			key, value, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("corosync.conf line %d: expected 'key: value'", lineNo+1)
			}
			current.Items = append(current.Items, ConfItem{Key: strings.TrimSpace(key), Value: strings.TrimSpace(value)})
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("corosync.conf: missing '}'")
	}
	return root, nil
}

// Get returns the value of a scalar key.
func (s *ConfSection) Get(key string) string {
	if s == nil {
		return ""
	}
	for _, item := range s.Items {
		if item.Key == key && item.Sub == nil {
			return item.Value
		}
	}
	return ""
}

// Set replaces (or adds) a scalar key.
func (s *ConfSection) Set(key, value string) {
	for i, item := range s.Items {
		if item.Key == key && item.Sub == nil {
			s.Items[i].Value = value
			return
		}
	}
	s.Items = append(s.Items, ConfItem{Key: key, Value: value})
}

// Section returns the first sub-section called key.
func (s *ConfSection) Section(key string) *ConfSection {
	if s == nil {
		return nil
	}
	for _, item := range s.Items {
		if item.Key == key && item.Sub != nil {
			return item.Sub
		}
	}
	return nil
}

// Sections returns every sub-section called key.
func (s *ConfSection) Sections(key string) []*ConfSection {
	var out []*ConfSection
	if s == nil {
		return out
	}
	for _, item := range s.Items {
		if item.Key == key && item.Sub != nil {
			out = append(out, item.Sub)
		}
	}
	return out
}

// RemoveAll drops every item called key.
func (s *ConfSection) RemoveAll(key string) {
	kept := s.Items[:0]
	for _, item := range s.Items {
		if item.Key != key {
			kept = append(kept, item)
		}
	}
	s.Items = kept
}

// Values is a flat map of the scalar keys (the shape PVE's parser gives a node entry).
func (s *ConfSection) Values() map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	for _, item := range s.Items {
		if item.Sub == nil {
			out[item.Key] = item.Value
		}
	}
	return out
}

// ConfigVersion is totem.config_version, 0 when absent.
func (s *ConfSection) ConfigVersion() int {
	v, _ := strconv.Atoi(s.Section("totem").Get("config_version"))
	return v
}

// Nodes returns the nodelist entries.
func (s *ConfSection) Nodes() []*ConfSection {
	return s.Section("nodelist").Sections("node")
}

// FindNode returns the nodelist entry of name.
func (s *ConfSection) FindNode(name string) *ConfSection {
	for _, node := range s.Nodes() {
		if node.Get("name") == name {
			return node
		}
	}
	return nil
}

// Format writes the configuration as PVE's write_conf does: keys sorted at every level,
// two-space indent, a blank line after every top-level section, node blocks sorted by name
// and interface blocks by link number (they are hashes keyed that way in PVE).
func (s *ConfSection) Format() string {
	var b strings.Builder
	s.format(&b, "")
	return b.String()
}

func (s *ConfSection) format(b *strings.Builder, prefix string) {
	items := append([]ConfItem(nil), s.Items...)
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Key != items[j].Key {
			return items[i].Key < items[j].Key
		}
		return blockSortKey(items[i]) < blockSortKey(items[j])
	})
	for _, item := range items {
		if item.Sub == nil {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, item.Key, item.Value)
			continue
		}
		fmt.Fprintf(b, "%s%s {\n", prefix, item.Key)
		item.Sub.format(b, prefix+"  ")
		fmt.Fprintf(b, "%s}\n", prefix)
		if prefix == "" {
			b.WriteString("\n")
		}
	}
}

func blockSortKey(item ConfItem) string {
	switch {
	case item.Sub == nil:
		return ""
	case item.Key == "node":
		return item.Sub.Get("name")
	case item.Key == "interface":
		return item.Sub.Get("linknumber")
	}
	return ""
}

// Link is one --linkN argument: `[address=]<IP>[,priority=<n>]`.
type Link struct {
	Number   int
	Address  string
	Priority int
}

// ParseLink parses a --linkN value.
func ParseLink(number int, spec string) (Link, error) {
	link := Link{Number: number}
	for i, part := range strings.Split(spec, ",") {
		key, value, hasKey := strings.Cut(part, "=")
		if !hasKey {
			if i != 0 {
				return link, fmt.Errorf("value without key, but schema does not define a default key")
			}
			key, value = "address", part
		}
		switch key {
		case "address":
			link.Address = value
		case "priority":
			prio, err := strconv.Atoi(value)
			if err != nil || prio < 0 || prio > 255 {
				return link, fmt.Errorf("invalid format - priority: value must have a minimum value of 0 and a maximum of 255")
			}
			link.Priority = prio
		default:
			return link, fmt.Errorf("invalid format - property is not defined in schema and the schema does not allow additional properties")
		}
	}
	if link.Address == "" {
		return link, fmt.Errorf("invalid format - address: property is missing and it is not optional")
	}
	return link, nil
}

// PrintLink is print_corosync_link.
func (l Link) String() string {
	if l.Priority != 0 {
		return fmt.Sprintf("address=%s,priority=%d", l.Address, l.Priority)
	}
	return "address=" + l.Address
}

// NewClusterConf is PVE::Corosync::create_conf.
func NewClusterConf(clusterName, nodeName string, nodeID, votes int, links []Link, tokenCoefficient *int) *ConfSection {
	node := &ConfSection{Items: []ConfItem{
		{Key: "name", Value: nodeName},
		{Key: "nodeid", Value: strconv.Itoa(nodeID)},
		{Key: "quorum_votes", Value: strconv.Itoa(votes)},
	}}
	totem := &ConfSection{Items: []ConfItem{
		{Key: "cluster_name", Value: clusterName},
		{Key: "config_version", Value: "1"},
		{Key: "ip_version", Value: "ipv4-6"},
		{Key: "link_mode", Value: "passive"},
		{Key: "secauth", Value: "on"},
		{Key: "version", Value: "2"},
	}}
	if tokenCoefficient != nil {
		totem.Set("token_coefficient", strconv.Itoa(*tokenCoefficient))
	}
	for _, link := range links {
		node.Set(fmt.Sprintf("ring%d_addr", link.Number), link.Address)
		iface := &ConfSection{Items: []ConfItem{{Key: "linknumber", Value: strconv.Itoa(link.Number)}}}
		if link.Priority != 0 {
			iface.Set("knet_link_priority", strconv.Itoa(link.Priority))
		}
		totem.Items = append(totem.Items, ConfItem{Key: "interface", Sub: iface})
	}
	return &ConfSection{Items: []ConfItem{
		{Key: "logging", Sub: &ConfSection{Items: []ConfItem{{Key: "debug", Value: "off"}, {Key: "to_syslog", Value: "yes"}}}},
		{Key: "nodelist", Sub: &ConfSection{Items: []ConfItem{{Key: "node", Sub: node}}}},
		{Key: "quorum", Sub: &ConfSection{Items: []ConfItem{{Key: "provider", Value: "corosync_votequorum"}}}},
		{Key: "totem", Sub: totem},
	}}
}
