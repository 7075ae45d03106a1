package pve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
)

const (
	pveshStatus = "cd / && pvesh get /cluster/status --output-format json"
	pvecmStatus = "cd / && pvecm status"
	quorumtool  = "cd / && corosync-quorumtool -siH"
)

func TestFactsSendsTheScriptOnStdin(t *testing.T) {
	g := readGolden(t, "facts-pve1.txt")
	fake := newFake(map[string]fakeResponse{"sh -s": {stdout: g.Stdout}})
	f, err := NewNode(fake).Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, fake.lines(), []string{"sh -s"})
	if string(fake.calls[0].Stdin) != factsScript || !strings.HasPrefix(factsScript, "# quorate facts v1") {
		t.Error("the facts script was not sent on stdin")
	}
	if f.NodeName != "pve1" {
		t.Errorf("node name %q", f.NodeName)
	}
}

func TestFactsTruncatedOutputIsAnError(t *testing.T) {
	g := readGolden(t, "facts-pve1.txt")
	cut := g.Stdout[:strings.Index(g.Stdout, "[time]")]
	fake := newFake(map[string]fakeResponse{"sh -s": {stdout: cut, stderr: "Connection reset\n", code: 1}})
	_, err := NewNode(fake).Facts(context.Background())
	if err == nil || !strings.Contains(err.Error(), "pve2: facts:") || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("error = %v", err)
	}
}

func TestStatusPrefersPveshAndAddsVotes(t *testing.T) {
	fake := newFake(map[string]fakeResponse{
		pveshStatus: {stdout: readGolden(t, "pvesh-status-clustered.json").Stdout},
		pvecmStatus: {stdout: readGolden(t, "pvecm-status-qdevice.txt").Stdout},
	})
	st, err := NewNode(fake).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, fake.lines(), []string{pveshStatus, pvecmStatus})
	if st.Source != SourcePvesh || st.State != Quorate || !st.VotesKnown || st.ExpectedVotes != 3 || st.QDevice == nil {
		t.Errorf("got %+v", st)
	}
	if st.Members[0].Votes != 1 || st.Members[0].QDevice != "A,V,NMW" || st.Members[1].Votes != 0 {
		t.Errorf("member votes %+v", st.Members)
	}
}

func TestStatusStandaloneFromPvesh(t *testing.T) {
	fake := newFake(map[string]fakeResponse{
		pveshStatus: {stdout: readGolden(t, "pvesh-status-standalone.json").Stdout},
		pvecmStatus: {stderr: readGolden(t, "pvecm-status-no-cluster.txt").Stderr, code: 2},
	})
	st, err := NewNode(fake).Status(context.Background())
	if err != nil || st.State != NotInCluster || st.Source != SourcePvesh || len(st.Members) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	equalLines(t, fake.lines(), []string{pveshStatus, pvecmStatus})
}

// pmxcfs knows the cluster only through corosync: with corosync down, a member's pvesh shows
// the same fake nodeid 0 entry as a standalone node. That must not read as "not in a cluster".
func TestStatusStandaloneShapeOnAMemberWithCorosyncDown(t *testing.T) {
	header := strings.SplitN(readGolden(t, "pvecm-status-quorate.txt").Stdout, "\n\n", 2)[0] + "\n\n"
	tests := []struct {
		name  string
		pvecm fakeResponse
		state State
		errIs error
	}{
		{"corosync down", fakeResponse{stdout: header, stderr: "Cannot initialize CMAP service\n", code: 1}, StateUnknown, ErrCorosyncDown},
		{"corosync answers", fakeResponse{stdout: readGolden(t, "pvecm-status-not-quorate.txt").Stdout, code: 2}, NotQuorate, nil},
		{"pvecm fails otherwise", fakeResponse{stderr: "please run as root\n", code: 255}, StateUnknown, errToolFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(map[string]fakeResponse{
				pveshStatus: {stdout: readGolden(t, "pvesh-status-standalone.json").Stdout},
				pvecmStatus: tt.pvecm,
			})
			st, err := NewNode(fake).Status(context.Background())
			equalLines(t, fake.lines(), []string{pveshStatus, pvecmStatus})
			if st.State != tt.state || (tt.errIs == nil) != (err == nil) || (tt.errIs != nil && !errors.Is(err, tt.errIs)) {
				t.Errorf("state %v err %v; want %v, %v", st.State, err, tt.state, tt.errIs)
			}
		})
	}
}

