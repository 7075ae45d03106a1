package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/quorate/quorate/inventory"
)

// starter is what init learnt, to be written as a first cluster file.
type starter struct {
	clusterName string
	ssh         inventory.SSH
	nodes       []starterNode
	written     time.Time
}

type starterNode struct {
	name    string
	address string
	link    string // "" when the host showed no usable global address
	seen    []hostAddress
}

// render writes the starter as YAML with comments that tell the user what to review. It goes
// through a yaml.Node tree so that every value is quoted as YAML needs, whatever a host
// reported as its name.
func (s starter) render() ([]byte, error) {
	clusterSection := mapping(
		pair("name", str(s.clusterName), "at most 15 letters, digits and inner hyphens; cannot be changed later"),
		pair("join", str(string(inventory.JoinAPI)), "api (root password) | ssh (pvecm add --use_ssh)"),
		pair("password_env", str(inventory.DefaultPasswordEnv), "the variable holding the root password; never the password itself"),
	)
	var sshPairs [][2]*yaml.Node
	if s.ssh.User != "" {
		sshPairs = append(sshPairs, pair("user", str(s.ssh.User), ""))
	}
	if s.ssh.Port != 0 {
		sshPairs = append(sshPairs, pair("port", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(s.ssh.Port)}, ""))
	}
	if s.ssh.IdentityFile != "" {
		sshPairs = append(sshPairs, pair("identity_file", str(s.ssh.IdentityFile), ""))
	}
	if s.ssh.KnownHosts != "" {
		sshPairs = append(sshPairs, pair("known_hosts", str(s.ssh.KnownHosts), ""))
	}
	if s.ssh.Jump != "" {
		sshPairs = append(sshPairs, pair("jump", str(s.ssh.Jump), ""))
	}
	nodes := &yaml.Node{Kind: yaml.SequenceNode}
	for i, n := range s.nodes {
		// The meaning of each key is said once, on the first node; every node says what
		// addresses it has, to choose links from.
		nameNote, addressNote, linksNote := "", "", "seen: "+describeAddresses(n.seen)
		if i == 0 {
			nameNote, addressNote = "the host's hostname, which is its PVE node name", "where quorate connects by SSH"
			linksNote = "corosync link0, link1, ...; IP addresses only; " + linksNote
		}
		node := mapping(pair("name", str(n.name), nameNote), pair("address", str(n.address), addressNote))
		if n.link != "" {
			links := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{str(n.link)}}
			p := pair("links", links, linksNote)
			node.Content = append(node.Content, p[0], p[1])
		} else {
			node.Content[2].HeadComment = "no global IP address seen on this host: add links: [<IP>] by hand"
		}
		nodes.Content = append(nodes.Content, node)
	}
	top := mapping(pair("cluster", clusterSection, ""))
	if len(sshPairs) > 0 {
		p := pair("ssh", mapping(sshPairs...), "")
		top.Content = append(top.Content, p[0], p[1])
	}
	p := pair("nodes", nodes, "")
	top.Content = append(top.Content, p[0], p[1])
	top.HeadComment = fmt.Sprintf("Starter cluster file written by quorate init on %s.\n"+
		"Review the name and the links, add a qdevice section if you want one, then run: quorate validate",
		s.written.UTC().Format("2006-01-02 15:04 UTC"))

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return nil, fmt.Errorf("render cluster file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render cluster file: %w", err)
	}
	return buf.Bytes(), nil
}

func describeAddresses(addrs []hostAddress) string {
	if len(addrs) == 0 {
		return "none"
	}
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = fmt.Sprintf("%s (%s)", a.Prefix, a.Interface)
	}
	return strings.Join(parts, ", ")
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func pair(key string, value *yaml.Node, comment string) [2]*yaml.Node {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	if comment != "" {
		if value.Kind == yaml.ScalarNode || value.Style == yaml.FlowStyle {
			value.LineComment = comment
		} else {
			k.HeadComment = comment
		}
	}
	return [2]*yaml.Node{k, value}
}

func mapping(pairs ...[2]*yaml.Node) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range pairs {
		m.Content = append(m.Content, p[0], p[1])
	}
	return m
}

var errFileExists = errors.New("exists")

// writeClusterFile never replaces an existing file unless force is set; with force the new
// content is renamed into place so that a crash leaves the old file or the new, never half.
func writeClusterFile(path string, data []byte, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, errFileExists)
		}
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cluster-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
