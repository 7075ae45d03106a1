package remotetest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// session serves one session channel: env, exec, subsystem sftp and signal requests.
type session struct {
	s   *Server
	ch  ssh.Channel
	env []string

	mu      sync.Mutex
	cmd     *exec.Cmd // nil until exec
	exited  bool
	started bool
}

func (s *Server) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	sess := &session{s: s, ch: ch}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil {
				sess.env = append(sess.env, kv.Name+"="+kv.Value)
			}
			req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) != nil || !sess.claim() {
				req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			s.commands = append(s.commands, p.Command)
			s.mu.Unlock()
			req.Reply(true, nil)
			go sess.exec(p.Command)
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" || !sess.claim() {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			go sess.sftp()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) == nil {
				s.mu.Lock()
				s.signals = append(s.signals, p.Signal)
				s.mu.Unlock()
				sess.signal(p.Signal)
			}
			if req.WantReply {
				req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel. As with sshd, a command still running is not signalled
	// (its process group is killed when the server stops, so nothing outlives the test).
	sess.mu.Lock()
	running := sess.cmd != nil && !sess.exited
	sess.mu.Unlock()
	if running {
		s.mu.Lock()
		s.closed++
		s.mu.Unlock()
	}
}

// claim reserves the session for its one exec or subsystem.
func (sess *session) claim() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.started {
		return false
	}
	sess.started = true
	return true
}

func (sess *session) exec(command string) {
	if noise := sess.s.opts.StartupNoise; noise != "" {
		io.WriteString(sess.ch, noise)
		io.WriteString(sess.ch.Stderr(), noise)
	}
	shell := sess.s.opts.Shell
	if shell == "" {
		shell = "sh"
	}
	cmd := exec.Command(shell, "-c", command)
	cmd.Env = append(append(os.Environ(), sess.s.opts.Env...), sess.env...)
	cmd.Dir = sess.s.opts.Dir
	cmd.Stdout = sess.ch
	cmd.Stderr = sess.ch.Stderr()
	// A process group per session, as sshd's setsid gives: "kill 0" in a command must reach
	// its session only, never the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second // a background child holding stdout must not hang us
	stdin, err := cmd.StdinPipe()
	if err == nil {
		sess.mu.Lock()
		sess.cmd = cmd
		err = cmd.Start()
		if err != nil {
			sess.cmd = nil
		}
		sess.mu.Unlock()
		if err == nil {
			sess.s.mu.Lock()
			sess.s.groups = append(sess.s.groups, cmd.Process.Pid)
			sess.s.mu.Unlock()
		}
	}
	if err != nil {
		io.WriteString(sess.ch.Stderr(), "remotetest: "+err.Error()+"\n")
		sess.exit(127, "")
		return
	}
	go func() {
		io.Copy(stdin, sess.ch)
		stdin.Close()
	}()
	err = cmd.Wait()
	sess.mu.Lock()
	sess.exited = true
	sess.mu.Unlock()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		sess.exit(0, "")
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sess.exit(0, signalName(ws.Signal()))
		} else {
			sess.exit(exitErr.ExitCode(), "")
		}
	default:
		sess.exit(255, "")
	}
}

func (sess *session) sftp() {
	opts := []sftp.ServerOption{}
	if sess.s.opts.Dir != "" {
		opts = append(opts, sftp.WithServerWorkingDirectory(sess.s.opts.Dir))
	}
	var rwc io.ReadWriteCloser = sess.ch
	if sess.s.opts.CorruptUploads {
		rwc = struct {
			io.Reader
			io.Writer
			io.Closer
		}{&corruptWrites{r: sess.ch}, sess.ch, sess.ch}
	}
	srv, err := sftp.NewServer(rwc, opts...)
	if err != nil {
		sess.exit(1, "")
		return
	}
	srv.Serve()
	srv.Close()
	sess.exit(0, "")
}

// exit reports the end of the command (a status, or the signal that killed it) and closes
// the channel.
func (sess *session) exit(code int, signal string) {
	if signal != "" {
		sess.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Message    string
			Lang       string
		}{Signal: signal}))
	} else {
		sess.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	}
	sess.ch.Close()
}

// signal delivers a signal named as in RFC 4254 ("TERM") to the process the session
// started, and to it alone, as sshd does, when the server honours signals.
func (sess *session) signal(name string) {
	if !sess.s.opts.HonourSignals {
		return
	}
	sig, ok := signalsByName[name]
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !ok || sess.cmd == nil || sess.cmd.Process == nil || sess.exited {
		return
	}
	sess.cmd.Process.Signal(sig)
}

var signalsByName = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signalsByName {
		if s == sig {
			return name
		}
	}
	return "KILL"
}

// copyAndClose copies src to dst, then half-closes dst's write side where it can.
func copyAndClose(dst io.Writer, src io.Reader) {
	io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// corruptWrites passes SFTP packets through whole (uint32 length, then the body), flipping the
// last byte of each SSH_FXP_WRITE packet, which is the last byte of the data it writes.
type corruptWrites struct {
	r       io.Reader
	pending []byte
}

const sftpWrite = 6 // SSH_FXP_WRITE

func (c *corruptWrites) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		var length [4]byte
		if _, err := io.ReadFull(c.r, length[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(length[:])
		if n > 1<<20 {
			return 0, errors.New("remotetest: sftp packet too large")
		}
		packet := make([]byte, 4+n)
		copy(packet, length[:])
		if _, err := io.ReadFull(c.r, packet[4:]); err != nil {
			return 0, err
		}
		if n > 1 && packet[4] == sftpWrite {
			packet[len(packet)-1] ^= 0xff
		}
		c.pending = packet
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}
