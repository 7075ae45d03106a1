package preflight

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a person: a table of checks by nodes (pass, warn, ERROR, or
// - where the check did not run on that node), then every finding that is not a pass with its
// fix, then a summary line. A finding about the whole cluster counts for every node's column.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.writeTable(bw)
	r.writeFindings(bw)
	s := r.Summary()
	fmt.Fprintf(bw, "\n%s, %s (%s)\n", plural(s.Errors, "error"), plural(s.Warnings, "warning"), shortDuration(r.Duration))
	return bw.Flush()
}

func (r *Report) writeTable(w io.Writer) {
	const head = "CHECK"
	first := len(head)
	for _, c := range r.Checks {
		first = max(first, len(c))
	}
	widths := make([]int, len(r.Nodes))
	for i, n := range r.Nodes {
		widths[i] = max(len(n), len("ERROR"))
	}
	row := func(cells []string) {
		var b strings.Builder
		b.WriteString(pad(cells[0], first))
		for i, c := range cells[1:] {
			b.WriteString("  " + pad(c, widths[i]))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	row(append([]string{head}, r.Nodes...))
	worst := r.cells()
	for _, c := range r.Checks {
		cells := []string{c}
		for _, n := range r.Nodes {
			cells = append(cells, cellText(worst[c], n))
		}
		row(cells)
	}
}

// cells is the worst severity of each check on each node ("" key: the whole cluster).
func (r *Report) cells() map[string]map[string]Severity {
	worst := map[string]map[string]Severity{}
	for _, f := range r.Findings {
		m := worst[f.Check]
		if m == nil {
			m = map[string]Severity{}
			worst[f.Check] = m
		}
		if old, ok := m[f.Node]; !ok || f.Severity.rank() > old.rank() {
			m[f.Node] = f.Severity
		}
	}
	return worst
}

func cellText(m map[string]Severity, node string) string {
	s, ok := m[node]
	if c, cok := m[""]; cok && (!ok || c.rank() > s.rank()) {
		s, ok = c, true
	}
	if !ok {
		return "-"
	}
	switch s {
	case Error:
		return "ERROR"
	case Warning:
		return "warn"
	}
	return "pass"
}

func (r *Report) writeFindings(w io.Writer) {
	wrote := false
	for _, f := range r.Findings {
		if f.Severity == Pass {
			continue
		}
		if !wrote {
			fmt.Fprintln(w)
			wrote = true
		}
		label := "warning"
		if f.Severity == Error {
			label = "ERROR"
		}
		where := f.Node
		if where == "" {
			where = "cluster"
		}
		fmt.Fprintf(w, "%-7s %s %s: %s\n", label, where, f.Check, f.Message)
		if f.Ignored {
			fmt.Fprintf(w, "        (an error, shown as a warning: --ignore-check %s)\n", f.Check)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", f.Fix)
		}
	}
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// shortDuration is "0.41 s" or "12 ms".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
