package pve

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// State is the answer to "is this node in a quorate cluster?". Standalone is its own answer:
// `pvecm status` exits 2 both for "not quorate" and for "no cluster", and confusing the two
// would either block a healthy plan or join a node into nothing.
type State int

const (
	StateUnknown State = iota
	NotInCluster
	NotQuorate
	Quorate
)

func (s State) String() string {
	switch s {
	case NotInCluster:
		return "not in a cluster"
	case NotQuorate:
		return "not quorate"
	case Quorate:
		return "quorate"
	}
	return "unknown"
}

// Source names the tool an answer came from.
type Source string

const (
	SourcePvesh      Source = "pvesh"
	SourcePvecm      Source = "pvecm status"
	SourceQuorumtool Source = "corosync-quorumtool"
)

// ClusterStatus is what a node knows about its cluster.
type ClusterStatus struct {
	State         State
	Source        Source
	Name          string
	ConfigVersion int
	NodeCount     int // nodes in the nodelist, offline ones included (pvesh only)
	LocalNodeID   int
	RingID        string

	// Votequorum figures; VotesKnown is false when the source (pvesh) does not give them.
	VotesKnown      bool
	ExpectedVotes   int
	HighestExpected int
	TotalVotes      int
	Quorum          int
	Flags           []string // e.g. "Quorate", "2Node", "WaitForAll", "Qdevice"

	Members []Member
	QDevice *QDeviceStatus // nil when no QDevice is registered
}

// QDeviceStatus is the QDevice row of `pvecm status`.
type QDeviceStatus struct {
	Name  string // "Qdevice"
	Votes int
	// Voting is false when the QDevice is registered but this node does not count its vote
	// (corosync then prints "(votes N)" after the name and 0 in the Votes column).
	Voting bool
}

// Local returns the member that answered.
func (s ClusterStatus) Local() (Member, bool) {
	for _, m := range s.Members {
		if m.Local {
			return m, true
		}
	}
	return Member{}, false
}

// HasFlag reports whether votequorum listed flag (e.g. "Quorate").
func (s ClusterStatus) HasFlag(flag string) bool {
	for _, f := range s.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// ParseQuorumStatus reads `pvecm status` (docs/pve.md §3.1) or `corosync-quorumtool -s[iH]`,
// which is the same text without the "Cluster information" header.
func ParseQuorumStatus(out string) (ClusterStatus, error) {
	const format = "pvecm status"
	st := ClusterStatus{Source: SourcePvecm}
	lines := splitLines(out)
	section := ""
	var table membershipTable
	sawQuorate := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		if i+1 < len(lines) && isUnderline(lines[i+1]) {
			section = strings.TrimSpace(line)
			i++
			continue
		}
		if section == "Membership information" {
			m, qd, err := table.parseLine(line)
			if err != nil {
				return ClusterStatus{}, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: err.Error()}
			}
			if qd != nil {
				st.QDevice = qd
			} else if m != nil {
				st.Members = append(st.Members, *m)
			}
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok || section == "" {
			return ClusterStatus{}, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "want a section title or LABEL: VALUE"}
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if err := st.setField(key, val); err != nil {
			return ClusterStatus{}, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: err.Error()}
		}
		if key == "Quorate" {
			sawQuorate = true
		}
	}
	if !sawQuorate {
		return ClusterStatus{}, &ParseError{Format: format, Reason: "no \"Quorate:\" line"}
	}
	if st.Name == "" {
		st.Source = SourceQuorumtool
	}
	return st, nil
}

func isUnderline(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 3 && strings.Trim(s, "-") == ""
}

func (st *ClusterStatus) setField(key, val string) error {
	num := func() (int, error) {
		f := strings.Fields(val)
		if len(f) == 0 {
			return 0, fmt.Errorf("%s: no value", key)
		}
		n, err := parseNodeID(f[0])
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", key, clip(f[0], 20))
		}
		return n, nil
	}
	var err error
	switch key {
	case "Name":
		st.Name = val
	case "Config Version":
		st.ConfigVersion, err = num()
	case "Node ID":
		st.LocalNodeID, err = num()
	case "Ring ID":
		st.RingID = val
	case "Quorate":
		switch val {
		case "Yes":
			st.State = Quorate
		case "No":
			st.State = NotQuorate
		default:
			err = fmt.Errorf("field Quorate: want Yes or No, got %q", clip(val, 20))
		}
	case "Expected votes":
		st.ExpectedVotes, err = num()
		st.VotesKnown = true
	case "Highest expected":
		st.HighestExpected, err = num()
	case "Total votes":
		st.TotalVotes, err = num()
	case "Quorum":
		// "2  " when quorate, "2 Activity blocked" when not.
		st.Quorum, err = num()
	case "Flags":
		st.Flags = strings.Fields(val)
	}
	return err
}

