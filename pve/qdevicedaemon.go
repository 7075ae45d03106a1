package pve

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/quorate/quorate/remote"
)

// QDeviceDaemon is what this node's corosync-qdevice says of itself, through
// `pvesh get /cluster/config/qdevice` (docs/pve.md §4.4).
type QDeviceDaemon struct {
	Model     string // "Net"
	QNetdHost string // "198.51.100.50:5403"
	Algorithm string // "Fifty-Fifty split", "Last man standing"
	State     string // "Connected" once it has the qnetd server's vote
	// TieBreaker, LastPollCall and EchoReply are shown to the user as they are.
	TieBreaker, LastPollCall, EchoReply string
}

// Connected reports whether the daemon is connected to its qnetd server.
func (q QDeviceDaemon) Connected() bool { return q.State == "Connected" }

// ParseQDeviceDaemon reads the JSON object of `pvesh get /cluster/config/qdevice`; running is
// false for {}, PVE's answer when no corosync-qdevice runs on the node.
func ParseQDeviceDaemon(out string) (q QDeviceDaemon, running bool, err error) {
	const format = "pvesh /cluster/config/qdevice"
	body, ok := jsonStart(out)
	if !ok || !strings.HasPrefix(body, "{") {
		return q, false, &ParseError{Format: format, Reason: "no JSON object in output"}
	}
	var raw map[string]jsonString
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&raw); err != nil {
		return q, false, &ParseError{Format: format, Reason: err.Error()}
	}
	if len(raw) == 0 {
		return q, false, nil
	}
	q = QDeviceDaemon{Model: string(raw["Model"]), QNetdHost: string(raw["QNetd host"]), Algorithm: string(raw["Algorithm"]),
		State: string(raw["State"]), TieBreaker: string(raw["Tie-breaker"]), LastPollCall: string(raw["Last poll call"]),
		EchoReply: string(raw["Echo reply"])}
	if q.State == "" && q.Model == "" {
		return QDeviceDaemon{}, false, &ParseError{Format: format, Reason: "neither State nor Model in the answer"}
	}
	return q, true, nil
}

// QDeviceDaemon asks the node's corosync-qdevice for its state; running is false when none runs.
func (n *Node) QDeviceDaemon(ctx context.Context) (q QDeviceDaemon, running bool, err error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvesh get /cluster/config/qdevice --output-format json"}, n.timeouts.Query)
	if err != nil {
		return q, false, n.wrap("qdevice state", err)
	}
	if res.ExitCode != 0 {
		return q, false, n.wrap("qdevice state", fmt.Errorf("pvesh exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	q, running, err = ParseQDeviceDaemon(string(res.Stdout))
	return q, running, n.wrap("qdevice state", err)
}
