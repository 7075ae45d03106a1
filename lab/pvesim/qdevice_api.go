package pvesim

import (
	"bufio"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// GET /cluster/config/qdevice (docs/pve.md §4.4), as ClusterConfig.pm's qdevice status method
// does it: without corosync-qdevice's socket, {}; otherwise "status verbose" on the socket and,
// of the lines that do not start with white space, the values of seven keys.
const qdeviceSocket = "/var/run/corosync-qdevice/corosync-qdevice.sock"

var qdeviceStatusKeys = map[string]bool{
	"Algorithm": true, "Echo reply": true, "Last poll call": true, "Model": true,
	"QNetd host": true, "State": true, "Tie-breaker": true,
}

var qdeviceStatusLine = regexp.MustCompile(`^(.*?)\s*:\s*(.*)$`)

func (e *Env) qdeviceStatus() (any, *APIError) {
	result := map[string]string{}
	path := e.Path(qdeviceSocket)
	if !isSocket(path) {
		return result, nil
	}
	conn, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		// IO::Socket::UNIX->new failing leaves PVE with an undefined socket: the print and
		// the read then do nothing, and the answer is the empty hash.
		return result, nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("status verbose\n")); err != nil {
		return result, nil
	}
	return parseQdeviceStatus(bufio.NewScanner(conn)), nil
}

func parseQdeviceStatus(sc *bufio.Scanner) map[string]string {
	result := map[string]string{}
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if m := qdeviceStatusLine.FindStringSubmatch(line); m != nil && qdeviceStatusKeys[m[1]] {
			result[m[1]] = m[2]
		}
	}
	return result
}

func isSocket(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode()&os.ModeSocket != 0
}
