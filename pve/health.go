package pve

import (
	"context"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

//go:embed health.sh
var healthScript string

// Health is what a cluster member says of its services, the configuration corosync runs
// with and the cluster-wide files under /etc/pve, gathered in one round trip.
type Health struct {
	// Services are `systemctl is-active` of corosync and pve-cluster: "active", "inactive",
	// "failed", "activating", ...; absent when systemctl is missing.
	Services map[string]string
	// RuntimeConfigVersion is the totem.config_version corosync runs with (corosync-cmapctl),
	// which a corosync.conf edited by hand and reloaded changes on that node alone; 0 when
	// corosync does not answer (RuntimeError says why).
	RuntimeConfigVersion int
	RuntimeError         string
	// The files; nil when absent.
	Storage      *StorageConfig
	Datacenter   *Datacenter
	HAResources  []HAResource
	HAIgnored    []IgnoredLine
	HAConfigured bool     // /etc/pve/ha/resources.cfg exists
	CephMonHosts []string // from /etc/pve/ceph.conf; nil without it
	CephConf     bool
	Missing      []string
}

// Health runs the health script on the node (`sh -s`, the script on stdin).
func (n *Node) Health(ctx context.Context) (Health, error) {
	res, err := n.run(ctx, remote.Command{Line: "sh -s", Stdin: []byte(healthScript)}, n.timeouts.Query)
	if err != nil {
		return Health{}, n.wrap("health", err)
	}
	h, err := ParseHealth(string(res.Stdout))
	if err != nil {
		return Health{}, n.wrap("health", fmt.Errorf("%w (exit status %d, stderr: %s)", err, res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	return h, nil
}

const (
	healthHeader = "quorate-health v1"
	healthEnd    = "quorate-health end"
)

var cmapValueRe = regexp.MustCompile(`^\S+ \([a-z0-9]+\) = (\d+)$`)

// ParseHealth reads the health script's output. Anything before the header (a noisy login
// shell) is skipped; without the end line the output was cut short, and nothing of it is
// trusted.
func ParseHealth(out string) (Health, error) {
	const format = "health"
	h := Health{Services: map[string]string{}}
	lines := splitLines(out)
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == healthHeader {
			start = i
			break
		}
	}
	if start < 0 {
		return Health{}, &ParseError{Format: format, Reason: "no \"" + healthHeader + "\" line"}
	}
	section, file := "", ""
	files := map[string]*strings.Builder{}
	ended := false
	for i := start + 1; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: reason}
		}
		if line == healthEnd {
			ended = true
			break
		}
		if body, ok := strings.CutPrefix(line, "|"); ok {
			switch {
			case section == "file" && files[file] != nil:
				files[file].WriteString(body + "\n")
			default:
				return Health{}, perr("content line outside a file section")
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section, file = strings.TrimSuffix(strings.TrimPrefix(line, "["), "]"), ""
			if name, ok := strings.CutPrefix(section, "file "); ok {
				section, file = "file", name
			}
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return Health{}, perr("want [SECTION], KEY=VALUE or |CONTENT")
		}
		switch {
		case key == "missing":
			h.Missing = append(h.Missing, val)
		case section == "services" && key == "unit":
			unit, state, _ := strings.Cut(val, " ")
			if unit == "" {
				return Health{}, perr("unit without a name")
			}
			h.Services[unit] = strings.TrimSpace(state)
		case section == "runtime" && key == "cmap":
			if m := cmapValueRe.FindStringSubmatch(strings.TrimSpace(val)); m != nil {
				v, err := strconv.Atoi(m[1])
				if err != nil {
					return Health{}, perr("config version out of range")
				}
				h.RuntimeConfigVersion = v
			} else {
				h.RuntimeError = clip(strings.TrimSpace(val), 200)
			}
		case section == "file" && key == "exists":
			if val == "1" {
				files[file] = &strings.Builder{}
			}
		}
	}
	if !ended {
		return Health{}, &ParseError{Format: format, Reason: "output ends before \"" + healthEnd + "\" (cut short?)"}
	}
	if b := files["storage.cfg"]; b != nil {
		s := ParseStorageConfig(b.String())
		h.Storage = &s
	}
	if b := files["datacenter.cfg"]; b != nil {
		d := ParseDatacenterConfig(b.String())
		h.Datacenter = &d
	}
	if b := files["ha/resources.cfg"]; b != nil {
		h.HAConfigured = true
		h.HAResources, h.HAIgnored = ParseHAResources(b.String())
	}
	if b := files["ceph.conf"]; b != nil {
		h.CephConf = true
		h.CephMonHosts = ParseCephMonHosts(b.String())
	}
	return h, nil
}
