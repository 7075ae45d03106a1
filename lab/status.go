package lab

import (
	"context"
	"fmt"
	"strings"
)

// Status is a lab's state as pvelab status shows it.
type Status struct {
	Name     string
	Dir      string
	Machines []MachineStatus
}

// MachineStatus is one machine: its addresses, whether it runs, its active faults.
type MachineStatus struct {
	Host
	Running bool
	PID     int // PID 1 in the root namespace
	Faults  []string
}

// Status reports every machine of the lab.
func (l *Lab) Status(ctx context.Context) (Status, error) {
	s, err := l.load()
	if err != nil {
		return Status{}, err
	}
	st := Status{Name: s.Name, Dir: s.Dir}
	for _, m := range s.Machines {
		st.Machines = append(st.Machines, MachineStatus{Host: m.Host, Running: m.Init.alive(), PID: m.Init.PID, Faults: m.Faults})
	}
	return st, nil
}

func (st Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s", st.Name)
	if st.Dir != "" {
		fmt.Fprintf(&b, " (files in %s)", st.Dir)
	}
	b.WriteString("\n")
	for _, m := range st.Machines {
		run := "running"
		if !m.Running {
			run = "DOWN"
		}
		faults := strings.Join(m.Faults, ", ")
		if faults == "" {
			faults = "-"
		}
		fmt.Fprintf(&b, "%-6s %-5s %-30s %-8s pid %-7d faults: %s\n", m.Name, m.Role, strings.Join(m.Addrs, ","), run, m.PID, faults)
	}
	return b.String()
}