func TestStatusFallbacks(t *testing.T) {
	pveshDown := fakeResponse{stderr: "ipcc_send_rec[1] failed: Connection refused\n", code: 255}
	tests := []struct {
		name      string
		responses map[string]fakeResponse
		state     State
		source    Source
		calls     []string
		errIs     error
	}{
		{
			name: "pvesh fails, pvecm says not quorate with exit 2",
			responses: map[string]fakeResponse{
				pveshStatus: pveshDown,
				pvecmStatus: {stdout: readGolden(t, "pvecm-status-not-quorate.txt").Stdout, code: 2},
			},
			state: NotQuorate, source: SourcePvecm, calls: []string{pveshStatus, pvecmStatus},
		},
		{
			name: "pvesh fails, pvecm says no cluster with exit 2",
			responses: map[string]fakeResponse{
				pveshStatus: pveshDown,
				pvecmStatus: {stderr: readGolden(t, "pvecm-status-no-cluster.txt").Stderr, code: 2},
			},
			state: NotInCluster, source: SourcePvecm, calls: []string{pveshStatus, pvecmStatus},
		},
		{
			name: "pmxcfs down: corosync-quorumtool answers",
			responses: map[string]fakeResponse{
				pveshStatus: pveshDown,
				pvecmStatus: {stderr: "pve configuration filesystem (pmxcfs) not mounted\n", code: 255},
				quorumtool:  {stdout: strings.SplitN(readGolden(t, "pvecm-status-quorate.txt").Stdout, "\n\n", 2)[1]},
			},
			state: Quorate, source: SourceQuorumtool, calls: []string{pveshStatus, pvecmStatus, quorumtool},
		},
		{
			name: "nothing answers: corosync down",
			responses: map[string]fakeResponse{
				pveshStatus: pveshDown,
				pvecmStatus: {stderr: "pve configuration filesystem (pmxcfs) not mounted\n", code: 255},
				quorumtool:  {stderr: "Cannot initialize CMAP service\n", code: 1},
			},
			calls: []string{pveshStatus, pvecmStatus, quorumtool}, errIs: ErrCorosyncDown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(tt.responses)
			st, err := NewNode(fake).Status(context.Background())
			equalLines(t, fake.lines(), tt.calls)
			if tt.errIs != nil {
				if !errors.Is(err, tt.errIs) || !strings.HasPrefix(err.Error(), "pve2: status: ") {
					t.Errorf("error %v, want %v", err, tt.errIs)
				}
				return
			}
			if err != nil || st.State != tt.state || st.Source != tt.source {
				t.Errorf("state %v source %q err %v", st.State, st.Source, err)
			}
		})
	}
}

func TestStatusTransportErrorStops(t *testing.T) {
	fake := newFake(map[string]fakeResponse{pveshStatus: {err: remote.ErrUnreachable}})
	_, err := NewNode(fake).Status(context.Background())
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("error %v", err)
	}
	equalLines(t, fake.lines(), []string{pveshStatus})
}

