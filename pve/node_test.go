package pve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

const (
	pveshStatus = "cd / && pvesh get /cluster/status --output-format json"
	pvecmStatus = "cd / && pvecm status"
	quorumtool  = "cd / && corosync-quorumtool -siH"
)

func TestFactsSendsTheScriptOnStdin(t *testing.T) {
	fake := newRunner(t)
	fake.On("sh -s").WantStdin(factsScript).ReplyGolden("facts-pve1.txt")
	f, err := NewNode(fake).Facts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, fake.Lines(), []string{"sh -s"})
	if !strings.HasPrefix(factsScript, "# quorate facts v1") {
		t.Error("the facts script is not the v1 script")
	}
	if f.NodeName != "pve1" {
		t.Errorf("node name %q", f.NodeName)
	}
}

func TestFactsTruncatedOutputIsAnError(t *testing.T) {
	g := pvetest.Golden(t, "facts-pve1.txt")
	cut := g.Stdout[:strings.Index(g.Stdout, "[time]")]
	fake := newRunner(t)
	fake.On("sh -s").Reply(pvetest.Output{Stdout: cut, Stderr: "Connection reset\n", ExitCode: 1})
	_, err := NewNode(fake).Facts(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "facts: ") || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("error = %v", err)
	}
}

func TestStatusPrefersPveshAndAddsVotes(t *testing.T) {
	fake := newRunner(t)
	fake.On(pveshStatus).ReplyGolden("pvesh-status-clustered.json")
	fake.On(pvecmStatus).ReplyGolden("pvecm-status-qdevice.txt")
	st, err := NewNode(fake).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, fake.Lines(), []string{pveshStatus, pvecmStatus})
	if st.Source != SourcePvesh || st.State != Quorate || !st.VotesKnown || st.ExpectedVotes != 3 || st.QDevice == nil {
		t.Errorf("got %+v", st)
	}
	if st.Members[0].Votes != 1 || st.Members[0].QDevice != "A,V,NMW" || st.Members[1].Votes != 0 {
		t.Errorf("member votes %+v", st.Members)
	}
}

func TestStatusStandaloneFromPvesh(t *testing.T) {
	fake := newRunner(t)
	fake.On(pveshStatus).ReplyGolden("pvesh-status-standalone.json")
	fake.On(pvecmStatus).Reply(pvetest.Golden(t, "pvecm-status-no-cluster.txt").WithExit(2))
	st, err := NewNode(fake).Status(context.Background())
	if err != nil || st.State != NotInCluster || st.Source != SourcePvesh || len(st.Members) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	equalLines(t, fake.Lines(), []string{pveshStatus, pvecmStatus})
}

// pmxcfs knows the cluster only through corosync: with corosync down, a member's pvesh shows
// the same fake nodeid 0 entry as a standalone node. That must not read as "not in a cluster".
func TestStatusStandaloneShapeOnAMemberWithCorosyncDown(t *testing.T) {
	header := strings.SplitN(pvetest.Golden(t, "pvecm-status-quorate.txt").Stdout, "\n\n", 2)[0] + "\n\n"
	tests := []struct {
		name  string
		pvecm pvetest.Output
		state State
		errIs error
	}{
		{"corosync down", pvetest.Output{Stdout: header, Stderr: "Cannot initialize CMAP service\n", ExitCode: 1}, StateUnknown, ErrCorosyncDown},
		{"corosync answers", pvetest.Golden(t, "pvecm-status-not-quorate.txt").WithExit(2), NotQuorate, nil},
		{"pvecm fails otherwise", pvetest.Output{Stderr: "please run as root\n", ExitCode: 255}, StateUnknown, &exitStatusError{Code: 255, Tail: "please run as root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newRunner(t)
			fake.On(pveshStatus).ReplyGolden("pvesh-status-standalone.json")
			fake.On(pvecmStatus).Reply(tt.pvecm)
			st, err := NewNode(fake).Status(context.Background())
			equalLines(t, fake.Lines(), []string{pveshStatus, pvecmStatus})
			var failed *exitStatusError
			matches := errors.Is(err, tt.errIs) || (errors.As(tt.errIs, &failed) && errors.As(err, &failed) && *failed == *tt.errIs.(*exitStatusError))
			if st.State != tt.state || (tt.errIs == nil) != (err == nil) || (tt.errIs != nil && !matches) {
				t.Errorf("state %v err %v; want %v, %v", st.State, err, tt.state, tt.errIs)
			}
		})
	}
}

