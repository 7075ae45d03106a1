package pve

import (
	"context"
	"fmt"
	"strconv"

	"github.com/quorate/quorate/remote"
)

var expectedRules = append([]rule{
	{FailBadParameter, has("Unable to set expected votes")},
}, commonRules...)

// SetExpected runs `pvecm expected <votes>` (docs/pve.md §3.3): the way a member that lost
// quorum because its peers are gone for good gets it back. Silent on success.
func (n *Node) SetExpected(ctx context.Context, votes int) error {
	if votes < 1 {
		return n.wrap("expected", fmt.Errorf("expected votes %d: want at least 1", votes))
	}
	res, err := n.run(ctx, remote.Command{Line: shellLine([]string{"pvecm", "expected", strconv.Itoa(votes)})}, n.timeouts.Query)
	if err != nil {
		return n.wrap("expected", err)
	}
	if f := classify("expected", string(res.Stdout), string(res.Stderr), expectedRules); f != nil {
		return n.wrap("expected", f)
	}
	if res.ExitCode != 0 {
		return n.wrap("expected", unknownFailure("expected", string(res.Stdout), string(res.Stderr)))
	}
	return nil
}
