package pve

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/quorate/quorate/remote"
)

// Archive is a gzipped tar of those of paths (absolute) that exist on the node, read as the
// login user, with names relative to /; nil when none exists. Backups and the saved node
// directory of rebuild and remove are made with it: one round trip for a whole tree.
func (n *Node) Archive(ctx context.Context, paths []string) ([]byte, error) {
	var words []string
	for _, p := range paths {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return nil, n.wrap("archive", fmt.Errorf("%q is not a clean absolute path", clip(p, 80)))
		}
		words = append(words, remote.Quote(strings.TrimPrefix(p, "/")))
	}
	if len(words) == 0 {
		return nil, nil
	}
	// Exit 3 says none of the paths exists; tar's own failures exit 2 (GNU tar).
	line := "cd / && set -- && for p in " + strings.Join(words, " ") + `; do [ -e "$p" ] && set -- "$@" "$p"; done; ` +
		`[ $# -gt 0 ] || exit 3; exec tar czf - --ignore-failed-read -- "$@"`
	res, err := n.run(ctx, remote.Command{Line: line}, n.timeouts.Query)
	if err != nil {
		return nil, n.wrap("archive", err)
	}
	switch res.ExitCode {
	case 0:
		return res.Stdout, nil
	case 3:
		return nil, nil
	}
	return nil, n.wrap("archive", toolFailed(res, string(res.Stderr)))
}
