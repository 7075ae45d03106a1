package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

func TestUploadDownloadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // the server is in-process: its files are ours to inspect
	f := newFixture(t, remotetest.Options{Dir: dir})
	c := f.dial(t)
	ctx := context.Background()

	data := make([]byte, 1<<20+17) // many SFTP packets, not a round size
	rand.Read(data)
	target := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(target, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, target, data, 0o600); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	got, err := os.ReadFile(target)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file on the host differs from what was uploaded (%d vs %d bytes, %v)", len(got), len(data), err)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	down, err := c.Download(ctx, target)
	if err != nil || !bytes.Equal(down, data) {
		t.Fatalf("Download = %d bytes, %v; want the %d uploaded", len(down), err, len(data))
	}
	logText := f.log.String()
	if !strings.Contains(logText, `msg="remote upload"`) || !strings.Contains(logText, "sha256=") {
		t.Errorf("upload not logged with its checksum:\n%s", logText)
	}
	if n := f.srv.Connections(); n != 1 {
		t.Errorf("SFTP used %d connections, want the one shared connection", n)
	}
}

func TestUploadFailureLeavesTargetAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, remotetest.Options{Dir: dir})
	c := f.dial(t)
	tests := []struct {
		name string
		path string
	}{
		{"relative path", "relative/file"},
		{"missing directory", filepath.Join(dir, "missing", "file")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Upload(context.Background(), tt.path, []byte("data"), 0o644)
			var re *remote.Error
			if !errors.As(err, &re) || re.Host != f.srv.Addr() || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Upload(%s) = %v, want a *remote.Error for host %s naming the path", tt.path, err, f.srv.Addr())
			}
		})
	}
	if _, err := c.Download(context.Background(), filepath.Join(dir, "absent")); err == nil {
		t.Error("Download of a missing file succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestUploadCancelledMidwayLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, remotetest.Options{Dir: dir})
	c := f.dial(t)
	target := filepath.Join(dir, "big")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the temporary file exists, i.e. during the transfer.
		for ctx.Err() == nil {
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := c.Upload(ctx, target, make([]byte, 64<<20), 0o644)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Upload = %v, want it cancelled", err)
	}
	remotetest.Eventually(t, 3*time.Second, "no file left in the target directory", func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) == 0
	})
	if _, err := c.Run(context.Background(), remote.Command{Line: "true"}); err != nil {
		t.Errorf("connection unusable after a cancelled upload: %v", err)
	}
}

// A file that arrives with the right size but other bytes is caught by the SHA-256 read back:
// the target keeps its old contents and the temporary file is removed.
func TestUploadChecksumMismatchIsCaught(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, remotetest.Options{Dir: dir, CorruptUploads: true})
	c := f.dial(t)
	target := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(target, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := c.Upload(context.Background(), target, []byte("totem {\n  cluster_name: homelab\n}\n"), 0o644)
	if err == nil {
		t.Fatal("Upload of a corrupted transfer succeeded")
	}
	if re := (*remote.Error)(nil); !errors.As(err, &re) || re.Host != f.srv.Addr() {
		t.Errorf("error %#v: want a *remote.Error with Host %s", err, f.srv.Addr())
	}
	for _, want := range []string{target, "SHA-256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got, _ := os.ReadFile(target); string(got) != "old contents" {
		t.Errorf("target = %q after a failed upload, want the old contents", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}
