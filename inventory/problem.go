package inventory

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a cluster file, located so that an editor can jump to it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path,omitempty"` // where in the document, e.g. nodes[1].links[0]
	Message string `json:"message"`
}

// String is the compiler-style form users and editors expect: file:line: path: message.
func (p Problem) String() string {
	if p.Path == "" {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Path, p.Message)
}

// Problems is every problem found in one file. As an error it reads as one problem a line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err is nil when there is no problem, so callers can return it as an error directly.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sorted orders problems by line; problems on one line keep the order they were found in,
// which follows the document.
func (ps Problems) sorted() Problems {
	out := append(Problems(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}