func TestJoinThroughFakeRunner(t *testing.T) {
	line := "cd / && pvecm add 198.51.100.11 --fingerprint " + testFP + " --link0 198.51.100.12"
	opts := JoinOpts{Target: "198.51.100.11", Password: "pw0rd", Fingerprint: testFP, Links: []Link{{Number: 0, Addr: "198.51.100.12"}}}
	tests := []struct {
		golden string
		kind   FailureKind
	}{
		{"join-success-pipe.txt", ""},
		{"join-auth.txt", FailPasswordRejected},
		{"join-no-quorum.txt", FailNoQuorum},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			g := readGolden(t, tt.golden)
			fake := newFake(map[string]fakeResponse{line: {stdout: g.Stdout, stderr: g.Stderr}}) // exit 0 always
			jr, err := NewNode(fake).Join(context.Background(), opts)
			equalLines(t, fake.lines(), []string{line})
			if c := fake.calls[0]; string(c.Stdin) != "pw0rd\n" || len(c.Secrets) != 1 || c.Secrets[0] != "pw0rd" || c.Timeout != DefaultTimeouts().Join {
				t.Errorf("stdin %q secrets %q timeout %v", c.Stdin, c.Secrets, c.Timeout)
			}
			if tt.kind == "" {
				if err != nil || jr.Node != "pve02" {
					t.Errorf("%+v %v", jr, err)
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) || f.Kind != tt.kind || !strings.HasPrefix(err.Error(), "pve2: join: ") {
				t.Errorf("error %v, want %s", err, tt.kind)
			}
		})
	}
}

func TestJoinTimeoutDuringQuorumWait(t *testing.T) {
	out := readGolden(t, "join-success-pipe.txt").Stdout
	partial := out[:strings.Index(out, "OK\n(re)generate")]
	line := "cd / && pvecm add 198.51.100.11 --fingerprint " + testFP
	fake := newFake(map[string]fakeResponse{line: {stdout: partial, err: remote.ErrTimeout}})
	_, err := NewNode(fake).WithTimeouts(Timeouts{Join: time.Minute}).Join(context.Background(), JoinOpts{Target: "198.51.100.11", Password: "pw", Fingerprint: testFP})
	var f *Failure
	if !errors.As(err, &f) || f.Kind != FailTimeout || f.Line != "waiting for quorum..." || !errors.Is(err, remote.ErrTimeout) {
		t.Errorf("error %v", err)
	}
	if fake.calls[0].Timeout != time.Minute {
		t.Errorf("timeout %v", fake.calls[0].Timeout)
	}
}

func TestCreateAndAdminThroughFakeRunner(t *testing.T) {
	g := readGolden(t, "create-keygen.txt")
	fake := newFake(map[string]fakeResponse{
		"cd / && pvecm create demo --link0 198.51.100.11": {stdout: g.Stdout},
		"cd / && pvecm delnode pve3":                      {stderr: "Cannot delete myself from cluster!\n", code: 255},
		"cd / && pvecm qdevice remove":                    {stdout: "\nRemoved Qdevice.\n"},
	})
	n := NewNode(fake)
	cr, err := n.Create(context.Background(), CreateOpts{ClusterName: "demo", Links: []Link{{Number: 0, Addr: "198.51.100.11"}}})
	if err != nil || !cr.KeyGenerated {
		t.Errorf("create %+v %v", cr, err)
	}
	_, err = n.DelNode(context.Background(), "pve3")
	var f *Failure
	if !errors.As(err, &f) || f.Kind != FailDeleteSelf {
		t.Errorf("delnode %v", err)
	}
	if err := n.QDeviceRemove(context.Background()); err != nil {
		t.Errorf("qdevice remove %v", err)
	}
}

