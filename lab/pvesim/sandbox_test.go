package pvesim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sandbox is one simulated node under a temporary root: no namespaces, no daemons.
// corosync and corosync-quorumtool are fake scripts driven by files under <root>/fake.
type sandbox struct {
	t    *testing.T
	root string
	node string
	ip   string
}

const testPassword = "s3cret-pw"

// fakeTools are shell stand-ins for the corosync programs.
var fakeTools = map[string]string{
	// Starting "corosync" makes its IPC answer and, as a real member would, brings quorum.
	"corosync": `mkdir -p "$PVESIM_ROOT/fake" "$PVESIM_ROOT/run/pvesim"
echo 0 > "$PVESIM_ROOT/fake/quorumtool.rc"
# Quorum arrives a little later, as with a real cluster.
(sleep 0.3; echo 1 > "$PVESIM_ROOT/run/pvesim/quorate") >/dev/null 2>&1 &
`,
	"corosync-quorumtool": `rc=1
[ -f "$PVESIM_ROOT/fake/quorumtool.rc" ] && rc=$(cat "$PVESIM_ROOT/fake/quorumtool.rc")
if [ "$rc" = 1 ]; then echo "Cannot initialize CMAP service" >&2; exit 1; fi
echo "quorumtool $*"
exit "$rc"
`,
	"corosync-cfgtool": `echo "cfgtool $*"; exit 0
`,
}

func newSandbox(t *testing.T, shared, node, ip, version string) *sandbox {
	t.Helper()
	root := t.TempDir()
	sb := &sandbox{t: t, root: root, node: node, ip: ip}
	sum := sha256.Sum256([]byte(testPassword))
	host := fmt.Sprintf(`{"node":%q,"version":%q,"repoid":"42db4a6cf33dac83","kernel":"6.17.2-1-pve","root_password_sha256":%q}`, node, version, hex.EncodeToString(sum[:]))
	sb.write("/etc/pvesim/host.json", host)
	sb.write("/etc/hosts", fmt.Sprintf("127.0.0.1 localhost.localdomain localhost\n%s %s.lab.test %s\n", ip, node, node))
	for name, body := range fakeTools {
		sb.write("/fakebin/"+name, "#!/bin/sh\n"+body)
		os.Chmod(filepath.Join(root, "fakebin", name), 0o755)
	}
	os.MkdirAll(filepath.Join(root, "var/lib"), 0o755)
	if err := os.Symlink(shared, filepath.Join(root, "var/lib/pvesim-lab")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := sb.run("", "pvesim", "boot"); code != 0 {
		t.Fatalf("boot %s: exit %d: %s", node, code, stderr)
	}
	return sb
}

func (sb *sandbox) write(path, content string) {
	sb.t.Helper()
	full := filepath.Join(sb.root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		sb.t.Fatal(err)
	}
}

func (sb *sandbox) read(path string) string {
	sb.t.Helper()
	raw, err := os.ReadFile(filepath.Join(sb.root, path))
	if err != nil {
		sb.t.Fatal(err)
	}
	return string(raw)
}

func (sb *sandbox) exists(path string) bool {
	_, err := os.Stat(filepath.Join(sb.root, path))
	return err == nil
}

func (sb *sandbox) env(stdin string) *Env {
	return &Env{
		Root:     sb.root,
		Stdin:    strings.NewReader(stdin),
		Stdout:   &bytes.Buffer{},
		Stderr:   &bytes.Buffer{},
		Cwd:      "/root",
		PathDirs: []string{filepath.Join(sb.root, "fakebin"), "/usr/bin", "/bin"},
		LocalIPs: []string{"127.0.0.1", sb.ip},
	}
}

// run executes one command line; stdin is the text given.
func (sb *sandbox) run(stdin string, argv ...string) (code int, stdout, stderr string) {
	env := sb.env(stdin)
	code = env.Run(context.Background(), argv)
	return code, env.Stdout.(*bytes.Buffer).String(), env.Stderr.(*bytes.Buffer).String()
}
