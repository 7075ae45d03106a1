package pve

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

// JoinOpts are the options of `pvecm add`, run on the joining node.
type JoinOpts struct {
	// Target is an existing cluster member (IP or DNS name); the joiner reaches it on TCP 8006.
	Target string
	// Password is root@pam's password on Target. Not used with UseSSH.
	Password string
	// Fingerprint pins Target's API certificate (see CertFingerprint). Without it pvecm asks,
	// and quorate answers "yes" on stdin: pass it whenever it is known.
	Fingerprint string
	Links       []Link // priorities are ignored by pvecm on add
	NodeID      int    // 0: pvecm picks the lowest free id
	Votes       *int   // nil: pvecm's default of 1; 0 omits quorum_votes
	Force       bool
	UseSSH      bool
	Timeout     time.Duration // 0: the node's Join timeout
}

// JoinResult is a join pvecm reported as done.
type JoinResult struct {
	// Node is the name in "successfully added node '<name>' to cluster.".
	Node string
	// Forced is set when pre-join checks failed and --force carried on (docs/pve.md §2.5a).
	Forced    bool
	Prechecks []Precheck
	// Warnings are "cluster: ..." lines the cluster node sent back.
	Warnings []string
}

// JoinCommand builds the command line and stdin of `pvecm add`. The password travels on stdin
// (`password\n`, plus `yes\n` only without a fingerprint), never on the command line, and is
// listed in Secrets for redaction.
func JoinCommand(o JoinOpts) (remote.Command, error) {
	if err := validHost(o.Target); err != nil {
		return remote.Command{}, fmt.Errorf("join: %w", err)
	}
	args := []string{"pvecm", "add", o.Target}
	if o.Fingerprint != "" {
		fp, err := NormalizeFingerprint(o.Fingerprint)
		if err != nil {
			return remote.Command{}, fmt.Errorf("join: %w", err)
		}
		args = append(args, "--fingerprint", fp)
	}
	links, err := linkArgs(o.Links, false)
	if err != nil {
		return remote.Command{}, fmt.Errorf("join: %w", err)
	}
	args = append(args, links...)
	if o.NodeID < 0 {
		return remote.Command{}, fmt.Errorf("join: node id %d is negative", o.NodeID)
	}
	if o.NodeID > 0 {
		args = append(args, "--nodeid", strconv.Itoa(o.NodeID))
	}
	if o.Votes != nil {
		if *o.Votes < 0 {
			return remote.Command{}, fmt.Errorf("join: votes %d is negative", *o.Votes)
		}
		args = append(args, "--votes", strconv.Itoa(*o.Votes))
	}
	if o.Force {
		args = append(args, "--force", "1")
	}
	cmd := remote.Command{}
	if o.UseSSH {
		args = append(args, "--use_ssh", "1")
	} else {
		if o.Password == "" {
			return remote.Command{}, errors.New("join: a root password for the cluster node is needed")
		}
		if strings.ContainsAny(o.Password, "\r\n\x00") {
			return remote.Command{}, errors.New("join: the password cannot contain line breaks or NUL (pvecm reads one line)")
		}
		stdin := o.Password + "\n"
		if o.Fingerprint == "" {
			stdin += "yes\n"
		}
		cmd.Stdin = []byte(stdin)
		cmd.Secrets = []string{o.Password}
	}
	cmd.Line = shellLine(args)
	return cmd, nil
}

// shellLine quotes every word and starts from / : pvecm refuses to join from inside /etc/pve,
// and the login directory of root is not ours to depend on.
func shellLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = remote.Quote(a)
	}
	return "cd / && " + strings.Join(q, " ")
}

