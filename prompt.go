package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// prompter asks the user for secrets on the terminal, one question at a time even when many
// hosts are dialled at once, and never echoes what is typed.
type prompter struct {
	in  io.Reader
	out io.Writer
	mu  sync.Mutex
}

// terminal is the file descriptor of stdin when it is a terminal; ok is false otherwise (a
// pipe, a file, CI), and then nothing may be asked.
func (p *prompter) terminal() (fd int, ok bool) {
	f, isFile := p.in.(*os.File)
	if !isFile {
		return 0, false
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return 0, false
	}
	return int(f.Fd()), true
}

var errNoTerminal = errors.New("stdin is not a terminal, so nothing can be asked")

// secret prints question and reads one line with echo off.
func (p *prompter) secret(question string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd, ok := p.terminal()
	if !ok {
		return "", errNoTerminal
	}
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(p.out, question)
	line, err := bufio.NewReader(p.in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// sharedSecret asks once and gives every later caller the same answer: one password for all
// the hosts of a run, not one prompt per host.
type sharedSecret struct {
	ask    func() (string, error)
	mu     sync.Mutex
	done   bool
	value  string
	err    error
	onRead func(string)
}

func (s *sharedSecret) get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.value, s.err = s.ask()
		s.done = true
		if s.err == nil && s.onRead != nil {
			s.onRead(s.value)
		}
	}
	return s.value, s.err
}