func TestStatusFallbacks(t *testing.T) {
	pveshDown := pvetest.Output{Stderr: "ipcc_send_rec[1] failed: Connection refused\n", ExitCode: 255}
	pmxcfsDown := pvetest.Output{Stderr: "pve configuration filesystem (pmxcfs) not mounted\n", ExitCode: 255}
	tests := []struct {
		name      string
		responses map[string]pvetest.Output
		state     State
		source    Source
		calls     []string
		errIs     error
	}{
		{
			name: "pvesh fails, pvecm says not quorate with exit 2",
			responses: map[string]pvetest.Output{
				pveshStatus: pveshDown,
				pvecmStatus: pvetest.Golden(t, "pvecm-status-not-quorate.txt").WithExit(2),
			},
			state: NotQuorate, source: SourcePvecm, calls: []string{pveshStatus, pvecmStatus},
		},
		{
			name: "pvesh fails, pvecm says no cluster with exit 2",
			responses: map[string]pvetest.Output{
				pveshStatus: pveshDown,
				pvecmStatus: pvetest.Golden(t, "pvecm-status-no-cluster.txt").WithExit(2),
			},
			state: NotInCluster, source: SourcePvecm, calls: []string{pveshStatus, pvecmStatus},
		},
		{
			name: "pmxcfs down: corosync-quorumtool answers",
			responses: map[string]pvetest.Output{
				pveshStatus: pveshDown,
				pvecmStatus: pmxcfsDown,
				quorumtool:  {Stdout: strings.SplitN(pvetest.Golden(t, "pvecm-status-quorate.txt").Stdout, "\n\n", 2)[1]},
			},
			state: Quorate, source: SourceQuorumtool, calls: []string{pveshStatus, pvecmStatus, quorumtool},
		},
		{
			name: "nothing answers: corosync down",
			responses: map[string]pvetest.Output{
				pveshStatus: pveshDown,
				pvecmStatus: pmxcfsDown,
				quorumtool:  {Stderr: "Cannot initialize CMAP service\n", ExitCode: 1},
			},
			calls: []string{pveshStatus, pvecmStatus, quorumtool}, errIs: ErrCorosyncDown,
		},
		{
			name: "nothing answers: every cause kept",
			responses: map[string]pvetest.Output{
				pveshStatus: pveshDown,
				pvecmStatus: pmxcfsDown,
				quorumtool:  {Stderr: "quorumtool: unexpected failure\n", ExitCode: 1},
			},
			calls: []string{pveshStatus, pvecmStatus, quorumtool}, errIs: &exitStatusError{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newRunner(t)
			for line, out := range tt.responses {
				fake.On(line).Reply(out)
			}
			st, err := NewNode(fake).Status(context.Background())
			equalLines(t, fake.Lines(), tt.calls)
			if tt.errIs != nil {
				var failed *exitStatusError
				if !(errors.Is(err, tt.errIs) || errors.As(err, &failed)) || !strings.HasPrefix(err.Error(), "status: ") {
					t.Errorf("error %v, want %v", err, tt.errIs)
				}
				// The causes of the fallbacks are kept, each with its source, in the order tried.
				var unavailable *StatusUnavailableError
				if !errors.As(err, &unavailable) {
					t.Fatalf("error %#v is not a *StatusUnavailableError", err)
				}
				var sources []string
				for _, tried := range unavailable.Tried {
					sources = append(sources, string(tried.Source))
				}
				want := []string{string(SourcePvesh), string(SourcePvecm)}
				if tt.errIs != ErrCorosyncDown {
					want = append(want, string(SourceQuorumtool))
				}
				equalLines(t, sources, want)
				if !errors.As(unavailable.Tried[0], &failed) || failed.Code != 255 {
					t.Errorf("pvesh's cause %v: want its exit status 255 kept", unavailable.Tried[0])
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
	fake := newRunner(t)
	fake.On(pveshStatus).Fail(remote.ErrUnreachable)
	_, err := NewNode(fake).Status(context.Background())
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("error %v", err)
	}
	equalLines(t, fake.Lines(), []string{pveshStatus})
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
			fake := newRunner(t)
			fake.On(line).WantStdin("pw0rd\n").WantSecrets("pw0rd").ReplyGolden(tt.golden) // exit 0 always
			jr, err := NewNode(fake).Join(context.Background(), opts)
			equalLines(t, fake.Lines(), []string{line})
			if c := fake.Calls()[0]; c.Timeout != DefaultTimeouts().Join {
				t.Errorf("timeout %v", c.Timeout)
			}
			if tt.kind == "" {
				if err != nil || jr.Node != "pve02" {
					t.Errorf("%+v %v", jr, err)
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) || f.Kind != tt.kind || !strings.HasPrefix(err.Error(), "join: ") {
				t.Errorf("error %v, want %s", err, tt.kind)
			}
		})
	}
}

func TestJoinTimeoutDuringQuorumWait(t *testing.T) {
	out := pvetest.Golden(t, "join-success-pipe.txt").Stdout
	partial := out[:strings.Index(out, "OK\n(re)generate")]
	line := "cd / && pvecm add 198.51.100.11 --fingerprint " + testFP
	fake := newRunner(t)
	fake.On(line).Reply(pvetest.Output{Stdout: partial}).Fail(remote.ErrTimeout)
	_, err := NewNode(fake).WithTimeouts(Timeouts{Join: time.Minute}).Join(context.Background(), JoinOpts{Target: "198.51.100.11", Password: "pw", Fingerprint: testFP})
	var f *Failure
	if !errors.As(err, &f) || f.Kind != FailTimeout || f.Line != "waiting for quorum..." || !errors.Is(err, remote.ErrTimeout) {
		t.Errorf("error %v", err)
	}
	if c := fake.Calls()[0]; c.Timeout != time.Minute {
		t.Errorf("timeout %v", c.Timeout)
	}
}

func TestCreateAndAdminThroughFakeRunner(t *testing.T) {
	fake := newRunner(t)
	fake.On("cd / && pvecm create demo --link0 198.51.100.11").ReplyGolden("create-keygen.txt")
	fake.On("cd / && pvecm delnode pve3").Reply(pvetest.Output{Stderr: "Cannot delete myself from cluster!\n", ExitCode: 255})
	fake.On("cd / && pvecm qdevice remove").Reply(pvetest.Output{Stdout: "\nRemoved Qdevice.\n"})
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
	fake := newRunner(t)
	fake.On("cd / && pvesh get /cluster/config/join --output-format json").ReplyGolden("pvesh-join-info.json")
	fake.On("cd / && pvesh get /cluster/config/nodes --output-format json").ReplyGolden("pvesh-nodes.json")
	fake.On("cd / && pveversion -v").ReplyGolden("pveversion-v-9.txt")
	fake.On("cd / && pvenode cert info --output-format json").Reply(pvetest.Output{Stderr: "pvenode: command not found\n", ExitCode: 127})
	fake.On(opensslFingerprintScript).ReplyGolden("openssl-fingerprint.txt")
	fake.On("cd / && corosync-cmapctl -m stats stats.knet.").ReplyGolden("cmapctl-knet.txt")
	fake.On("cd / && corosync-cfgtool -s && echo quorate-cfgtool-n && corosync-cfgtool -n").Reply(pvetest.Output{
		Stdout: pvetest.Golden(t, "cfgtool-s.txt").Stdout + "quorate-cfgtool-n\n" + pvetest.Golden(t, "cfgtool-n.txt").Stdout,
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
	fake := newRunner(t)
	fake.On("cd / && pvesh get /cluster/config/join --output-format json").
		Reply(pvetest.Output{Stderr: "node is not in a cluster, no join info available!\n", ExitCode: 255})
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
		return remote.Result{Stdout: []byte(pvetest.Golden(t, "pveversion-v-9.txt").Stdout)}, nil
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
	fake := newRunner(t)
	fake.On(pveshStatus).ReplyGolden("pvesh-status-clustered.json")
	fake.On(pvecmStatus).Reply(pvetest.Output{Stderr: "Cannot initialize CMAP service\n", ExitCode: 1})
	st, err := NewNode(fake).Status(context.Background())
	if err != nil || st.State != Quorate || st.VotesKnown || len(st.Members) != 2 {
		t.Errorf("%+v %v", st, err)
	}
}

func TestNodelistOnStandaloneNode(t *testing.T) {
	fake := newRunner(t)
	fake.On("cd / && pvesh get /cluster/config/nodes --output-format json").Reply(pvetest.Output{Stdout: "[]\n"})
	if _, err := NewNode(fake).Nodelist(context.Background()); !errors.Is(err, ErrNotInCluster) {
		t.Errorf("error %v", err)
	}
}
