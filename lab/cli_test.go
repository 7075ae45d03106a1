package lab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPvelabCommand drives the pvelab command as a person would: up, exec with
// streams and exit code, fault, status, the files quorate reads, down.
func TestPvelabCommand(t *testing.T) {
	t.Parallel()
	needLab(t)
	o := testOptions(t, Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pvelab := func(stdin string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, o.HelperBinary, append([]string{"--name", o.Name}, args...)...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("pvelab %v: %v", args, err)
		}
		if errb.Len() > 0 {
			t.Logf("pvelab %v stderr: %s", args, errb.String())
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	t.Cleanup(func() { _ = DownByName(context.Background(), o.Name) })

	if out, code := pvelab("", "up", "--hosts", "2", "--qnetd", "--dir", dir, "--pvesim", o.PvesimBinary); code != 0 {
		t.Fatalf("pvelab up: exit %d: %s", code, out)
	}
	yaml, err := os.ReadFile(filepath.Join(dir, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"password_env: PVE_ROOT_PASSWORD", "identity_file: " + filepath.Join(dir, "id_ed25519"),
		"known_hosts: " + filepath.Join(dir, "known_hosts"), "- name: pve2\n    address: 198.51.100.12\n    links: [198.51.100.12]",
		"qdevice:\n  address: 198.51.100.50"} {
		if !strings.Contains(string(yaml), want) {
			t.Errorf("cluster.yaml lacks %q:\n%s", want, yaml)
		}
	}
	envFile, _ := os.ReadFile(filepath.Join(dir, "env"))
	if pw, _ := (&Lab{name: o.Name}).Password(); !strings.Contains(string(envFile), "export PVE_ROOT_PASSWORD='"+pw+"'") {
		t.Errorf("env: %q", envFile)
	}

	if out, code := pvelab("from stdin\n", "exec", "pve1", "--", "sh", "-c", "cat; hostname; exit 3"); code != 3 || out != "from stdin\npve1\n" {
		t.Errorf("exec pve1: exit %d, %q", code, out)
	}
	// quorate runs on the controller, from the checkout, with the files of cluster.yaml.
	if out, code := pvelab("", "exec", "ctl", "--", "sh", "-c", "pwd; ssh -i id_ed25519 -o UserKnownHostsFile=known_hosts "+
		"-o StrictHostKeyChecking=yes -o BatchMode=yes root@198.51.100.12 hostname"); code != 0 || out != dir+"\npve2\n" {
		t.Errorf("exec ctl: exit %d, %q", code, out)
	}
	if out, code := pvelab("", "exec", "qnetd", "--", "hostname"); code != 0 || out != "qnetd\n" {
		t.Errorf("exec qnetd: exit %d, %q", code, out)
	}
	if _, code := pvelab("", "fault", "pve2", "udp-drop"); code != 0 {
		t.Errorf("fault: exit %d", code)
	}
	if out, _ := pvelab("", "status"); !strings.Contains(out, "faults: udp-drop") {
		t.Errorf("status does not show the fault:\n%s", out)
	}
	if _, code := pvelab("", "fault", "pve2", "no-such-fault"); code != 1 {
		t.Errorf("unknown fault: exit %d", code)
	}
	if _, code := pvelab("", "fault", "pve2", "clear"); code != 0 {
		t.Errorf("fault clear: exit %d", code)
	}
	if out, _ := pvelab("", "status"); strings.Contains(out, "udp-drop") {
		t.Errorf("status after clear:\n%s", out)
	}
	pids := recordedPIDs(t, o.Name)
	if _, code := pvelab("", "down"); code != 0 {
		t.Errorf("down: exit %d", code)
	}
	if got := labTraces(t, o.Name, pids); len(got) > 0 {
		t.Errorf("after pvelab down: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster.yaml")); err == nil {
		t.Errorf("pvelab down left cluster.yaml")
	}
}
