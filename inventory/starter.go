package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Starter is what init learnt of the hosts, to be written as a first cluster file.
type Starter struct {
	ClusterName string
	SSH         SSH
	Nodes       []StarterNode
	Written     time.Time
}

// StarterNode is one host as init saw it.
type StarterNode struct {
	Name    string
	Address string
	Link    string // "" when the host showed no usable global address
	Seen    []SeenAddress
}

// SeenAddress is one global address of a host, with its prefix length and interface.
type SeenAddress struct {
	Interface string       `json:"interface"`
	Prefix    netip.Prefix `json:"address"`
}

// Render writes the starter as YAML with comments that tell the user what to review. It goes
// through a yaml.Node tree so that every value is quoted as YAML needs, whatever a host
// reported as its name.
func (s Starter) Render() ([]byte, error) {
	clusterSection := mapping(
		pair("name", str(s.ClusterName), "at most 15 letters, digits and inner hyphens; cannot be changed later"),
		pair("join", str(string(JoinAPI)), "api (root password) | ssh (pvecm add --use_ssh)"),
		pair("password_env", str(DefaultPasswordEnv), "the variable holding the root password; never the password itself"),
	)
	var sshPairs [][2]*yaml.Node
	if s.SSH.User != "" {
		sshPairs = append(sshPairs, pair("user", str(s.SSH.User), ""))
	}
	if s.SSH.Port != 0 {
		sshPairs = append(sshPairs, pair("port", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(s.SSH.Port)}, ""))
	}
	if s.SSH.IdentityFile != "" {
		sshPairs = append(sshPairs, pair("identity_file", str(s.SSH.IdentityFile), ""))
	}
	if s.SSH.KnownHosts != "" {
		sshPairs = append(sshPairs, pair("known_hosts", str(s.SSH.KnownHosts), ""))
	}
	if s.SSH.Jump != "" {
		sshPairs = append(sshPairs, pair("jump", str(s.SSH.Jump), ""))
	}
	nodes := &yaml.Node{Kind: yaml.SequenceNode}
	for i, n := range s.Nodes {
		// The meaning of each key is said once, on the first node; every node says what
		// addresses it has, to choose links from.
		nameNote, addressNote, linksNote := "", "", "seen: "+DescribeAddresses(n.Seen)
		if i == 0 {
			nameNote, addressNote = "the host's hostname, which is its PVE node name", "where quorate connects by SSH"
			linksNote = "corosync link0, link1, ...; IP addresses only; " + linksNote
		}
		node := mapping(pair("name", str(n.Name), nameNote), pair("address", str(n.Address), addressNote))
		if n.Link != "" {
			links := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{str(n.Link)}}
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
		s.Written.UTC().Format("2006-01-02 15:04 UTC"))

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

// DescribeAddresses lists addresses as "198.51.100.11/24 (vmbr0), ...", or "none".
func DescribeAddresses(addrs []SeenAddress) string {
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

// ErrFileExists is WriteFile refusing to replace a file.
var ErrFileExists = errors.New("exists")

// WriteFile never replaces an existing file unless force is set; with force the new
// content is renamed into place so that a crash leaves the old file or the new, never half.
func WriteFile(path string, data []byte, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrFileExists)
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
