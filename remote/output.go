package remote

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
)

// The remote user's shell may print text before it runs anything (a root .bashrc that
// echoes on every login, a motd script). Every command therefore starts by printing a
// random marker line on stdout and on stderr; what comes before the marker is the shell's,
// what follows is the command's. The stdout marker line also carries the pid of the
// supervisor, which a timeout needs (see stopRemote).

const markerPrefix = "quorate-output-begins-"

func newMarker() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source rather than returning)
	return markerPrefix + hex.EncodeToString(b)
}

// supervisor is the sh script that prints the markers ($2) and runs the command line ($1).
// A timed-out line may have children (a pipeline, a command that is not the last of the
// line), and sshd signals at most the one process it started (and for root, not at all:
// OpenSSH refuses "signal" requests in sessions without privilege separation). So the
// supervisor runs the line as a child and, on SIGTERM, passes it to its whole process group
// (sshd gives each session a group of its own), then SIGKILLs the group a second later.
// The line's stdin is handed over on fd 3, as sh gives a background job /dev/null.
const supervisor = `printf '%s %s\n' "$2" "$$"; printf '%s\n' "$2" >&2; ` +
	`trap 'trap "" TERM; kill -s TERM 0; { sleep 1; kill -s KILL 0; } </dev/null >/dev/null 2>&1 & wait "$c" 2>/dev/null; exit 143' TERM; ` +
	`exec 3<&0; sh -c "$1" 0<&3 3<&- & c=$!; exec 3<&-; wait "$c"`

// wrapLine turns line into what the login shell is asked to run: a POSIX sh supervising
// line with LC_ALL=C. "exec env" is understood by bash, dash, zsh, ksh and fish alike, since
// the login shell could be any of them. The marker is also in the supervisor's argv, where
// killLine looks for it.
func wrapLine(marker, line string) string {
	return "exec env LC_ALL=C sh -c " + Quote(supervisor) + " quorate " + Quote(line) + " " + marker
}

// killLine is the command that sends SIGTERM to the supervisor pid, if pid still is the
// supervisor of marker (a pid may have been reused since).
func killLine(marker string, pid int) string {
	p := strconv.Itoa(pid)
	return "grep -qF " + marker + " /proc/" + p + "/cmdline 2>/dev/null && kill -s TERM " + p
}

// stripMarker returns what follows the first marker line in out, the rest of that line
// after the marker, and whether there was one. Without a marker the command never started
// and out is all the shell's.
func stripMarker(out []byte, marker string) (rest []byte, tag string, found bool) {
	i := bytes.Index(out, []byte(marker))
	for i >= 0 {
		after := i + len(marker)
		nl := bytes.IndexByte(out[after:], '\n')
		if nl < 0 {
			return out, "", false
		}
		tag = string(out[after : after+nl])
		if tag == "" || tag[0] == ' ' {
			return out[after+nl+1:], tag, true
		}
		// The marker is a prefix of something longer: not ours; look further.
		next := bytes.Index(out[i+1:], []byte(marker))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return out, "", false
}

// supervisorPID reads the pid from the stdout marker line's tag, " 1234".
func supervisorPID(tag string) (int, bool) {
	if len(tag) < 2 || tag[0] != ' ' {
		return 0, false
	}
	pid, err := strconv.Atoi(tag[1:])
	return pid, err == nil && pid > 1
}
