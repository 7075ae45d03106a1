// Package playbooks holds quorate's jobs (init, preflight, up, ...), each a readable flow:
// connect -> discover -> classify -> plan -> confirm -> run. The command line gives a playbook
// a Session and a request and renders what comes back; nothing here writes to the terminal
// except through the Session.
package playbooks

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/quorate/quorate/internal/prompt"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/remote"
)

// Session is what the command line gives every playbook that reaches hosts.
type Session struct {
	Log *slog.Logger
	// AddSecret hides a secret learnt during the run from every later log line.
	AddSecret func(string)
	// Ask is the terminal, when there is one (Ask.Terminal() tells).
	Ask *prompt.Prompter
	// Notes receives what the user should see as it happens (a new host key, a step
	// starting); stdout stays for the result.
	Notes io.Writer
	// Live is set when Notes is a terminal: long waits then show a live elapsed time;
	// otherwise only plain lines are written, with no control characters.
	Live bool
	// RunDir is this run's directory for backups and saved evidence (created when needed).
	RunDir string
}

func (s *Session) notef(format string, args ...any) {
	if s.Notes != nil {
		fmt.Fprintf(s.Notes, format+"\n", args...)
	}
}

// waiting shows "what... 12s" on one terminal line, updated every second, until stop.
func (s *Session) waiting(what string) (stop func()) {
	if !s.Live || s.Notes == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(s.Notes, "\r\033[K")
				return
			case <-tick.C:
				fmt.Fprintf(s.Notes, "\r\033[K    %s... %s", what, time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (s *Session) addSecret(v string) {
	if s.AddSecret != nil {
		s.AddSecret(v)
	}
}

// Access is how to reach the hosts: the cluster file's ssh section and what the command line
// adds to it.
type Access struct {
	SSH inventory.SSH
	// IdentityFiles are all the -i files (SSH.IdentityFile is only the first, for the file).
	IdentityFiles []string
	SSHConfigFile string
	// Password is the SSH password for first contact, from the environment; "" means ask on
	// a terminal if a host wants one.
	Password          string
	AcceptNewHostKeys bool
}

// RemoteConfig is the cluster file's ssh section as the transport takes it; the one place
// that maps one onto the other.
func RemoteConfig(s inventory.SSH) remote.Config {
	cfg := remote.Config{
		User:           s.User,
		Port:           s.Port,
		KnownHostsFile: s.KnownHosts,
		Jump:           s.Jump,
	}
	if s.IdentityFile != "" {
		cfg.IdentityFiles = []string{s.IdentityFile}
	}
	return cfg
}

// clusterConfig is remoteConfig for runs on a cluster file's nodes: a node that is down is
// one finding or one refusal, so it is not waited for long (5 s an attempt, one retry for a
// reset while a host is busy). init keeps the transport's patient defaults.
func (s *Session) clusterConfig(a Access) remote.Config {
	cfg := s.remoteConfig(a)
	cfg.DialTimeout, cfg.Retries = 5*time.Second, 1
	return cfg
}

// remoteConfig adds to RemoteConfig the session's log and the credentials asked lazily: a
// password or passphrase is asked only if a host wants it, and only on a terminal.
func (s *Session) remoteConfig(a Access) remote.Config {
	cfg := RemoteConfig(a.SSH)
	if len(a.IdentityFiles) > 0 {
		cfg.IdentityFiles = a.IdentityFiles
	}
	cfg.SSHConfigFile = a.SSHConfigFile
	cfg.AcceptNewHostKeys = a.AcceptNewHostKeys
	cfg.Log = s.Log
	if a.Password != "" {
		s.addSecret(a.Password)
		cfg.Password = func() (string, error) { return a.Password, nil }
	} else if s.Ask != nil && s.Ask.Terminal() {
		once := &prompt.Once{
			Ask:    func() (string, error) { return s.Ask.Secret("SSH password (for hosts without a key): ") },
			OnRead: s.addSecret,
		}
		cfg.Password = once.Get
	}
	cfg.Passphrase = func(file string) ([]byte, error) {
		if v, ok := os.LookupEnv("QUORATE_SSH_PASSPHRASE"); ok {
			s.addSecret(v)
			return []byte(v), nil
		}
		if s.Ask == nil {
			return nil, fmt.Errorf("%w: set QUORATE_SSH_PASSPHRASE, or load the key into ssh-agent (ssh-add %s)", prompt.ErrNoTerminal, file)
		}
		v, err := s.Ask.Secret(fmt.Sprintf("Passphrase for %s: ", file))
		if errors.Is(err, prompt.ErrNoTerminal) {
			err = fmt.Errorf("%w: set QUORATE_SSH_PASSPHRASE, or load the key into ssh-agent (ssh-add %s)", err, file)
		}
		s.addSecret(v)
		return []byte(v), err
	}
	return cfg
}
