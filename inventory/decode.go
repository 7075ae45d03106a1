package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML node tree by hand rather than unmarshalling into structs, because
// only the node tree keeps the line of every value and lets every problem be collected
// instead of stopping at the first.
type decoder struct {
	inv    *Inventory
	lookup LookupEnv
}

// field is one key a mapping may hold and how its value is decoded.
type field struct {
	key    string
	decode func(path string, v *yaml.Node)
}

func (d *decoder) problem(line int, path, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	d.inv.problems = append(d.inv.problems, Problem{
		File: d.inv.File, Line: line, Path: path, Message: fmt.Sprintf(format, args...),
	})
}

func (d *decoder) document(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		d.problem(1, "", "the file is empty; it needs at least a cluster and a nodes section")
		return
	}
	if err != nil {
		line, msg := yamlErrorLine(err)
		d.problem(line, "", "not valid YAML: %s", msg)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.problem(extra.Line, "", "a second YAML document: a cluster file holds exactly one")
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	root = resolve(root)
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.problem(root.Line, "", "the file is empty; it needs at least a cluster and a nodes section")
		return
	}
	d.inv.decoded = d.mapping(root, "", "a mapping with cluster, ssh, nodes and qdevice", []field{
		{"cluster", d.cluster},
		{"ssh", d.ssh},
		{"nodes", d.nodes},
		{"qdevice", d.qdevice},
	})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorLine takes the line out of a yaml syntax error, which the library offers only as
// text.
func yamlErrorLine(err error) (int, string) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 1, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	return line, m[2]
}

// mapping decodes the keys of n with fields, reporting unknown and repeated keys. It reports
// false when n is not a mapping at all.
func (d *decoder) mapping(n *yaml.Node, path, want string, fields []field) bool {
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "want %s, got %s", want, describe(n))
		d.inv.broken[path] = true
		return false
	}
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.problem(k.Line, path, "a key must be a plain word, got %s", describe(k))
			continue
		}
		if k.Value == "<<" {
			d.problem(k.Line, path, "merge keys (<<) are not supported; write the keys out")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.problem(k.Line, joinPath(path, k.Value), "given twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := findField(fields, k.Value)
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := DidYouMean(k.Value, keys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
				d.inv.broken[joinPath(path, s)] = true
			} else {
				msg += fmt.Sprintf(" (known keys: %s)", strings.Join(keys, ", "))
			}
			d.problem(k.Line, path, "%s", msg)
			continue
		}
		child := joinPath(path, k.Value)
		d.inv.lines[child] = k.Line
		f.decode(child, v)
	}
	return true
}

func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// str decodes a text value with ${VAR} expansion; a null value is "".
func (d *decoder) str(path string, v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode {
		d.problem(v.Line, path, "want a single value, got %s", describe(v))
		d.inv.broken[path] = true
		return ""
	}
	if v.ShortTag() == "!!null" {
		return ""
	}
	s, problems := expandVars(v.Value, d.lookup)
	for _, p := range problems {
		d.problem(v.Line, path, "%s", p)
		d.inv.broken[path] = true
	}
	return s
}

// integer decodes a whole number; a null or empty value is 0, meaning "the default".
func (d *decoder) integer(path string, v *yaml.Node) int {
	s := strings.TrimSpace(d.str(path, v))
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		d.problem(v.Line, path, "want a whole number, got %q", s)
		d.inv.broken[path] = true
		return 0
	}
	return n
}

// strList decodes a list of text values. Anything but a list is reported and yields nil.
func (d *decoder) strList(path string, v *yaml.Node, example string) []string {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return []string{}
	}
	if v.Kind != yaml.SequenceNode {
		d.problem(v.Line, path, "want a list such as %s, got %s", example, describe(v))
		d.inv.broken[path] = true
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for i, item := range v.Content {
		item = resolve(item)
		p := fmt.Sprintf("%s[%d]", path, i)
		d.inv.lines[p] = item.Line
		out = append(out, d.str(p, item))
	}
	return out
}

// resolve follows aliases. The bound stops a pathological chain; yaml itself refuses cycles.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 16 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	default:
		return "something else"
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
