// Package prompt asks the person at the terminal: secrets with echo off, one question at a
// time even when many hosts are dialled at once, and never when stdin is not a terminal.
package prompt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Prompter asks the user for secrets on the terminal, one question at a time even when many
// hosts are dialled at once, and never echoes what is typed.
type Prompter struct {
	in  io.Reader
	out io.Writer
	ctx context.Context // a question ends unanswered when ctx does; nil: never
	mu  sync.Mutex      // one question at a time

	// The terminal's settings while echo is off, for restore: an interrupted run returns
	// while the question still waits for its answer, and must not leave echo off.
	stateMu sync.Mutex
	fd      int
	saved   *unix.Termios
}

// New asks on in (when it is a terminal) and writes questions to out; a question ends
// unanswered when ctx does.
func New(ctx context.Context, in io.Reader, out io.Writer) *Prompter {
	return &Prompter{in: in, out: out, ctx: ctx}
}

// Restore turns echo back on if a question is still waiting (the run was interrupted or
// timed out meanwhile) and ends its line. The caller defers it before the process exits.
func (p *Prompter) Restore() {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.saved != nil {
		unix.IoctlSetTermios(p.fd, unix.TCSETS, p.saved)
		p.saved = nil
		fmt.Fprintln(p.out)
	}
}

// Terminal tells whether questions can be asked: false for a pipe, a file, CI.
func (p *Prompter) Terminal() bool {
	_, ok := p.terminal()
	return ok
}

// terminal is the file descriptor of stdin when it is a terminal; ok is false otherwise.
func (p *Prompter) terminal() (fd int, ok bool) {
	f, isFile := p.in.(*os.File)
	if !isFile {
		return 0, false
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return 0, false
	}
	return int(f.Fd()), true
}

// ErrNoTerminal is the error of a question that cannot be asked.
var ErrNoTerminal = errors.New("stdin is not a terminal, so nothing can be asked")

// Secret prints question and reads one line with echo off.
func (p *Prompter) Secret(question string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd, ok := p.terminal()
	if !ok {
		return "", ErrNoTerminal
	}
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL
	p.stateMu.Lock()
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		p.stateMu.Unlock()
		return "", fmt.Errorf("terminal: %w", err)
	}
	p.fd, p.saved = fd, old
	p.stateMu.Unlock()
	defer func() {
		p.stateMu.Lock()
		defer p.stateMu.Unlock()
		if p.saved != nil {
			unix.IoctlSetTermios(fd, unix.TCSETS, old)
			p.saved = nil
		}
	}()
	fmt.Fprint(p.out, question)
	// The SSH handshake that wants this answer cannot be interrupted while it waits for it:
	// the question must end with the run (Ctrl-C, --timeout), or a second Ctrl-C would kill
	// the process with echo still off.
	type answer struct {
		line string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(p.in).ReadString('\n')
		answered <- answer{line, err}
	}()
	ctx := p.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case a := <-answered:
		if a.err != nil && a.line == "" {
			return "", fmt.Errorf("reading the answer: %w", a.err)
		}
		return strings.TrimRight(a.line, "\r\n"), nil
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return "", context.Cause(ctx)
	}
}

// Once asks once and gives every later caller the same answer: one password for all the
// hosts of a run, not one prompt per host. OnRead, when set, learns the answer (to redact it).
type Once struct {
	Ask    func() (string, error)
	OnRead func(string)
	mu     sync.Mutex
	done   bool
	value  string
	err    error
}

// Get asks the first time and answers every time.
func (s *Once) Get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.value, s.err = s.Ask()
		s.done = true
		if s.err == nil && s.OnRead != nil {
			s.OnRead(s.value)
		}
	}
	return s.value, s.err
}

// Confirm asks a yes/no question on the terminal; only "y" or "yes" is a yes. Without a
// terminal it answers ErrNoTerminal, so that nothing is changed unasked.
func (p *Prompter) Confirm(question string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.terminal(); !ok {
		return false, ErrNoTerminal
	}
	fmt.Fprint(p.out, question)
	answered := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(p.in).ReadString('\n')
		answered <- line
	}()
	ctx := p.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case line := <-answered:
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return false, context.Cause(ctx)
	}
}
