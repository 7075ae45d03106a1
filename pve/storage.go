package pve

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The cluster-wide configuration files under /etc/pve that doctor and report read:
// storage.cfg and ha/resources.cfg (PVE's "section config"), datacenter.cfg (key: value) and
// ceph.conf (INI). PVE itself never refuses these files: a line it cannot read is warned
// about and skipped. The parsers here do the same and keep what was skipped, so that a report
// shows what PVE sees and says what it ignored.

// Section is one "type: id" block of a section config file, its properties in file order.
type Section struct {
	Type  string
	ID    string
	Line  int // of the header, 1-based
	Props []Prop
}

// Prop is one indented "key value" line; Value is "" for a flag written alone ("sparse").
type Prop struct {
	Key, Value string
}

// Get returns the value of key (the first, when repeated).
func (s Section) Get(key string) (string, bool) {
	for _, p := range s.Props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Flag reports a boolean property as PVE reads one: written alone it is true, else its value
// is 1 or 0.
func (s Section) Flag(key string) bool {
	v, ok := s.Get(key)
	return ok && (v == "" || v == "1")
}

// IgnoredLine is a line PVE skips with a warning, and so does quorate.
type IgnoredLine struct {
	LineNo int
	Line   string
	Reason string
}

var (
	sectionHeaderRe = regexp.MustCompile(`^(\S+):\s*(\S+)\s*$`)
	sectionPropRe   = regexp.MustCompile(`^\s+(\S+)(\s+(.*\S))?\s*$`)
)

// ParseSectionConfig reads PVE's section config format as pve-common's SectionConfig
// parse_config does: "#" lines are skipped anywhere; a header "type: id" starts a section;
// its properties are the indented "key value" lines (tab or spaces) up to the first empty
// line; anything else is ignored with a note. A header right after a property line, with no
// empty line between, is not a header to PVE, and is reported as ignored here too.
func ParseSectionConfig(text string) ([]Section, []IgnoredLine) {
	var sections []Section
	var ignored []IgnoredLine
	var cur *Section
	for i, line := range splitLines(text) {
		no := i + 1
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			continue
		}
		if line == "" {
			cur = nil
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue // PVE warns of it and reads on; nothing to report
		}
		if cur != nil {
			m := sectionPropRe.FindStringSubmatch(line)
			if m == nil {
				ignored = append(ignored, IgnoredLine{LineNo: no, Line: line, Reason: "not an indented property of section " + cur.ID})
				continue
			}
			cur.Props = append(cur.Props, Prop{Key: m[1], Value: m[3]})
			continue
		}
		m := sectionHeaderRe.FindStringSubmatch(line)
		if m == nil {
			ignored = append(ignored, IgnoredLine{LineNo: no, Line: line, Reason: "not a section header \"type: id\""})
			continue
		}
		sections = append(sections, Section{Type: m[1], ID: m[2], Line: no})
		cur = &sections[len(sections)-1]
	}
	return sections, ignored
}

// sharedTypes are the storage types PVE treats as shared whatever the file says (docs/pve.md
// §12.1: pve-storage @SHARED_STORAGE, and glusterfs, which PVE 9 dropped).
var sharedTypes = []string{"iscsi", "nfs", "cifs", "rbd", "cephfs", "iscsidirect", "zfs", "drbd", "pbs", "glusterfs"}

// Storage is one storage of /etc/pve/storage.cfg.
type Storage struct {
	ID   string
	Type string // dir, lvm, lvmthin, zfspool, nfs, cifs, iscsi, rbd, cephfs, pbs, ...
	// Shared: the same storage is reachable from every node (a shared type, or "shared 1" on
	// dir and lvm): live migration moves only memory, and HA can restart guests on it
	// elsewhere.
	Shared   bool
	Disabled bool
	Content  []string // images, rootdir, iso, vztmpl, backup, snippets, import
	Nodes    []string // the nodes it is limited to; empty: all
	// Where is the storage's own location: a path, a pool, a volume group, an export.
	Where string
	// Servers are the hosts the storage's traffic goes to (NFS/CIFS/PBS server, iSCSI portal,
	// Ceph monitors), addresses or names as written, without ports. Empty for local storage
	// and for Ceph storage managed by PVE itself (its monitors are in /etc/pve/ceph.conf).
	Servers []string
	Section Section
}

// StorageConfig is /etc/pve/storage.cfg.
type StorageConfig struct {
	Storages []Storage
	Ignored  []IgnoredLine
}

// ParseStorageConfig reads /etc/pve/storage.cfg.
func ParseStorageConfig(text string) StorageConfig {
	sections, ignored := ParseSectionConfig(text)
	cfg := StorageConfig{Ignored: ignored}
	for _, s := range sections {
		st := Storage{ID: s.ID, Type: s.Type, Section: s}
		st.Shared = slices.Contains(sharedTypes, s.Type) || s.Flag("shared")
		st.Disabled = s.Flag("disable")
		if v, ok := s.Get("content"); ok {
			st.Content = splitList(v)
		}
		if v, ok := s.Get("nodes"); ok {
			st.Nodes = splitList(v)
		}
		st.Where = storageWhere(s)
		st.Servers = storageServers(s)
		cfg.Storages = append(cfg.Storages, st)
	}
	return cfg
}

