package pve

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// LinkStatus is one link of `corosync-cfgtool -s` with each node's state on it.
type LinkStatus struct {
	Link      int
	Transport string // "udp" for knet links, "" for udp/udpu clusters
	Addr      string // this node's address on the link
	Nodes     []LinkPeer
}

// LinkPeer is one node's line under a link: "localhost", "connected" or "disconnected".
type LinkPeer struct {
	NodeID int
	State  string
}

// PeerLinks is one reachable peer of `corosync-cfgtool -n` with its links.
type PeerLinks struct {
	NodeID    int
	Reachable bool
	Links     []PeerLink
}

// PeerLink is one "LINK: N udp (src->dst) enabled connected mtu: 1397" line.
type PeerLink struct {
	Link      int
	Transport string
	Src, Dst  string
	Enabled   bool
	Connected bool
	MTU       int
}

// Links is what corosync says about its links from this node.
type Links struct {
	LocalNodeID int
	Transport   string // "knet" unless configured otherwise
	Status      []LinkStatus
	Peers       []PeerLinks
}

// parseCfgtoolHeader reads "Local node ID 1, transport knet".
func parseCfgtoolHeader(line string) (int, string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Local node ID ")
	if !ok {
		return 0, "", false
	}
	idText, transport, _ := strings.Cut(rest, ", transport ")
	id, err := strconv.Atoi(strings.TrimSpace(idText))
	if err != nil {
		return 0, "", false
	}
	return id, strings.TrimSpace(transport), true
}

// ParseCfgtoolStatus reads `corosync-cfgtool -s`.
func ParseCfgtoolStatus(out string) (Links, error) {
	const format = "corosync-cfgtool -s"
	var l Links
	var cur *LinkStatus
	sawHeader := false
	for i, line := range splitLines(out) {
		t := strings.TrimSpace(line)
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: reason}
		}
		switch {
		case t == "" || strings.HasPrefix(t, "Printing ") || strings.HasPrefix(t, "**"):
		case strings.HasPrefix(t, "Local node ID "):
			id, tr, ok := parseCfgtoolHeader(t)
			if !ok {
				return Links{}, perr("want \"Local node ID N, transport T\"")
			}
			l.LocalNodeID, l.Transport, sawHeader = id, tr, true
		case strings.HasPrefix(t, "LINK ID "):
			f := strings.Fields(strings.TrimPrefix(t, "LINK ID "))
			if len(f) == 0 {
				return Links{}, perr("LINK ID without a number")
			}
			n, err := strconv.Atoi(f[0])
			if err != nil || n < 0 || n > 7 {
				return Links{}, perr("bad link number")
			}
			ls := LinkStatus{Link: n}
			if len(f) > 1 {
				ls.Transport = f[1]
			}
			l.Status = append(l.Status, ls)
			cur = &l.Status[len(l.Status)-1]
		case cur == nil:
			return Links{}, perr("want \"LINK ID N\" first")
		case strings.HasPrefix(t, "addr"):
			_, v, ok := strings.Cut(t, "=")
			if !ok {
				return Links{}, perr("want addr = ADDRESS")
			}
			cur.Addr = strings.TrimSpace(v)
		case t == "status:":
		case strings.HasPrefix(t, "status"):
			// The brief form (-b) "status = n33" carries no node ids; keep it out.
		case strings.HasPrefix(t, "nodeid"):
			// "nodeid:          2:\tconnected" (newer) or "nodeid  2:\tconnected" (man page).
			rest := strings.TrimPrefix(strings.TrimPrefix(t, "nodeid"), ":")
			idText, state, ok := strings.Cut(rest, ":")
			id, err := strconv.Atoi(strings.TrimSpace(idText))
			if !ok || err != nil {
				return Links{}, perr("want nodeid N: STATE")
			}
			cur.Nodes = append(cur.Nodes, LinkPeer{NodeID: id, State: strings.TrimSpace(state)})
		default:
			return Links{}, perr("unknown line")
		}
	}
	if !sawHeader && len(l.Status) == 0 {
		return Links{}, &ParseError{Format: format, Reason: "neither a Local node ID line nor any LINK ID"}
	}
	return l, nil
}