func TestQueriesThroughFakeRunner(t *testing.T) {
	fake := newFake(map[string]fakeResponse{
		"cd / && pvesh get /cluster/config/join --output-format json":  {stdout: readGolden(t, "pvesh-join-info.json").Stdout},
		"cd / && pvesh get /cluster/config/nodes --output-format json": {stdout: readGolden(t, "pvesh-nodes.json").Stdout},
		"cd / && pveversion -v":                          {stdout: readGolden(t, "pveversion-v-9.txt").Stdout},
		"cd / && pvenode cert info --output-format json": {stderr: "pvenode: command not found\n", code: 127},
		opensslFingerprintScript:                         {stdout: readGolden(t, "openssl-fingerprint.txt").Stdout},
		"cd / && corosync-cmapctl -m stats stats.knet.":  {stdout: readGolden(t, "cmapctl-knet.txt").Stdout},
		"cd / && corosync-cfgtool -s && echo quorate-cfgtool-n && corosync-cfgtool -n": {
			stdout: readGolden(t, "cfgtool-s.txt").Stdout + "quorate-cfgtool-n\n" + readGolden(t, "cfgtool-n.txt").Stdout,
		},
	})
	n := NewNode(fake)
	ctx := context.Background()
	if ji, err := n.JoinInfo(ctx); err != nil || ji.ClusterName != "devcluster" {
		t.Errorf("join info %+v %v", ji, err)
	}
	if nl, err := n.Nodelist(ctx); err != nil || len(nl) != 1 {
		t.Errorf("nodelist %+v %v", nl, err)
	}
	if v, err := n.Version(ctx); err != nil || v.Manager.Version.Major != 9 {
		t.Errorf("version %+v %v", v, err)
	}
	fp, err := n.CertFingerprint(ctx)
	if err != nil || !strings.HasPrefix(fp, "09:D6:DF:E9") {
		t.Errorf("fingerprint %q %v", fp, err)
	}
	if ks, err := n.KnetStats(ctx); err != nil || len(ks) != 3 {
		t.Errorf("knet %+v %v", ks, err)
	}
	l, err := n.Links(ctx)
	if err != nil || len(l.Status) != 2 || len(l.Peers) != 1 || l.LocalNodeID != 1 {
		t.Errorf("links %+v %v", l, err)
	}
}

func TestJoinInfoOnStandaloneNode(t *testing.T) {
	fake := newFake(map[string]fakeResponse{
		"cd / && pvesh get /cluster/config/join --output-format json": {stderr: "node is not in a cluster, no join info available!\n", code: 255},
	})
	_, err := NewNode(fake).JoinInfo(context.Background())
	if !errors.Is(err, ErrNotInCluster) {
		t.Errorf("error %v", err)
	}
}

func TestDeadlineIsOurs(t *testing.T) {
	var seen time.Duration
	r := runnerFunc(func(ctx context.Context, cmd remote.Command) (remote.Result, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			t.Error("no deadline")
		}
		seen = time.Until(dl)
		return remote.Result{Stdout: []byte(readGolden(t, "pveversion-v-9.txt").Stdout)}, nil
	})
	if _, err := NewNode(r).WithTimeouts(Timeouts{Query: 3 * time.Second}).Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen <= 0 || seen > 3*time.Second {
		t.Errorf("deadline in %v, want within 3s", seen)
	}
}

type runnerFunc func(ctx context.Context, cmd remote.Command) (remote.Result, error)

func (f runnerFunc) Host() string { return "pve9" }
func (f runnerFunc) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	return f(ctx, cmd)
}

func TestStatusKeepsPveshAnswerWhenPvecmFails(t *testing.T) {
	fake := newFake(map[string]fakeResponse{
		pveshStatus: {stdout: readGolden(t, "pvesh-status-clustered.json").Stdout},
		pvecmStatus: {stderr: "Cannot initialize CMAP service\n", code: 1},
	})
	st, err := NewNode(fake).Status(context.Background())
	if err != nil || st.State != Quorate || st.VotesKnown || len(st.Members) != 2 {
		t.Errorf("%+v %v", st, err)
	}
}

func TestNodelistOnStandaloneNode(t *testing.T) {
	fake := newFake(map[string]fakeResponse{"cd / && pvesh get /cluster/config/nodes --output-format json": {stdout: "[]\n"}})
	if _, err := NewNode(fake).Nodelist(context.Background()); !errors.Is(err, ErrNotInCluster) {
		t.Errorf("error %v", err)
	}
}
