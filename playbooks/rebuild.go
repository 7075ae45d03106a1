package playbooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// RebuildRequest is what rebuild was asked: a node reinstalled with the same name and address
// while the cluster still lists it.
type RebuildRequest struct {
	ChangeRequest
	Node string
	// AcceptHostKey accepts the node's new SSH host key: "" does not, AcceptAnyKey accepts the
	// key it presents (shown first), "SHA256:..." only that key.
	AcceptHostKey string
}

// AcceptAnyKey is --accept-new-host-key NODE without a fingerprint.
const AcceptAnyKey = "*"

// HostKeyNotAcceptedError is a reinstalled node whose new host key the user did not accept:
// nothing was changed, known_hosts included.
type HostKeyNotAcceptedError struct {
	Change HostKeyChange
	Reason string
}

func (e *HostKeyNotAcceptedError) Error() string {
	return fmt.Sprintf("nothing changed: %s's SSH host key changed: %s records %s, the host now presents %s; %s. "+
		"If %s was reinstalled, compare the new key with its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) "+
		"and accept it with --accept-new-host-key %s (or --accept-new-host-key %s=%s)",
		e.Change.Node, e.Change.File, e.Change.Old, e.Change.New, e.Reason, e.Change.Node, e.Change.Node, e.Change.Node, e.Change.New)
}

// Rebuild takes a reinstalled node back into its cluster: the plan, once confirmed, saves the
// node's old /etc/pve/nodes directory locally, deletes it from the nodelist on a quorate
// member, removes its stale directory and keys, joins it again with its old node id, runs
// pvecm updatecerts and verifies from every member, SSH between members by name included. It
// refuses while the old incarnation is online, and touches nothing, known_hosts included,
// until the user has accepted the node's new host key.
func (s *Session) Rebuild(ctx context.Context, req RebuildRequest) (report ChangeReport, err error) {
	start := time.Now()
	defer func() { report.Took = time.Since(start) }()
	if !inFile(req.Inventory, req.Node) {
		return report, &NotInFileError{Node: req.Node, File: req.Inventory.File}
	}
	r := s.openChange(ctx, req.ChangeRequest)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return report, context.Cause(ctx)
	}
	var changed *remote.HostKeyChangedError
	if conn := r.connOf(req.Node); conn != nil && errors.As(conn.Err, &changed) {
		hk := HostKeyChange{Node: req.Node, Old: changed.OldFingerprint, New: changed.NewFingerprint, File: changed.KnownHostsFile}
		report.HostKey = &hk
		s.notef("%s: SSH host key changed: %s:%d records %s, the host now presents %s %s", req.Node, changed.KnownHostsFile, changed.Line,
			changed.OldFingerprint, changed.KeyType, changed.NewFingerprint)
		if vn, ok := r.viewNode(req.Node); ok && vn.Online {
			// Never two nodes with one name: refuse before anything, the new key included.
			report.Plan = bootstrap.PlanRebuild(req.Inventory, r.view, r.observed, req.Node, req.Opts)
			return report, &BlockedError{Blockers: report.Plan.Blockers}
		}
		how, err := s.acceptHostKey(req, hk)
		if err != nil {
			return report, err
		}
		hk.Accepted = how
		report.HostKey = &hk
		if err := s.recordNewKey(ctx, r, req.Node, changed); err != nil {
			return report, err
		}
		r.learn()
	}
	if r.nodes[req.Node] != nil && r.view.Through != "" {
		report.Cert = r.certChange(ctx, req.Node)
	}
	release, err := r.lock(ctx, "rebuild")
	if err != nil {
		return report, err
	}
	defer release()
	if _, inList := r.viewNode(req.Node); !inList && r.view.Through != "" {
		// A rebuild cut short after its delnode left the old node id in its mark.
		id, ok, err := r.nodes[r.view.Through].ReadRebuildMark(ctx, req.Node)
		if err != nil {
			return report, &HostError{Host: r.view.Through, Err: err}
		}
		if ok {
			r.view.Marks = map[string]int{req.Node: id}
		}
	}
	plan := bootstrap.PlanRebuild(req.Inventory, r.view, r.observed, req.Node, req.Opts)
	plan.Notes = append(reinstallNotes(req.Node, report.HostKey, report.Cert), plan.Notes...)
	return report, s.runChange(ctx, req.ChangeRequest, r, plan, &report)
}