// ParseCfgtoolNodes reads `corosync-cfgtool -n`.
func ParseCfgtoolNodes(out string) (Links, error) {
	const format = "corosync-cfgtool -n"
	var l Links
	var cur *PeerLinks
	sawHeader := false
	for i, line := range splitLines(out) {
		t := strings.TrimSpace(line)
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: reason}
		}
		switch {
		case t == "":
		case strings.HasPrefix(t, "Local node ID "):
			id, tr, ok := parseCfgtoolHeader(t)
			if !ok {
				return Links{}, perr("want \"Local node ID N, transport T\"")
			}
			l.LocalNodeID, l.Transport, sawHeader = id, tr, true
		case strings.HasPrefix(t, "nodeid:"):
			f := strings.Fields(strings.TrimPrefix(t, "nodeid:"))
			if len(f) == 0 {
				return Links{}, perr("nodeid without a number")
			}
			id, err := strconv.Atoi(f[0])
			if err != nil {
				return Links{}, perr("bad node id")
			}
			p := PeerLinks{NodeID: id}
			for _, w := range f[1:] {
				if w == "reachable" {
					p.Reachable = true
				}
			}
			l.Peers = append(l.Peers, p)
			cur = &l.Peers[len(l.Peers)-1]
		case strings.HasPrefix(t, "LINK:"):
			if cur == nil {
				return Links{}, perr("LINK before any nodeid")
			}
			pl, err := parsePeerLink(strings.TrimSpace(strings.TrimPrefix(t, "LINK:")))
			if err != nil {
				return Links{}, perr(err.Error())
			}
			cur.Links = append(cur.Links, pl)
		default:
			return Links{}, perr("unknown line")
		}
	}
	if !sawHeader {
		return Links{}, &ParseError{Format: format, Reason: "no Local node ID line"}
	}
	return l, nil
}

// parsePeerLink reads "0 udp (192.168.1.101->192.168.1.102) enabled connected mtu: 1397"; the
// transport word is missing in older corosync.
func parsePeerLink(s string) (PeerLink, error) {
	var pl PeerLink
	open, closeIdx := strings.Index(s, "("), strings.LastIndex(s, ")")
	if open < 0 || closeIdx < open {
		return pl, fmt.Errorf("want (SRC->DST)")
	}
	head := strings.Fields(s[:open])
	if len(head) == 0 {
		return pl, fmt.Errorf("no link number")
	}
	n, err := strconv.Atoi(head[0])
	if err != nil || n < 0 || n > 7 {
		return pl, fmt.Errorf("bad link number")
	}
	pl.Link = n
	if len(head) > 1 {
		pl.Transport = head[1]
	}
	src, dst, _ := strings.Cut(s[open+1:closeIdx], "->")
	pl.Src, pl.Dst = src, dst
	f := strings.Fields(s[closeIdx+1:])
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "enabled":
			pl.Enabled = true
		case "connected":
			pl.Connected = true
		case "mtu:":
			if i+1 < len(f) {
				pl.MTU, _ = strconv.Atoi(f[i+1])
				i++
			}
		}
	}
	return pl, nil
}

const cfgtoolSplit = "quorate-cfgtool-n"

// Links asks corosync for link status by link (-s) and by peer (-n), in one round trip.
func (n *Node) Links(ctx context.Context) (Links, error) {
	line := "cd / && corosync-cfgtool -s && echo " + cfgtoolSplit + " && corosync-cfgtool -n"
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return Links{}, n.wrap("links", err)
	}
	sOut, nOut, split := strings.Cut(string(res.Stdout), cfgtoolSplit+"\n")
	if res.ExitCode != 0 || !split {
		return Links{}, n.wrap("links", fmt.Errorf("corosync-cfgtool exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	byLink, err := ParseCfgtoolStatus(sOut)
	if err != nil {
		return Links{}, n.wrap("links", err)
	}
	byPeer, err := ParseCfgtoolNodes(nOut)
	if err != nil {
		return Links{}, n.wrap("links", err)
	}
	byLink.Peers = byPeer.Peers
	return byLink, nil
}