// Join runs `pvecm add` on this node (the joiner) and classifies its output. pvecm exits 0
// when the join fails, so success is the line "successfully added node '<name>' to cluster."
// and nothing else; every failure is a *Failure.
func (n *Node) Join(ctx context.Context, o JoinOpts) (JoinResult, error) {
	cmd, err := JoinCommand(o)
	if err != nil {
		return JoinResult{}, n.wrap("join", err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = n.timeouts.Join
	}
	res, err := n.run(ctx, cmd, timeout)
	if err != nil {
		// Partial output still tells where it stopped; "waiting for quorum..." means corosync
		// cannot reach the others (UDP 5405+ blocked) and pvecm would wait forever.
		f := &Failure{Op: "join", Kind: FailTimeout, Tail: tail(string(res.Stdout), string(res.Stderr)), Err: err}
		if t := f.Tail; len(t) > 0 {
			f.Line = t[len(t)-1]
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, remote.ErrTimeout) {
			return JoinResult{}, n.wrap("join", err)
		}
		return JoinResult{}, n.wrap("join", f)
	}
	jr, f := ClassifyJoin(string(res.Stdout), string(res.Stderr))
	if f != nil {
		return jr, n.wrap("join", f)
	}
	return jr, nil
}

var (
	joinSuccessRe     = regexp.MustCompile(`^successfully added node '([^']+)' to cluster\.$`)
	fpMismatchRe      = regexp.MustCompile(`fingerprint '([0-9A-Fa-f:]+)' not verified, abort!`)
	linkMismatchTexts = has(
		"exists in cluster config but wasn't specified for new node",
		"specified for new node doesn't exist in cluster config",
		"no links given but multiple links found on other nodes",
		"links, but only 1 given")
)

// joinRules are tried in order; see rule.
var joinRules = append([]rule{
	{FailWrongCwd, has("Navigate out of /etc/pve before running 'pvecm add'")},
	{FailPasswordEOF, has("EOF while reading password", "password input aborted")},
	{FailFingerprintMismatch, fpMismatchRe.MatchString},
	{FailFingerprintNotVerified, has("Fingerprint not verified, abort!")},
	{FailTFA, has("TFA-enabled login currently works only with a TTY", "TFA required", "U2F-enabled login")},
	{FailPasswordRejected, has("authentication failure")},
	{FailPrecheck, has("Check if node may join a cluster failed!")},
	{FailAPIVersion, has("unsupported old API version on joining node", "incompatible join API version on cluster")},
	{FailRemoteTooOld, has("Remote side is not able to use API for Cluster join")},
	{FailNoQuorum, has("cluster not ready - no quorum?")},
	{FailNodeExists, has("can't add existing node")},
	{FailLinkMismatch, linkMismatchTexts},
	{FailAddressInUse, has("already used on link")},
	{FailNoLinks, has("no links and no fallback ip (new_node_ip) given")},
	{FailInvalidClusterConfig, has("invalid corosync.conf")},
	{FailSSH, has("unable to copy ssh ID", "unable to add node: command failed", "can't rsync data from host")},
	{FailUnreachable, has("500 Can't connect to", "Connection timed out", "No route to host")},
}, commonRules...)

// ClassifyJoin reads the output of `pvecm add`. It returns the result when the success line is
// there, else the failure.
func ClassifyJoin(stdout, stderr string) (JoinResult, *Failure) {
	var jr JoinResult
	jr.Prechecks, jr.Forced = parsePrechecks(stdout + "\n" + stderr)
	for _, l := range splitLines(stdout) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "cluster: ") {
			jr.Warnings = append(jr.Warnings, strings.TrimPrefix(l, "cluster: "))
		}
		if m := joinSuccessRe.FindStringSubmatch(l); m != nil {
			jr.Node = m[1]
		}
	}
	if jr.Node != "" {
		return jr, nil
	}
	f := classify("join", stdout, stderr, joinRules)
	if f == nil {
		f = unknownFailure("join", stdout, stderr)
	}
	switch f.Kind {
	case FailPrecheck:
		f.Prechecks = jr.Prechecks
	case FailFingerprintMismatch:
		if m := fpMismatchRe.FindStringSubmatch(f.Line); m != nil {
			f.ActualFingerprint = strings.ToUpper(m[1])
		}
	}
	f.RemoteErrors = remoteErrors(stdout + "\n" + stderr)
	return jr, f
}

// remoteErrors collects the detail lines after "An error occurred on the cluster node:".
func remoteErrors(out string) []string {
	var errs []string
	in := false
	for _, l := range splitLines(out) {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "An error occurred on the cluster node:"):
			in = true
		case in && (strings.HasPrefix(t, "! ") || strings.HasPrefix(t, "* ")):
			errs = append(errs, t[2:])
		default:
			in = false
		}
	}
	return errs
}
