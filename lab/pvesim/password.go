package pvesim

import (
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readPassword is PVE::PTY::read_password on stdin (docs/pve.md §0.1): without a terminal no
// prompt, one line; on a terminal the prompt on stdout, raw mode and a `*` per character.
func (e *Env) readPassword(prompt string) (string, error) {
	if file, ok := e.Stdin.(*os.File); ok {
		if termios, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS); err == nil {
			return e.readPasswordTTY(file, termios, prompt)
		}
	}
	line, err := e.stdin().ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errors.New("EOF while reading password")
		}
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

func (e *Env) readPasswordTTY(tty *os.File, saved *unix.Termios, prompt string) (string, error) {
	fd := int(tty.Fd())
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return "", errors.New("failed to set terminal attributes")
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, saved)

	io.WriteString(e.Stdout, prompt)
	var password []byte
	echo := -1 // undecided: the first key decides, as in PTY.pm
	buf := make([]byte, 1)
	for {
		n, err := unix.Read(fd, buf)
		if n == 0 || err != nil {
			if err != nil && !errors.Is(err, unix.EINTR) {
				return "", errors.New("read error: " + err.Error())
			}
			if n == 0 && err == nil {
				break
			}
			continue
		}
		switch ch := buf[0]; {
		case ch == 4:
			return string(password), nil
		case ch == '\n' || ch == '\r':
			io.WriteString(e.Stdout, "\r\n")
			return string(password), nil
		case ch == 3:
			return "", errors.New("password input aborted")
		case ch == 0x7f:
			if echo == -1 {
				echo = 0
			}
			if len(password) > 0 {
				password = password[:len(password)-1]
				io.WriteString(e.Stdout, "\b \b")
			}
		case ch == '\t':
			echo = 0
		default:
			if echo == -1 {
				echo = 1
			}
			password = append(password, ch)
			if echo == 1 {
				io.WriteString(e.Stdout, "*")
			}
		}
	}
	return string(password), nil
}