// reinstallNotes say what shows the reinstall: the new host key and API certificate.
func reinstallNotes(node string, hk *HostKeyChange, cert *CertChange) []string {
	var notes []string
	if hk != nil {
		notes = append(notes, fmt.Sprintf("%s's SSH host key: was %s, now %s (accepted: %s)", node, hk.Old, hk.New, hk.Accepted))
	} else {
		notes = append(notes, fmt.Sprintf("%s's SSH host key is the one known_hosts has (restored with the reinstall?)", node))
	}
	switch {
	case cert == nil:
	case cert.Cluster == "":
		notes = append(notes, fmt.Sprintf("%s's API certificate: the cluster has none on record; the host has %s", node, cert.Host))
	case cert.Cluster != cert.Host:
		notes = append(notes, fmt.Sprintf("%s's API certificate: the cluster knows %s, the host now has %s", node, cert.Cluster, cert.Host))
	default:
		notes = append(notes, fmt.Sprintf("%s's API certificate is the one the cluster knows (%s)", node, cert.Host))
	}
	return notes
}

func (r *changeRun) connOf(name string) *Conn {
	for _, c := range r.conns.All() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (r *changeRun) viewNode(name string) (bootstrap.ViewNode, bool) {
	for _, n := range r.view.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return bootstrap.ViewNode{}, false
}

// acceptHostKey decides whether the new key is accepted: by the flag, else by the user on a
// terminal; it says how.
func (s *Session) acceptHostKey(req RebuildRequest, hk HostKeyChange) (string, error) {
	switch {
	case req.AcceptHostKey == AcceptAnyKey:
		return "--accept-new-host-key " + hk.Node, nil
	case req.AcceptHostKey == hk.New:
		return "--accept-new-host-key " + hk.Node + "=" + hk.New, nil
	case req.AcceptHostKey != "":
		return "", &HostKeyNotAcceptedError{Change: hk, Reason: "--accept-new-host-key names " + req.AcceptHostKey + ", not this key"}
	case s.Ask == nil || !s.Ask.Terminal():
		return "", &HostKeyNotAcceptedError{Change: hk, Reason: "nobody accepted the new key (stdin is not a terminal)"}
	}
	ok, err := s.Ask.Confirm(fmt.Sprintf("Accept %s's new host key %s (was %s)? Compare it with the node's console first. [y/N] ", hk.Node, hk.New, hk.Old))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &HostKeyNotAcceptedError{Change: hk, Reason: "the new key was not accepted"}
	}
	return "terminal", nil
}

// recordNewKey replaces the node's old key in known_hosts (kept first in the run directory)
// by the accepted one: the old lines go, the node is dialled again accepting exactly the
// fingerprint shown, and its new key is recorded once logged in.
func (s *Session) recordNewKey(ctx context.Context, r *changeRun, name string, changed *remote.HostKeyChangedError) error {
	if s.RunDir == "" {
		return errors.New("no run directory for the backup of known_hosts")
	}
	old, err := os.ReadFile(changed.KnownHostsFile)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	if err := os.MkdirAll(s.RunDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.RunDir, "known_hosts.before-rebuild"), old, 0o600); err != nil {
		return err
	}
	n, err := remote.ForgetHost(changed.KnownHostsFile, changed.Addr)
	if err != nil {
		return err
	}
	s.notef("%s: the new host key was accepted; %d old line(s) for %s removed from %s (a copy is in %s)", name, n, changed.Addr,
		changed.KnownHostsFile, s.RunDir)
	conn := r.connOf(name)
	cfg := r.cfg
	cfg.AcceptNewHostKeys = true
	cfg.OnNewHostKey = func(host string, key ssh.PublicKey) error {
		if fp := remote.Fingerprint(key); fp != changed.NewFingerprint {
			return fmt.Errorf("%s presents %s, not the key %s that was accepted", host, fp, changed.NewFingerprint)
		}
		return nil
	}
	client, err := remote.Dial(ctx, conn.Address, cfg)
	if err != nil {
		return &HostError{Host: name, Err: err}
	}
	conn.Client, conn.Err = client, nil
	node := pve.NewNode(client)
	r.nodes[name] = node
	seen := &r.seen[conn.index]
	*seen = bootstrap.Seen{Node: name}
	facts, err := node.Facts(ctx)
	if err != nil {
		seen.Err = &HostError{Host: name, Err: err}
		return nil
	}
	seen.Facts = &facts
	if st, err := node.Status(ctx); err != nil {
		seen.StatusErr = err
	} else {
		seen.Status = &st
	}
	return nil
}

// certChange compares the API certificate the cluster records for name (join info, from the
// member the run works through) with the one the reinstalled host has now.
func (r *changeRun) certChange(ctx context.Context, name string) *CertChange {
	c := &CertChange{}
	if fp, err := r.nodes[name].CertFingerprint(ctx); err == nil {
		c.Host = fp
	}
	if ji, err := r.nodes[r.view.Through].JoinInfo(ctx); err == nil {
		for _, n := range ji.Nodes {
			if n.Name == name {
				c.Cluster = strings.ToUpper(n.Fingerprint)
			}
		}
	}
	if c.Host == "" && c.Cluster == "" {
		return nil
	}
	return c
}
