// Package lab builds the quorate test lab: simulated Proxmox VE hosts, each a set of
// Linux namespaces with a real sshd, chronyd and the lab/pvesim stand-in, joined by a
// bridge in a namespace of its own, plus a controller namespace where quorate runs.
// See lab/CONTRACT.md for the interface with lab/pvesim and lab/README.md for use.
package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Lab is a running lab. Its record lives in /run/quorate-lab/<name>/state.json, so
// any process may Attach to it; every method re-reads that record.
type Lab struct {
	name string
	mu   sync.Mutex
}

// Attach returns the running lab of that name (made by Up in this or another process).
func Attach(name string) (*Lab, error) {
	if !labNameRE.MatchString(name) {
		return nil, fmt.Errorf("lab name %q: want 1 to 8 of [a-z0-9]", name)
	}
	if _, err := loadState(name); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lab %s is not up", name)
		}
		return nil, err
	}
	return &Lab{name: name}, nil
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.name }

func (l *Lab) load() (*state, error) { return loadState(l.name) }

// update changes the lab's record under a lock shared with other processes.
func (l *Lab) update(fn func(s *state) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	unlock, err := lockLab(l.name)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := loadState(l.name)
	if err != nil {
		return err
	}
	ferr := fn(s)
	if err := s.save(); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}

func lockLab(name string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(labDir(name), "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab %s: lock: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab %s: lock: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// Hosts returns the lab's PVE hosts (pve1..pveN), without the controller and qnetd.
func (l *Lab) Hosts() ([]Host, error) { return l.machines(RoleHost) }

// Controller returns the controller machine "ctl".
func (l *Lab) Controller() (Host, error) {
	ms, err := l.machines(RoleController)
	if err != nil || len(ms) == 0 {
		return Host{}, fmt.Errorf("lab %s: no controller: %v", l.name, err)
	}
	return ms[0], nil
}

// QNetd returns the qnetd host, if the lab has one.
func (l *Lab) QNetd() (Host, bool) {
	ms, err := l.machines(RoleQNetd)
	if err != nil || len(ms) == 0 {
		return Host{}, false
	}
	return ms[0], true
}

func (l *Lab) machines(role string) ([]Host, error) {
	s, err := l.load()
	if err != nil {
		return nil, err
	}
	var hs []Host
	for _, m := range s.Machines {
		if m.Role == role {
			hs = append(hs, m.Host)
		}
	}
	return hs, nil
}

// Host returns one machine by name (pveN, qnetd or ctl).
func (l *Lab) Host(name string) (Host, error) {
	s, err := l.load()
	if err != nil {
		return Host{}, err
	}
	m, err := s.machine(name)
	if err != nil {
		return Host{}, err
	}
	return m.Host, nil
}

// Password is the root password of every host of the lab (for the API join).
func (l *Lab) Password() (string, error) {
	s, err := l.load()
	if err != nil {
		return "", err
	}
	return s.Password, nil
}

// Dir is where Up wrote cluster.yaml, the key, known_hosts and env ("" if nowhere).
func (l *Lab) Dir() string {
	s, err := l.load()
	if err != nil {
		return ""
	}
	return s.Dir
}

// ClusterFile is the path of the lab's cluster.yaml ("" when Up was given no Dir).
func (l *Lab) ClusterFile() string {
	if d := l.Dir(); d != "" {
		return filepath.Join(d, "cluster.yaml")
	}
	return ""
}