// storageWhere is the property that says where a storage's data is, by type.
func storageWhere(s Section) string {
	get := func(keys ...string) string {
		var parts []string
		for _, k := range keys {
			if v, ok := s.Get(k); ok && v != "" {
				parts = append(parts, v)
			}
		}
		return strings.Join(parts, " ")
	}
	switch s.Type {
	case "dir", "btrfs":
		return get("path")
	case "nfs":
		return get("export")
	case "cifs":
		return get("share")
	case "lvm":
		return get("vgname")
	case "lvmthin":
		return get("vgname", "thinpool")
	case "zfspool", "rbd":
		return get("pool")
	case "zfs":
		return get("pool", "target")
	case "iscsi", "iscsidirect":
		return get("target")
	case "cephfs":
		return get("fs-name", "path")
	case "pbs":
		return get("datastore")
	}
	return get("path")
}

// storageServers are the remote ends of a storage's traffic, by type (docs/pve.md §12.1).
func storageServers(s Section) []string {
	var out []string
	add := func(v string) {
		if h := stripPort(v); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	var keys []string
	switch s.Type {
	case "nfs", "cifs", "pbs", "glusterfs", "esxi":
		keys = []string{"server", "server2"}
	case "iscsi", "iscsidirect", "zfs":
		keys = []string{"portal"}
	case "rbd", "cephfs":
		if v, ok := s.Get("monhost"); ok {
			for _, m := range splitHostList(v) {
				add(m)
			}
		}
	}
	for _, key := range keys {
		if v, ok := s.Get(key); ok {
			add(v)
		}
	}
	return out
}

// splitList reads PVE's comma (or space, or semicolon) separated lists.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' })
}

// splitHostList reads a Ceph monitor list: "10.1.1.20 10.1.1.21", "a,b;c", or messenger v2
// "[v2:10.1.1.20:3300/0,v1:10.1.1.20:6789/0]", which names one host twice.
func splitHostList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }) {
		f = strings.Trim(f, "[]")
		f = strings.TrimPrefix(strings.TrimPrefix(f, "v2:"), "v1:")
		if i := strings.Index(f, "/"); i >= 0 {
			f = f[:i]
		}
		if h := stripPort(f); h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// stripPort removes ":port" from "host:port", "[v6]:port" and "[v6]"; a bare IPv6 address is
// kept whole.
func stripPort(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		if end := strings.Index(v, "]"); end > 0 {
			return v[1:end]
		}
		return strings.Trim(v, "[]")
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return v
	}
	if host, port, ok := strings.Cut(v, ":"); ok && !strings.Contains(port, ":") {
		if _, err := strconv.Atoi(port); err == nil {
			return host
		}
	}
	return v
}

// HAResource is one resource of /etc/pve/ha/resources.cfg ("vm: 100", "ct: 101").
type HAResource struct {
	ID    string // "vm:100"
	State string // started (the default), stopped, disabled, ignored
	Group string
}

// ParseHAResources reads /etc/pve/ha/resources.cfg.
func ParseHAResources(text string) ([]HAResource, []IgnoredLine) {
	sections, ignored := ParseSectionConfig(text)
	var out []HAResource
	for _, s := range sections {
		r := HAResource{ID: s.Type + ":" + s.ID, State: "started"}
		if v, ok := s.Get("state"); ok && v != "" {
			r.State = v
		}
		r.Group, _ = s.Get("group")
		out = append(out, r)
	}
	return out, ignored
}

// Datacenter is what quorate reads of /etc/pve/datacenter.cfg.
type Datacenter struct {
	// MigrationType is "secure" (over SSH, the default) or "insecure".
	MigrationType string
	// MigrationNetwork is the network live migrations use; invalid when not set, and then
	// migrations go to the target's address in the corosync nodelist (its link0).
	MigrationNetwork netip.Prefix
	// MigrationNetworkText is the value as written, for a network that does not parse.
	MigrationNetworkText string
	Values               map[string]string // every key, as written
	Ignored              []IgnoredLine
}

// ParseDatacenterConfig reads /etc/pve/datacenter.cfg: "key: value" lines, "#" comments (as
// pve-common's JSONSchema parse_config). migration is "[type=]secure|insecure[,network=CIDR]";
// PVE before 4.4 wrote "migration_unsecure: 1" instead.
func ParseDatacenterConfig(text string) Datacenter {
	d := Datacenter{MigrationType: "secure", Values: map[string]string{}}
	for i, line := range splitLines(text) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			d.Ignored = append(d.Ignored, IgnoredLine{LineNo: i + 1, Line: line, Reason: "want KEY: VALUE"})
			continue
		}
		val = strings.TrimSpace(val)
		d.Values[key] = val
		switch key {
		case "migration":
			for j, part := range strings.Split(val, ",") {
				k, v, kv := strings.Cut(strings.TrimSpace(part), "=")
				switch {
				case !kv && j == 0:
					d.MigrationType = k
				case k == "type":
					d.MigrationType = v
				case k == "network":
					d.MigrationNetworkText = v
					if p, err := netip.ParsePrefix(v); err == nil {
						d.MigrationNetwork = p.Masked()
					}
				}
			}
		case "migration_unsecure":
			if val == "1" {
				d.MigrationType = "insecure"
			}
		}
	}
	return d
}

// ParseCephMonHosts reads the monitor addresses of /etc/pve/ceph.conf (a Ceph cluster PVE
// manages): "mon_host" (or "mon host") in [global], and "public_addr" / "mon_addr" of each
// [mon.X] section.
func ParseCephMonHosts(text string) []string {
	var out []string
	section := ""
	for _, line := range splitLines(text) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
			continue
		}
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			section = strings.TrimSpace(t[1 : len(t)-1])
			continue
		}
		key, val, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		key = strings.ReplaceAll(strings.TrimSpace(key), " ", "_")
		take := (section == "global" && key == "mon_host") ||
			(strings.HasPrefix(section, "mon.") && (key == "public_addr" || key == "mon_addr"))
		if !take {
			continue
		}
		for _, h := range splitHostList(val) {
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}
