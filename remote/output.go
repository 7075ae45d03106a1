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

// wrapLine turns line into what the login shell is asked to run: print the markers, then
// have a POSIX sh run line with LC_ALL=C. It only uses syntax that bash, dash, zsh, ksh and
// fish agree on, since the login shell could be any of them.
func wrapLine(marker, line string) string {
	return "printf '%s\\n' " + marker + "; printf '%s\\n' " + marker + " >&2; exec env LC_ALL=C sh -c " + Quote(line)
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
