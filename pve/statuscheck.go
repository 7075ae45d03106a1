package pve

// Unreadable reports a cluster status that parsed but cannot be a member's whole answer: the
// output was cut short (a member dying mid-command, a session closed early). A member always
// counts itself, so a membership table with its header and no rows is never "no members";
// and `pvecm status` prints "Node ID:" before "Quorate:", so a status without it lost lines.
// A standalone answer is complete as it is. The error is a *ParseError naming the source.
func (s ClusterStatus) Unreadable() error {
	if s.State == NotInCluster {
		return nil
	}
	format := string(s.Source)
	if format == "" {
		format = "cluster status"
	}
	switch {
	case len(s.Members) == 0:
		return &ParseError{Format: format, Reason: "a membership table without rows: the output was cut short"}
	case s.Source != SourcePvesh && s.LocalNodeID == 0:
		return &ParseError{Format: format, Reason: "no \"Node ID:\" line: the output was cut short"}
	}
	return nil
}