// parseNodeID reads decimal or 0x-prefixed hexadecimal, as corosync-quorumtool prints with
// and without -H.
func parseNodeID(s string) (int, error) {
	var n uint64
	var err error
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, err = strconv.ParseUint(s[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(s, 10, 32)
	}
	return int(n), err
}

// membershipTable reads the rows under "Membership information", whose columns depend on the
// header: "Nodeid Votes Name", "Nodeid Votes Qdevice Name", or "Nodeid Name" without votequorum.
type membershipTable struct {
	sawHeader  bool
	hasVotes   bool
	hasQDevice bool
}

func (t *membershipTable) parseLine(line string) (*Member, *QDeviceStatus, error) {
	f := strings.Fields(line)
	if !t.sawHeader {
		if len(f) < 2 || f[0] != "Nodeid" || f[len(f)-1] != "Name" {
			return nil, nil, fmt.Errorf("want the column header \"Nodeid ... Name\"")
		}
		for _, col := range f[1 : len(f)-1] {
			switch col {
			case "Votes":
				t.hasVotes = true
			case "Qdevice":
				t.hasQDevice = true
			default:
				return nil, nil, fmt.Errorf("unknown column %q", clip(col, 20))
			}
		}
		t.sawHeader = true
		return nil, nil, nil
	}
	if len(f) < 2 {
		return nil, nil, fmt.Errorf("want NODEID ... NAME")
	}
	id, err := parseNodeID(f[0])
	if err != nil {
		return nil, nil, fmt.Errorf("node id %q is not a number", clip(f[0], 20))
	}
	rest := f[1:]
	m := &Member{NodeID: id, Online: true}
	if t.hasVotes {
		v, err := strconv.Atoi(rest[0])
		if err != nil || v < 0 {
			return nil, nil, fmt.Errorf("votes %q is not a number", clip(rest[0], 20))
		}
		m.Votes, rest = v, rest[1:]
	}
	if id == 0 && t.hasQDevice {
		// The QDevice row has an empty flags column: "0x00000000 1 Qdevice [(votes N)]".
		if len(rest) == 0 {
			return nil, nil, fmt.Errorf("QDevice row without a name")
		}
		qd := &QDeviceStatus{Name: rest[0], Votes: m.Votes, Voting: true}
		if len(rest) >= 3 && rest[1] == "(votes" {
			n, err := strconv.Atoi(strings.TrimSuffix(rest[2], ")"))
			if err != nil {
				return nil, nil, fmt.Errorf("QDevice votes %q is not a number", clip(rest[2], 20))
			}
			qd.Votes, qd.Voting = n, false
		}
		return nil, qd, nil
	}
	if t.hasQDevice {
		if len(rest) < 1 {
			return nil, nil, fmt.Errorf("want NODEID VOTES QDEVICE NAME")
		}
		m.QDevice, rest = rest[0], rest[1:]
	}
	// The name may be empty: corosync-quorumtool prints "" when it cannot get a member's
	// address (and says so on stderr), leaving "0x00000002 1  (local)".
	if len(rest) > 0 && rest[0] != "(local)" {
		if _, err := netip.ParseAddr(rest[0]); err == nil {
			m.Addr = rest[0] // -i prints addresses, not names
		} else {
			m.Name = rest[0]
		}
		rest = rest[1:]
	}
	for _, extra := range rest {
		if extra == "(local)" {
			m.Local = true
		}
	}
	return m, nil, nil
}

// ParsePvecmNodes reads `pvecm nodes` (docs/pve.md §3.2), which is `corosync-quorumtool -l`:
// the members in the current corosync view, offline nodes absent.
func ParsePvecmNodes(out string) ([]Member, error) {
	const format = "pvecm nodes"
	lines := splitLines(out)
	var table membershipTable
	var members []Member
	inTable := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		if i+1 < len(lines) && isUnderline(lines[i+1]) {
			if strings.TrimSpace(line) != "Membership information" {
				return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "unknown section"}
			}
			inTable = true
			i++
			continue
		}
		if !inTable {
			return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: "want \"Membership information\" first"}
		}
		m, _, err := table.parseLine(line)
		if err != nil {
			return nil, &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: err.Error()}
		}
		if m != nil {
			members = append(members, *m)
		}
	}
	if !table.sawHeader {
		return nil, &ParseError{Format: format, Reason: "no membership table"}
	}
	return members, nil
}
