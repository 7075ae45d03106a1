package pvesim

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// finishJoin is Setup::finish_join (docs/pve.md §2.2 step 10). clusterID is the stand-in's
// own: which shared /etc/pve the node mounts from now on.
func (e *Env) finishJoin(ctx context.Context, node, conf string, authKey []byte, clusterID string) error {
	if clusterID == "" {
		return fmt.Errorf("cluster node did not say which cluster file system to use")
	}
	if err := os.MkdirAll(e.Path(corosyncDir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", corosyncDir, err)
	}
	if err := writeFileAtomic(e.Path(authKeyPath), authKey, 0o400); err != nil {
		return err
	}
	if err := writeFileAtomic(e.Path(localCorosyncConf), []byte(conf), 0o644); err != nil {
		return err
	}
	e.outf("stopping pve-cluster service\n")
	if code := e.Systemctl(ctx, []string{"stop", "pve-cluster"}); code != 0 {
		return fmt.Errorf("can't stop pve-cluster service: exit code %d", code)
	}
	if err := e.backupDatabase(); err != nil {
		e.outf("failed to create backup of pre-join config database - %v\n", err)
	}
	if err := os.RemoveAll(e.Path(localDBDir)); err != nil {
		return fmt.Errorf("remove old database: %w", err)
	}
	if err := writeFileAtomic(e.Path(clusterIDPath), []byte(clusterID+"\n"), 0o644); err != nil {
		return err
	}
	if code := e.Systemctl(ctx, []string{"start", "corosync", "pve-cluster"}); code != 0 {
		return fmt.Errorf("starting pve-cluster failed: exit code %d", code)
	}
	// No timeout, as in PVE (docs/pve.md §0.6).
	printed := false
	for !e.Quorate() {
		if !printed {
			e.outf("waiting for quorum...")
			printed = true
		}
		if !sleepCtx(ctx, time.Second) {
			return ctx.Err()
		}
	}
	if printed {
		e.outf("OK\n")
	}
	if err := e.updateCertsAndSSH(true, false); err != nil {
		return err
	}
	e.outf("generated new node certificate, restart pveproxy and pvedaemon services\n")
	e.Systemctl(ctx, []string{"reload-or-restart", "pvedaemon", "pveproxy"})
	e.outf("successfully added node '%s' to cluster.\n", node)
	return nil
}

// backupDatabase is cfs_backup_database: the stand-in's "database" is the local directory;
// its file list and contents go into a gzip file with the real name.
func (e *Env) backupDatabase() error {
	backupDir := e.Path(filepath.Join(pveLibDir, "backup"))
	if err := os.MkdirAll(backupDir, 0o755); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	name := fmt.Sprintf("config-%d.sql.gz", time.Now().Unix())
	e.outf("backup old database to '%s'\n", filepath.Join(pveLibDir, "backup", name))
	var dump bytes.Buffer
	local := e.Path(localDBDir)
	filepath.Walk(local, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(local, path)
		fmt.Fprintf(&dump, "-- %s\n%s\n", rel, data)
		return nil
	})
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	zw.Write(dump.Bytes())
	zw.Close()
	if err := os.WriteFile(filepath.Join(backupDir, name), compressed.Bytes(), 0o600); err != nil {
		return err
	}
	// Keep the 10 newest backups.
	entries, _ := filepath.Glob(filepath.Join(backupDir, "config-*.sql.gz"))
	sort.Strings(entries)
	for len(entries) > 10 {
		os.Remove(entries[0])
		entries = entries[1:]
	}
	return nil
}

// guestIDs lists every VM and CT config in the cluster file system (get_vmlist).
func (e *Env) guestIDs() []string {
	var ids []string
	for _, kind := range []string{"qemu-server", "lxc"} {
		matches, _ := filepath.Glob(filepath.Join(e.pveTree(), "nodes", "*", kind, "*.conf"))
		for _, match := range matches {
			ids = append(ids, strings.TrimSuffix(filepath.Base(match), ".conf"))
		}
	}
	sort.Strings(ids)
	return ids
}
