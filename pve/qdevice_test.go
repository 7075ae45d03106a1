package pve

import (
	"context"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestParseQDeviceDaemon(t *testing.T) {
	g := pvetest.Golden(t, "pvesh-qdevice.json")
	q, running, err := ParseQDeviceDaemon(g.Stdout)
	if err != nil || !running {
		t.Fatalf("ParseQDeviceDaemon: %v, running %v", err, running)
	}
	want := QDeviceDaemon{Model: "Net", QNetdHost: "198.51.100.50:5403", Algorithm: "Fifty-Fifty split", State: "Connected",
		TieBreaker: "Node with lowest node ID", LastPollCall: "2026-12-03T14:47:32 (cast vote)"}
	if q != want || !q.Connected() {
		t.Errorf("got %+v\nwant %+v", q, want)
	}
	none := pvetest.Golden(t, "pvesh-qdevice-none.json")
	if q, running, err := ParseQDeviceDaemon(none.Stdout); err != nil || running || q != (QDeviceDaemon{}) {
		t.Errorf("{}: %+v running %v err %v; want not running", q, running, err)
	}
	for _, bad := range []string{"", "[]", "No 'get' handler defined for '/cluster/config/qdevice'\n", `{"Echo reply":"x"}`, `{"State":`} {
		if _, running, err := ParseQDeviceDaemon(bad); err == nil || running {
			t.Errorf("%q: running %v, err %v; want an error", bad, running, err)
		}
	}
}

func TestNodeQDeviceDaemon(t *testing.T) {
	r := newRunner(t)
	r.On("cd / && pvesh get /cluster/config/qdevice --output-format json").ReplyGolden("pvesh-qdevice.json")
	r.On("cd / && pvesh get /cluster/config/qdevice --output-format json").Reply(pvetest.Output{Stderr: "ipcc_send_rec[1] failed: Connection refused\n", ExitCode: 255})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := NewNode(r)
	if q, running, err := n.QDeviceDaemon(ctx); err != nil || !running || q.State != "Connected" {
		t.Errorf("QDeviceDaemon: %+v %v %v", q, running, err)
	}
	if _, _, err := n.QDeviceDaemon(ctx); err == nil {
		t.Error("a failing pvesh gave no error")
	}
}

func TestCorosyncConfQDevice(t *testing.T) {
	g := pvetest.Golden(t, "corosync-qdevice.conf")
	conf, err := ParseCorosyncConf([]byte(g.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	q, ok, err := conf.QDevice()
	if err != nil || !ok {
		t.Fatalf("QDevice: %v %v", ok, err)
	}
	if want := (QDeviceConf{Model: "net", Host: "198.51.100.50", Algorithm: "ffsplit", Votes: 1}); q != want {
		t.Errorf("got %+v, want %+v", q, want)
	}
	if QDeviceVotes(q, 2) != 1 || QDeviceVotes(QDeviceConf{Algorithm: "lms"}, 3) != 2 {
		t.Error("QDeviceVotes: want the configured votes, else one less than the nodes'")
	}
	plain := pvetest.Golden(t, "corosync-create-9.1.conf")
	conf, err = ParseCorosyncConf([]byte(plain.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := conf.QDevice(); ok || err != nil {
		t.Errorf("a file without a device section has a QDevice: %v %v", ok, err)
	}
	if a, v := QDeviceAlgorithm(2); a != "ffsplit" || v != 1 {
		t.Errorf("2 nodes: %s %d", a, v)
	}
	if a, v := QDeviceAlgorithm(3); a != "lms" || v != 0 {
		t.Errorf("3 nodes: %s %d", a, v)
	}
}
