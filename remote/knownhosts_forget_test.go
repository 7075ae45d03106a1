package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func TestForgetHost(t *testing.T) {
	hashed := xknownhosts.HashHostname("[198.51.100.12]:2222")
	text := "pve1,198.51.100.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1\n" +
		"pve2,pve2.lab.test,198.51.100.12 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2\n" +
		"pve2,pve2.lab.test,198.51.100.12 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ2\n" +
		"# 198.51.100.12 a comment stays\n" +
		"@revoked 198.51.100.12 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA0\n" +
		"198.51.100.1* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA9\n" +
		hashed + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA3\n" +
		"198.51.100.120 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4"
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	n, err := ForgetHost(file, "198.51.100.12:22")
	if err != nil || n != 2 {
		t.Fatalf("ForgetHost: %d, %v; want 2 lines", n, err)
	}
	n, err = ForgetHost(file, "198.51.100.12:2222")
	if err != nil || n != 1 {
		t.Fatalf("ForgetHost of the hashed port entry: %d, %v; want 1", n, err)
	}
	data, _ := os.ReadFile(file)
	got := string(data)
	for _, want := range []string{"pve1,198.51.100.11", "# 198.51.100.12 a comment stays", "@revoked 198.51.100.12", "198.51.100.1* ", "198.51.100.120 "} {
		if !strings.Contains(got, want) {
			t.Errorf("lost %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "pve2,") || strings.Contains(got, "|1|") {
		t.Errorf("kept an entry of the host:\n%s", got)
	}
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", info.Mode().Perm())
	}
	if n, err := ForgetHost(filepath.Join(t.TempDir(), "none"), "198.51.100.12:22"); n != 0 || err != nil {
		t.Errorf("a missing file: %d %v", n, err)
	}
}
