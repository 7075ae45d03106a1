package pve

import (
	"fmt"
	"sort"
	"strings"
)

// confSection is one { } block of corosync.conf. A key holds either a value, one subsection,
// or (for the two keys corosync repeats, node and interface) a list of subsections; like PVE's
// parser, a key cannot be two of these at once.
type confSection struct {
	values   map[string]string
	sections map[string]*confSection
	lists    map[string][]*confSection
}

func newConfSection() *confSection {
	return &confSection{values: map[string]string{}, sections: map[string]*confSection{}, lists: map[string][]*confSection{}}
}

// repeatedSections are the keys PVE's parser treats as arrays.
var repeatedSections = map[string]bool{"node": true, "interface": true}

func (s *confSection) has(key string) bool {
	_, v := s.values[key]
	_, sec := s.sections[key]
	_, l := s.lists[key]
	return v || sec || l
}

func (s *confSection) clone() *confSection {
	c := newConfSection()
	for k, v := range s.values {
		c.values[k] = v
	}
	for k, sub := range s.sections {
		c.sections[k] = sub.clone()
	}
	for k, l := range s.lists {
		for _, sub := range l {
			c.lists[k] = append(c.lists[k], sub.clone())
		}
	}
	return c
}

// CorosyncConf is a corosync.conf as PVE reads and writes it.
type CorosyncConf struct {
	root *confSection
}

// ParseCorosyncConf reads a corosync.conf. It accepts what corosync and PVE accept (comments,
// blank lines, any indentation) and rejects what would make PVE's own parser die, quoting the
// line.
func ParseCorosyncConf(data []byte) (*CorosyncConf, error) {
	const format = "corosync.conf"
	root := newConfSection()
	stack := []*confSection{root}
	names := []string{""}
	lines := splitLines(string(data))
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cur := stack[len(stack)-1]
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: raw, Reason: reason}
		}
		switch {
		case line == "}":
			if len(stack) == 1 {
				return nil, perr("'}' without an open section")
			}
			stack, names = stack[:len(stack)-1], names[:len(names)-1]
		case strings.HasSuffix(line, "{"):
			name := strings.TrimSpace(strings.TrimSuffix(line, "{"))
			if !isConfWord(name) {
				return nil, perr("want NAME {")
			}
			sub := newConfSection()
			switch {
			case repeatedSections[name]:
				if _, ok := cur.values[name]; ok {
					return nil, perr(fmt.Sprintf("%q is both a value and a section", name))
				}
				cur.lists[name] = append(cur.lists[name], sub)
			case cur.has(name):
				return nil, perr(fmt.Sprintf("section %q appears twice", name))
			default:
				cur.sections[name] = sub
			}
			stack, names = append(stack, sub), append(names, name)
		default:
			key, val, ok := strings.Cut(line, ":")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			if !ok || !isConfWord(key) {
				return nil, perr("want KEY: VALUE, NAME { or }")
			}
			if val == "" {
				return nil, perr(fmt.Sprintf("no value for %q", key))
			}
			if strings.ContainsAny(val, "{}") {
				return nil, perr("braces inside a value")
			}
			if _, dup := cur.sections[key]; dup {
				return nil, perr(fmt.Sprintf("%q is both a value and a section", key))
			}
			if _, dup := cur.lists[key]; dup {
				return nil, perr(fmt.Sprintf("%q is both a value and a section", key))
			}
			cur.values[key] = val
		}
	}
	if len(stack) > 1 {
		return nil, &ParseError{Format: format, Reason: fmt.Sprintf("section %q is not closed", names[len(names)-1])}
	}
	conf := &CorosyncConf{root: root}
	if err := conf.checkUnique(); err != nil {
		return nil, err
	}
	return conf, nil
}

func isConfWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkUnique refuses what PVE would silently collapse: two nodes of one name, two interfaces
// of one link number. PVE keys both by that value and keeps the last.
func (c *CorosyncConf) checkUnique() error {
	for _, key := range []struct{ parent, list, id, alt string }{
		{"nodelist", "node", "name", "ring0_addr"},
		{"totem", "interface", "linknumber", "ringnumber"},
	} {
		sec := c.root.sections[key.parent]
		if sec == nil {
			continue
		}
		seen := map[string]bool{}
		for _, item := range sec.lists[key.list] {
			id := itemKey(item, key.id, key.alt)
			if seen[id] {
				return &ParseError{Format: "corosync.conf", Reason: fmt.Sprintf("two %s entries with %s %q", key.list, key.id, id)}
			}
			seen[id] = true
		}
	}
	return nil
}

func itemKey(s *confSection, id, alt string) string {
	if v, ok := s.values[id]; ok {
		return v
	}
	return s.values[alt]
}

// Bytes writes the configuration exactly as PVE's write_conf does (docs/pve.md §1.6): keys
// sorted at every level, two-space indent, a blank line after each top-level section, nodelist
// nodes sorted by name and totem interfaces by link number, both where their key sorts.
func (c *CorosyncConf) Bytes() []byte {
	var b strings.Builder
	c.sorted().write(&b, "")
	return []byte(b.String())
}

// sorted returns a copy whose node and interface lists are in PVE's order.
func (c *CorosyncConf) sorted() *confSection {
	root := c.root.clone()
	sortList := func(parent, list, id, alt string) {
		if sec := root.sections[parent]; sec != nil {
			items := sec.lists[list]
			sort.SliceStable(items, func(i, j int) bool { return itemKey(items[i], id, alt) < itemKey(items[j], id, alt) })
		}
	}
	sortList("nodelist", "node", "name", "ring0_addr")
	sortList("totem", "interface", "linknumber", "ringnumber")
	return root
}

func (s *confSection) write(b *strings.Builder, prefix string) {
	keys := make([]string, 0, len(s.values)+len(s.sections)+len(s.lists))
	for k := range s.values {
		keys = append(keys, k)
	}
	for k := range s.sections {
		keys = append(keys, k)
	}
	for k := range s.lists {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v, ok := s.values[k]; ok {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
			continue
		}
		if sub, ok := s.sections[k]; ok {
			fmt.Fprintf(b, "%s%s {\n", prefix, k)
			sub.write(b, prefix+"  ")
			fmt.Fprintf(b, "%s}\n", prefix)
			if prefix == "" {
				b.WriteString("\n")
			}
			continue
		}
		for _, sub := range s.lists[k] {
			fmt.Fprintf(b, "%s%s {\n", prefix, k)
			sub.write(b, prefix+"  ")
			fmt.Fprintf(b, "%s}\n", prefix)
		}
	}
}

// Get returns the value at a dotted path of plain sections, e.g. "totem.cluster_name" or
// "quorum.device.net.host".
func (c *CorosyncConf) Get(path string) (string, bool) {
	parts := strings.Split(path, ".")
	sec := c.root
	for _, p := range parts[:len(parts)-1] {
		sec = sec.sections[p]
		if sec == nil {
			return "", false
		}
	}
	v, ok := sec.values[parts[len(parts)-1]]
	return v, ok
}
