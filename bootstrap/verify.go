package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quorate/quorate/pve"
)

// Expect is the cluster a step must leave behind.
type Expect struct {
	Members []string // exactly these nodes, all online
	// Others are members cluster.yaml does not list: online with Members, but never asked.
	Others  []string
	Votes   int    // total votes = expected votes
	NewNode string // the node the step changed: its API and a fresh SSH login are checked
}

// NotQuorateError is verification running out of time: Problems is what was still wrong at
// the last look, one line per node and check.
type NotQuorateError struct {
	Waited   time.Duration
	Problems []string
}

func (e *NotQuorateError) Error() string {
	return fmt.Sprintf("the cluster was not verified within %s: %s", e.Waited.Round(time.Second), strings.Join(e.Problems, "; "))
}

// Verified is how long verification took and what it saw.
type Verified struct {
	Took          time.Duration `json:"took"`
	ConfigVersion int           `json:"config_version"`
}

// Verify polls every member until the cluster is exactly what want says or timeout passes:
// from each member, quorate, total votes equal to expected votes equal to want.Votes, the
// membership exactly want.Members all online, and one config version; /etc/pve writable on
// each; then the new node's API answering on 8006 and a fresh SSH login to it. It polls fast
// (every poll interval, 200 ms by default), since quorum usually comes within a second or two.
func (e *Engine) Verify(ctx context.Context, want Expect) (Verified, error) {
	start := time.Now()
	deadline := start.Add(e.verifyTimeout())
	var problems []string
	for {
		v, probs := e.lookOnce(ctx, want)
		if len(probs) == 0 {
			v.Took = time.Since(start)
			return v, nil
		}
		problems = probs
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The run's own --timeout ended the wait: still "not quorate in time".
			return Verified{}, &NotQuorateError{Waited: time.Since(start), Problems: problems}
		}
		if ctx.Err() != nil {
			return Verified{}, context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return Verified{}, &NotQuorateError{Waited: time.Since(start), Problems: problems}
		}
		select {
		case <-ctx.Done():
		case <-time.After(e.pollInterval()):
		}
	}
}

// lookOnce checks everything once; the slower checks run only after the quick ones pass.
func (e *Engine) lookOnce(ctx context.Context, want Expect) (Verified, []string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	statuses := make([]pve.ClusterStatus, len(want.Members))
	errs := make([]error, len(want.Members))
	var wg sync.WaitGroup
	for i, name := range want.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], errs[i] = e.Nodes[name].Status(ctx)
		}()
	}
	wg.Wait()
	var problems []string
	versions := map[int][]string{}
	for i, name := range want.Members {
		if errs[i] != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, errs[i]))
			continue
		}
		for _, p := range statusProblems(statuses[i], want) {
			problems = append(problems, name+": "+p)
		}
		versions[statuses[i].ConfigVersion] = append(versions[statuses[i].ConfigVersion], name)
	}
	if len(versions) > 1 {
		var parts []string
		for v, nodes := range versions {
			parts = append(parts, fmt.Sprintf("version %d on %s", v, strings.Join(nodes, ", ")))
		}
		slices.Sort(parts)
		problems = append(problems, "members disagree on the corosync config version: "+strings.Join(parts, "; "))
	}
	if len(problems) > 0 {
		return Verified{}, problems
	}
	for _, name := range want.Members {
		if err := e.Nodes[name].PmxcfsWritable(ctx); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if want.NewNode != "" && len(problems) == 0 {
		// The last thing a join does is put the node's root key in the cluster's
		// authorized_keys; a join cut short lacks it, and migration to it fails.
		if ok, err := e.Nodes[want.NewNode].RootKeyInCluster(ctx); err != nil {
			problems = append(problems, fmt.Sprintf("%s: its root key in /etc/pve/priv/authorized_keys could not be checked: %v", want.NewNode, err))
		} else if !ok {
			problems = append(problems, fmt.Sprintf("%s: its root key is not in /etc/pve/priv/authorized_keys: the join did not finish", want.NewNode))
		}
	}
	if len(problems) > 0 || want.NewNode == "" {
		return Verified{ConfigVersion: statuses[0].ConfigVersion}, problems
	}
	if asker := e.otherMember(want); asker != "" {
		if _, err := e.Nodes[asker].APIStatus(ctx, e.apiAddress(want.NewNode)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: the API of %s: %v", asker, want.NewNode, err))
		}
	}
	if e.Relogin != nil {
		if err := e.Relogin(ctx, want.NewNode); err != nil {
			problems = append(problems, fmt.Sprintf("%s: a fresh SSH login fails (root's authorized_keys lives in /etc/pve): %v", want.NewNode, err))
		}
	}
	return Verified{ConfigVersion: statuses[0].ConfigVersion}, problems
}

// statusProblems is what one member's view gets wrong.
func statusProblems(st pve.ClusterStatus, want Expect) []string {
	var p []string
	if st.State != pve.Quorate {
		p = append(p, fmt.Sprintf("not quorate (%s)", st.State))
	}
	if st.VotesKnown && (st.TotalVotes != want.Votes || st.ExpectedVotes != want.Votes) {
		p = append(p, fmt.Sprintf("total votes %d, expected votes %d; want both %d", st.TotalVotes, st.ExpectedVotes, want.Votes))
	}
	var online, offline []string
	for _, m := range st.Members {
		if m.Online {
			online = append(online, m.Name)
		} else {
			offline = append(offline, m.Name)
		}
	}
	slices.Sort(online)
	wantSorted := slices.Sorted(slices.Values(append(slices.Clone(want.Members), want.Others...)))
	if !slices.Equal(online, wantSorted) {
		p = append(p, fmt.Sprintf("members online [%s], want [%s]", strings.Join(online, " "), strings.Join(wantSorted, " ")))
	}
	if len(offline) > 0 {
		p = append(p, fmt.Sprintf("members offline: %s", strings.Join(offline, " ")))
	}
	return p
}

func (e *Engine) otherMember(want Expect) string {
	for _, m := range want.Members {
		if m != want.NewNode {
			return m
		}
	}
	return want.NewNode // a new cluster: the node asks its own API
}
