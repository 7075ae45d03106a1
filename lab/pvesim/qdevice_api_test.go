package pvesim

import (
	"bufio"
	"strings"
	"testing"
)

// qdeviceToolOutput is `corosync-qdevice-tool -sv` in a lab host with a connected QDevice,
// which is what the socket answers "status verbose" with.
const qdeviceToolOutput = `Qdevice information
-------------------
Model:			Net
Node ID:		1
HB interval:		10000ms
Configured node list:
    0	Node ID = 1
    1	Node ID = 3
Quorate:		Yes
Last poll call:		2026-12-03T14:47:32 (cast vote)

Qdevice-net information
----------------------
Cluster name:		lab-q10
QNetd host:		198.51.100.50:5403
Algorithm:		Fifty-Fifty split
Tie-breaker:		Node with lowest node ID
State:			Connected
`

func TestQdeviceStatusKeys(t *testing.T) {
	got := parseQdeviceStatus(bufio.NewScanner(strings.NewReader(qdeviceToolOutput)))
	want := map[string]string{"Model": "Net", "Last poll call": "2026-12-03T14:47:32 (cast vote)", "QNetd host": "198.51.100.50:5403",
		"Algorithm": "Fifty-Fifty split", "Tie-breaker": "Node with lowest node ID", "State": "Connected"}
	if len(got) != len(want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestPveshQdeviceWithoutSocket(t *testing.T) {
	m := newMember(t, t.TempDir())
	code, stdout, stderr := m.run("", "pvesh", "get", "/cluster/config/qdevice", "--output-format", "json")
	if code != 0 || stdout != "{}\n" || stderr != "" {
		t.Errorf("without a qdevice socket: exit %d, %q %q; want {}", code, stdout, stderr)
	}
}
