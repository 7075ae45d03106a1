package inventory

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// The decoders of each section. Keys added here become valid in the file; anything else is
// reported as unknown.

func (d *decoder) cluster(path string, v *yaml.Node) {
	c := &d.inv.Cluster
	d.mapping(v, path, "the cluster section (name, join, password_env)", []field{
		{"name", func(p string, v *yaml.Node) { c.Name = d.str(p, v) }},
		{"join", func(p string, v *yaml.Node) { c.Join = JoinMethod(d.str(p, v)) }},
		{"password_env", func(p string, v *yaml.Node) { c.PasswordEnv = d.str(p, v) }},
	})
}

func (d *decoder) ssh(path string, v *yaml.Node) {
	if isNull(v) {
		return
	}
	s := &d.inv.SSH
	d.mapping(v, path, "the ssh section (user, port, identity_file, known_hosts, jump)", []field{
		{"user", func(p string, v *yaml.Node) { s.User = d.str(p, v) }},
		{"port", func(p string, v *yaml.Node) { s.Port = d.integer(p, v) }},
		{"identity_file", func(p string, v *yaml.Node) { s.IdentityFile = d.str(p, v) }},
		{"known_hosts", func(p string, v *yaml.Node) { s.KnownHosts = d.str(p, v) }},
		{"jump", func(p string, v *yaml.Node) { s.Jump = d.str(p, v) }},
	})
}

func (d *decoder) nodes(path string, v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		d.problem(v.Line, path, "want a list of nodes (lines starting with \"- name:\"), got %s", describe(v))
		d.inv.broken[path] = true
		return
	}
	d.inv.Nodes = make([]Node, len(v.Content))
	for i, item := range v.Content {
		item = resolve(item)
		p := fmt.Sprintf("%s[%d]", path, i)
		d.inv.lines[p] = item.Line
		n := &d.inv.Nodes[i]
		d.mapping(item, p, "a node (name, address, links, nodeid, votes)", []field{
			{"name", func(p string, v *yaml.Node) { n.Name = d.str(p, v) }},
			{"address", func(p string, v *yaml.Node) { n.Address = d.str(p, v) }},
			{"links", func(p string, v *yaml.Node) { n.Links = d.strList(p, v, "[198.51.100.11]") }},
			{"nodeid", func(p string, v *yaml.Node) { n.NodeID = d.integer(p, v) }},
			{"votes", func(p string, v *yaml.Node) { n.Votes = d.integer(p, v) }},
		})
	}
}

func (d *decoder) qdevice(path string, v *yaml.Node) {
	if isNull(v) {
		return
	}
	q := &QDevice{}
	d.inv.QDevice = q
	d.mapping(v, path, "the qdevice section (address)", []field{
		{"address", func(p string, v *yaml.Node) { q.Address = d.str(p, v) }},
	})
}

func isNull(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null"
}
