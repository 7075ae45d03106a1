package prompt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a fresh pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// notifyWriter tells when the prompt has been written, which happens after echo is off.
type notifyWriter struct {
	bytes.Buffer
	once    sync.Once
	written chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	w.once.Do(func() { close(w.written) })
	return n, err
}

func TestSecretPromptDoesNotEcho(t *testing.T) {
	master, slave := openPTY(t)
	out := &notifyWriter{written: make(chan struct{})}
	p := &Prompter{in: slave, out: out}
	type answer struct {
		value string
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := p.Secret("Password: ")
		got <- answer{v, err}
	}()
	select {
	case <-out.written:
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	if _, err := master.WriteString("typed-Secret\n"); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.value != "typed-Secret" {
		t.Fatalf("secret = %q, %v", a.value, a.err)
	}
	if out.String() != "Password: " {
		t.Errorf("prompt = %q", out.String())
	}
	// Whatever the terminal showed must not hold the secret.
	master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	shown := make([]byte, 256)
	n, _ := master.Read(shown)
	if strings.Contains(string(shown[:n]), "typed-Secret") {
		t.Errorf("the terminal echoed the secret: %q", shown[:n])
	}
	termios, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || termios.Lflag&unix.ECHO == 0 {
		t.Errorf("echo not restored after the prompt (err %v)", err)
	}
}

// A run interrupted while a question waits returns without its answer: restore must turn
// echo back on, or the user's shell is left typing blind.
func TestRestoreTurnsEchoBackOnWhileAQuestionWaits(t *testing.T) {
	_, slave := openPTY(t)
	out := &notifyWriter{written: make(chan struct{})}
	p := &Prompter{in: slave, out: out}
	go p.Secret("Password: ") // never answered; ends when the test's pty closes
	select {
	case <-out.written:
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	if termios, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || termios.Lflag&unix.ECHO != 0 {
		t.Fatalf("echo is on while the question waits (err %v)", err)
	}
	p.Restore()
	if termios, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || termios.Lflag&unix.ECHO == 0 {
		t.Errorf("echo still off after restore (err %v)", err)
	}
	p.Restore() // a second call, or one with no question open, changes nothing
}

// Ctrl-C or --timeout while a question waits ends the question: the handshake waiting for
// the answer returns, and echo is back on.
func TestSecretEndsWithTheRun(t *testing.T) {
	_, slave := openPTY(t)
	out := &notifyWriter{written: make(chan struct{})}
	ctx, cancel := context.WithCancelCause(context.Background())
	p := &Prompter{in: slave, out: out, ctx: ctx}
	stopped := errors.New("interrupted")
	done := make(chan error, 1)
	go func() {
		_, err := p.Secret("Password: ")
		done <- err
	}()
	select {
	case <-out.written:
	case <-time.After(5 * time.Second):
		t.Fatal("no prompt")
	}
	cancel(stopped)
	select {
	case err := <-done:
		if !errors.Is(err, stopped) {
			t.Errorf("secret = %v, want the run's cause", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the question outlived the run")
	}
	if termios, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || termios.Lflag&unix.ECHO == 0 {
		t.Errorf("echo still off after the run ended (err %v)", err)
	}
}

func TestSecretNeedsATerminal(t *testing.T) {
	p := &Prompter{in: strings.NewReader("pw\n"), out: &bytes.Buffer{}}
	if _, err := p.Secret("Password: "); !errors.Is(err, ErrNoTerminal) {
		t.Errorf("err = %v, want ErrNoTerminal", err)
	}
}

// Many hosts dialled at once ask for the password once.
func TestSharedSecretAsksOnce(t *testing.T) {
	var asked atomic.Int32
	var seen []string
	s := &Once{
		Ask:    func() (string, error) { asked.Add(1); return "pw", nil },
		OnRead: func(v string) { seen = append(seen, v) },
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := s.Get(); v != "pw" || err != nil {
				t.Errorf("get = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if asked.Load() != 1 || len(seen) != 1 {
		t.Errorf("asked %d times, reported %d times", asked.Load(), len(seen))
	}
}
