package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// TestPvesimQdevice: `pvecm qdevice setup` on a 2-node cluster against the real
// corosync-qnetd of the lab's qnetd host gives the third vote; remove takes it away.
func TestPvesimQdevice(t *testing.T) {
	t.Parallel()
	l := pvesimLabWith(t, lab.Options{Hosts: 2, QNetd: true})
	pw := password(t, l)
	if r := sshRun(t, l, "pve1", "", "pvecm create demo"); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}
	if r := sshRun(t, l, "pve2", pw+"\nyes\n", "pvecm add 198.51.100.11"); !strings.Contains(r.Stdout, "successfully added node 'pve2' to cluster.\n") {
		t.Fatalf("join: %s %s", r.Stdout, r.Stderr)
	}
	// pvecm's first step is an interactive ssh-copy-id: trust pve1 on qnetd beforehand,
	// as an admin (or quorate) would.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := l.Exec(ctx, "pve1", nil, "cat", "/root/.ssh/id_rsa.pub")
	if err != nil || pub.Code != 0 {
		t.Fatalf("pve1 key: %v %s", err, pub.Stderr)
	}
	if r, err := l.Exec(ctx, "qnetd", strings.NewReader(pub.Stdout), "sh", "-c", "cat >> /root/.ssh/authorized_keys"); err != nil || r.Code != 0 {
		t.Fatalf("authorize pve1 on qnetd: %v %s", err, r.Stderr)
	}
	if r, err := l.Exec(ctx, "pve1", nil, "sh", "-c", "ssh-keyscan -t rsa,ed25519 198.51.100.50 >> /root/.ssh/known_hosts"); err != nil || r.Code != 0 {
		t.Fatalf("keyscan qnetd: %v %s", err, r.Stderr)
	}

	r := sshRun(t, l, "pve1", "", "pvecm qdevice setup 198.51.100.50")
	for _, step := range []string{"\nINFO: initializing qnetd server\n", "\nnode 'pve2': Importing CA", "\nINFO: add QDevice to cluster configuration\n", "\nINFO: start and enable corosync qdevice daemon on node 'pve2'...\n"} {
		if r.Code != 0 || !strings.Contains(r.Stdout, step) {
			t.Fatalf("qdevice setup (exit %d) lacks %q:\n%s\n%s", r.Code, step, r.Stdout, r.Stderr)
		}
	}
	eventually(t, 30*time.Second, "Qdevice vote", func() (bool, string) {
		r := sshRun(t, l, "pve2", "", "pvecm status")
		return r.Code == 0 && strings.Contains(r.Stdout, "Flags:            Quorate Qdevice \n") &&
			strings.Contains(r.Stdout, "Total votes:      3\n") && strings.Contains(r.Stdout, "0x00000000          1            Qdevice\n"), r.Stdout
	})
	if r := sshRun(t, l, "pve1", "", "pvecm qdevice setup 198.51.100.50"); r.Code == 0 || r.Stderr != "QDevice already configured!\n" {
		t.Errorf("second setup: exit %d, stderr %q", r.Code, r.Stderr)
	}

	r = sshRun(t, l, "pve1", "", "pvecm qdevice remove")
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "\nRemoved Qdevice.\n") {
		t.Fatalf("remove: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := sshRun(t, l, "pve1", "", "pvecm qdevice remove"); r.Code == 0 || r.Stderr != "No QDevice configured!\n" {
		t.Errorf("second remove: exit %d, stderr %q", r.Code, r.Stderr)
	}
	eventually(t, 30*time.Second, "no Qdevice vote", func() (bool, string) {
		r := sshRun(t, l, "pve2", "", "pvecm status")
		return r.Code == 0 && strings.Contains(r.Stdout, "Total votes:      2\n") && !strings.Contains(r.Stdout, "Qdevice"), r.Stdout
	})
}
