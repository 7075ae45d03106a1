package remote

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
)

// The remote user's shell may print text before it runs anything (a root .bashrc that
// echoes on every login, a motd script). Every command therefore starts by printing a
// random marker line on stdout and on stderr; what comes before the marker is the shell's,
// what follows is the command's.

const markerPrefix = "quorate-output-begins-"

func newMarker() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics on an unusable source rather than returning)
	return markerPrefix + hex.EncodeToString(b)
}

// supervisor is the sh script that runs the command line ($1). sshd delivers a signal to
// the one process it started, but a timed-out line may have children (a pipeline, a
// command that is not the last of the line). The supervisor runs the line as a child and,
// on SIGTERM, passes it to its whole process group (sshd gives each session a group of its
// own), then SIGKILLs the group a second later, so nothing of a timed-out command survives.
// The line's stdin is handed over on fd 3, as sh gives a background job /dev/null.
const supervisor = `trap 'trap "" TERM; kill -s TERM 0; { sleep 1; kill -s KILL 0; } </dev/null >/dev/null 2>&1 & wait "$c" 2>/dev/null; exit 143' TERM; ` +
	`exec 3<&0; sh -c "$1" 0<&3 3<&- & c=$!; exec 3<&-; wait "$c"`

// wrapLine turns line into what the login shell is asked to run: print the markers, then
// have a POSIX sh supervise line with LC_ALL=C. It only uses syntax that bash, dash, zsh,
// ksh and fish agree on, since the login shell could be any of them.
func wrapLine(marker, line string) string {
	return "printf '%s\\n' " + marker + "; printf '%s\\n' " + marker + " >&2; " +
		"exec env LC_ALL=C sh -c " + Quote(supervisor) + " quorate " + Quote(line)
}

// stripMarker returns what follows the first marker line in out, and whether there was one.
// Without a marker the command never started and out is all the shell's.
func stripMarker(out []byte, marker string) ([]byte, bool) {
	m := []byte(marker + "\n")
	i := bytes.Index(out, m)
	if i < 0 {
		return out, false
	}
	return out[i+len(m):], true
}
