package pve

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// KnetLinkStats are the knet counters of one link to one node, from the corosync stats map.
// Values holds every counter by name; the fields are the ones quorate reads.
type KnetLinkStats struct {
	NodeID     int
	Link       int
	Enabled    bool
	Connected  bool
	MTU        int
	LatencyAve int // microseconds
	LatencyMax int
	DownCount  int
	Values     map[string]uint64
}

var (
	cmapLineRe = regexp.MustCompile(`^(\S+) \(([a-z0-9]+)\) = (.*)$`)
	knetKeyRe  = regexp.MustCompile(`^stats\.knet\.node(\d+)\.link(\d+)\.([a-z_]+)$`)
)

// ParseKnetStats reads `corosync-cmapctl -m stats stats.knet.`: lines
// "stats.knet.node2.link0.connected (u8) = 1". Other keys (handle stats) are skipped.
func ParseKnetStats(out string) ([]KnetLinkStats, error) {
	const format = "corosync-cmapctl -m stats"
	byKey := map[[2]int]*KnetLinkStats{}
	for i, line := range splitLines(out) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := cmapLineRe.FindStringSubmatch(line)
		if m == nil {
			return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "want KEY (TYPE) = VALUE"}
		}
		k := knetKeyRe.FindStringSubmatch(m[1])
		if k == nil {
			continue
		}
		node, err1 := strconv.Atoi(k[1])
		link, err2 := strconv.Atoi(k[2])
		if err1 != nil || err2 != nil {
			return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "node or link number out of range"}
		}
		if !strings.HasPrefix(m[2], "u") && !strings.HasPrefix(m[2], "i") {
			continue // counters are integers; anything else is not ours to read
		}
		v, err := strconv.ParseUint(m[3], 10, 64)
		if err != nil {
			return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: fmt.Sprintf("value %q is not a counter", clip(m[3], 30))}
		}
		s := byKey[[2]int{node, link}]
		if s == nil {
			s = &KnetLinkStats{NodeID: node, Link: link, Values: map[string]uint64{}}
			byKey[[2]int{node, link}] = s
		}
		s.Values[k[3]] = v
		switch k[3] {
		case "enabled":
			s.Enabled = v != 0
		case "connected":
			s.Connected = v != 0
		case "mtu":
			s.MTU = int(v)
		case "latency_ave":
			s.LatencyAve = int(v)
		case "latency_max":
			s.LatencyMax = int(v)
		case "down_count":
			s.DownCount = int(v)
		}
	}
	out2 := make([]KnetLinkStats, 0, len(byKey))
	for _, s := range byKey {
		out2 = append(out2, *s)
	}
	sort.Slice(out2, func(i, j int) bool {
		if out2[i].NodeID != out2[j].NodeID {
			return out2[i].NodeID < out2[j].NodeID
		}
		return out2[i].Link < out2[j].Link
	})
	return out2, nil
}

// KnetStats reads the knet link counters from corosync's stats map.
func (n *Node) KnetStats(ctx context.Context) ([]KnetLinkStats, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && corosync-cmapctl -m stats stats.knet."}, n.timeouts.Query)
	if err != nil {
		return nil, n.wrap("knet stats", err)
	}
	if res.ExitCode != 0 {
		return nil, n.wrap("knet stats", fmt.Errorf("corosync-cmapctl exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	stats, err := ParseKnetStats(string(res.Stdout))
	return stats, n.wrap("knet stats", err)
}
