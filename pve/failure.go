package pve

import (
	"fmt"
	"strings"
)

// FailureKind says why a pvecm action failed, in terms a user (and a playbook) can act on.
type FailureKind string

const (
	FailPrecheck               FailureKind = "precheck-failed"          // docs/pve.md §2.5a, see Failure.Prechecks
	FailPasswordRejected       FailureKind = "password-rejected"        // 401 authentication failure
	FailFingerprintMismatch    FailureKind = "fingerprint-mismatch"     // see Failure.ActualFingerprint
	FailFingerprintNotVerified FailureKind = "fingerprint-not-verified" // no --fingerprint and no "yes"
	FailPasswordEOF            FailureKind = "password-eof"             // stdin closed before a password line
	FailTFA                    FailureKind = "tfa-required"
	FailNoQuorum               FailureKind = "no-quorum"
	FailNodeExists             FailureKind = "node-exists"
	FailLinkMismatch           FailureKind = "link-mismatch"
	FailAddressInUse           FailureKind = "address-in-use"
	FailNoLinks                FailureKind = "no-links"
	FailAPIVersion             FailureKind = "api-version"
	FailRemoteTooOld           FailureKind = "remote-too-old" // no join API: needs --use_ssh
	FailInvalidClusterConfig   FailureKind = "invalid-cluster-config"
	FailWrongCwd               FailureKind = "wrong-cwd"
	FailUnreachable            FailureKind = "unreachable"
	FailSSH                    FailureKind = "ssh-failed" // the --use_ssh path
	FailLocked                 FailureKind = "locked"
	FailClusterExists          FailureKind = "cluster-exists"
	FailBadParameter           FailureKind = "bad-parameter"
	FailNotRoot                FailureKind = "not-root"
	FailPmxcfsDown             FailureKind = "pmxcfs-down"
	FailNameUnresolved         FailureKind = "name-unresolved"
	FailNotInCluster           FailureKind = "not-in-cluster"
	FailDeleteSelf             FailureKind = "delete-self"
	FailUnknownNode            FailureKind = "unknown-node"
	FailNodeOffline            FailureKind = "node-offline"
	FailQDeviceExists          FailureKind = "qdevice-exists"
	FailQDeviceMissing         FailureKind = "qdevice-missing"
	FailOddNodeCount           FailureKind = "odd-node-count"
	FailCertStoreExists        FailureKind = "qdevice-cert-store-exists"
	FailTimeout                FailureKind = "timeout"
	FailUnknown                FailureKind = "unknown"
)

// Failure is a classified pvecm failure. It is returned (wrapped with host and step) as the
// error of Create, Join, DelNode, UpdateCerts and the QDevice calls; use errors.As.
type Failure struct {
	Op   string // "create", "join", ...
	Kind FailureKind
	// Line is pvecm's own line that identified the failure (for FailUnknown, the last line).
	Line string
	// Prechecks lists each docs/pve.md §2.5a problem when Kind is FailPrecheck.
	Prechecks []Precheck
	// ActualFingerprint is the certificate the cluster node really served, for
	// FailFingerprintMismatch.
	ActualFingerprint string
	// RemoteErrors are the "! ..." and "* ..." details the cluster node sent with a rejection.
	RemoteErrors []string
	// Tail is pvecm's last lines, stderr after stdout, for the user to read.
	Tail []string
	Err  error // the transport error behind FailTimeout, if any
}

func (f *Failure) Error() string {
	var b strings.Builder
	// Op is left out: Node's methods wrap the failure with the step ("join: failed (...)").
	fmt.Fprintf(&b, "failed (%s)", f.Kind)
	if f.Line != "" {
		fmt.Fprintf(&b, ": %s", f.Line)
	}
	if len(f.Prechecks) > 0 {
		texts := make([]string, len(f.Prechecks))
		for i, p := range f.Prechecks {
			texts[i] = p.Text
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(texts, "; "))
	}
	if len(f.RemoteErrors) > 0 {
		fmt.Fprintf(&b, " [%s]", strings.Join(f.RemoteErrors, "; "))
	}
	if f.Kind == FailUnknown && len(f.Tail) > 1 {
		fmt.Fprintf(&b, " (last lines: %s)", strings.Join(f.Tail, " / "))
	}
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	return b.String()
}

func (f *Failure) Unwrap() error { return f.Err }

// rule maps a line of pvecm output to a failure kind. Rules are tried in order, so specific
// texts come before generic ones ("Cluster join aborted!" says nothing on its own).
type rule struct {
	kind  FailureKind
	match func(line string) bool
}

func has(sub ...string) func(string) bool {
	return func(line string) bool {
		for _, s := range sub {
			if strings.Contains(line, s) {
				return true
			}
		}
		return false
	}
}

// commonRules are the failures every pvecm subcommand can show (docs/pve.md §1.2, §6.2).
var commonRules = []rule{
	{FailNotRoot, has("please run as root", "ipcc_send_rec[1] failed: Unknown error -1")},
	{FailPmxcfsDown, has("pve configuration filesystem (pmxcfs) not mounted", "ipcc_send_rec[1] failed: Connection refused", "Unable to load access control list: Connection refused")},
	{FailNameUnresolved, has("did not find any IP address", "Unable to resolve node name", "Unable to get local IP address")},
	{FailLocked, has("can't lock file '/var/lock/pvecm.lock'")},
	{FailNotInCluster, has(notInClusterText, "node is not in a cluster")},
	{FailBadParameter, has("400 Parameter verification failed", "400 too many arguments", "400 not enough arguments", "Unknown option:")},
}

// classify finds the first rule matching any line of stderr, then stdout; nil if none does.
func classify(op, stdout, stderr string, rules []rule) *Failure {
	errLines, outLines := splitLines(stderr), splitLines(stdout)
	for _, r := range rules {
		for _, lines := range [][]string{errLines, outLines} {
			for i, l := range lines {
				if !r.match(l) {
					continue
				}
				f := &Failure{Op: op, Kind: r.kind, Line: strings.TrimSpace(l), Tail: tail(stdout, stderr)}
				if r.kind == FailBadParameter {
					// "400 Parameter verification failed." is followed by the parameter at fault.
					if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
						f.Line += " " + strings.TrimSpace(lines[i+1])
					}
				}
				return f
			}
		}
	}
	return nil
}

func tail(stdout, stderr string) []string {
	return append(lastLines(stdout, 3), lastLines(stderr, 3)...)
}

func unknownFailure(op, stdout, stderr string) *Failure {
	t := tail(stdout, stderr)
	f := &Failure{Op: op, Kind: FailUnknown, Tail: t}
	if len(t) > 0 {
		f.Line = t[len(t)-1]
	} else {
		f.Line = "no output"
	}
	return f
}
