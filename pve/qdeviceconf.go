package pve

import (
	"fmt"
	"strconv"
)

// QDeviceConf is the quorum.device section `pvecm qdevice setup` writes (docs/pve.md §3.6).
type QDeviceConf struct {
	Model     string // "net"
	Host      string // the qnetd host, quorum.device.net.host
	Algorithm string // "ffsplit" (even node counts) or "lms" (odd counts, setup --force)
	// Votes is quorum.device.votes; 0 when the file leaves it out, as setup does for lms.
	Votes int
}

// QDevice is the configured QDevice; false when corosync.conf has none.
func (c *CorosyncConf) QDevice() (QDeviceConf, bool, error) {
	quorum := c.root.sections["quorum"]
	if quorum == nil || quorum.sections["device"] == nil {
		return QDeviceConf{}, false, nil
	}
	dev := quorum.sections["device"]
	q := QDeviceConf{Model: dev.values["model"]}
	if net := dev.sections["net"]; net != nil {
		q.Host, q.Algorithm = net.values["host"], net.values["algorithm"]
	}
	if v, ok := dev.values["votes"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return QDeviceConf{}, true, fmt.Errorf("corosync.conf: quorum.device.votes %q is not a number", clip(v, 20))
		}
		q.Votes = n
	}
	return q, true, nil
}

// QDeviceVotes is what the QDevice adds to the expected votes of a cluster whose nodes have
// nodeVotes votes together: the configured votes, else corosync-qdevice's default of one
// less than the nodes' votes (which is what lms gets, docs/pve.md §3.6).
func QDeviceVotes(q QDeviceConf, nodeVotes int) int {
	if q.Votes > 0 {
		return q.Votes
	}
	return max(nodeVotes-1, 0)
}

// QDeviceAlgorithm is the algorithm `pvecm qdevice setup` chooses for a cluster of nodes
// nodes: ffsplit for an even count, lms (which needs --force) for an odd one; and the votes
// it gives the QDevice then.
func QDeviceAlgorithm(nodes int) (algorithm string, votes int) {
	if nodes%2 == 1 {
		return "lms", 0
	}
	return "ffsplit", 1
}
