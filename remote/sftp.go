package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// Upload writes data to the absolute path p on the host: to a temporary name in the same
// directory, created exclusively and given mode (permission bits plus setuid/setgid/sticky)
// before any byte is written, verified by size and SHA-256 read back, then renamed over p
// (atomically where the server offers posix-rename). On any failure p is untouched and the
// temporary file removed. Under /etc/pve, pmxcfs accepts only mode 0640 (0600 under
// /etc/pve/priv).
func (c *Client) Upload(ctx context.Context, p string, data []byte, mode uint32) error {
	start := time.Now()
	sum := sha256.Sum256(data)
	tmp := path.Join(path.Dir(p), "."+path.Base(p)+"."+newMarker()[len(markerPrefix):][:12]+".quorate-tmp")
	err := c.withSFTP(ctx, func(sc *sftp.Client) error { return upload(sc, p, tmp, data, os.FileMode(mode), sum) })
	if err != nil && ctx.Err() != nil {
		// The cancelled session could not remove its temporary file: use a fresh one.
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		c.withSFTP(cleanupCtx, func(sc *sftp.Client) error { return sc.Remove(tmp) })
		cancel()
	}
	c.log.LogAttrs(ctx, levelFor(err), "remote upload", slog.String("path", p), slog.Int("bytes", len(data)),
		slog.String("sha256", hex.EncodeToString(sum[:])), slog.Duration("duration", time.Since(start).Round(time.Millisecond)), slogErr(err))
	if err != nil {
		return &Error{Host: c.host, Op: "upload " + p, Err: err}
	}
	return nil
}

// Download reads the file p from the host.
func (c *Client) Download(ctx context.Context, p string) ([]byte, error) {
	start := time.Now()
	var data []byte
	err := c.withSFTP(ctx, func(sc *sftp.Client) error {
		f, err := sc.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			return err
		}
		data = buf.Bytes()
		return nil
	})
	c.log.LogAttrs(ctx, levelFor(err), "remote download", slog.String("path", p), slog.Int("bytes", len(data)),
		slog.Duration("duration", time.Since(start).Round(time.Millisecond)), slogErr(err))
	if err != nil {
		return nil, &Error{Host: c.host, Op: "download " + p, Err: err}
	}
	return data, nil
}

// withSFTP runs fn with an SFTP session of its own on the shared connection, closed when fn
// returns or when ctx ends (which makes fn's pending operations fail).
func (c *Client) withSFTP(ctx context.Context, fn func(*sftp.Client) error) error {
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	sc, err := sftp.NewClient(c.conn)
	if err != nil {
		return fmt.Errorf("starting sftp: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { sc.Close() })
	err = fn(sc)
	if !stop() {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	sc.Close()
	return err
}

func upload(sc *sftp.Client, p, tmp string, data []byte, mode os.FileMode, sum [32]byte) (err error) {
	if !path.IsAbs(p) {
		return errors.New("path must be absolute")
	}
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			sc.Remove(tmp)
		}
	}()
	// Mode first: a secret must never sit in a world-readable file, even briefly.
	if err := f.Chmod(mode); err != nil {
		if strings.HasPrefix(p, "/etc/pve/") {
			return fmt.Errorf("chmod %s to %#o: %w (pmxcfs takes 0640 only, 0600 under /etc/pve/priv)", tmp, mode, err)
		}
		return fmt.Errorf("chmod %s to %#o: %w", tmp, mode, err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := verify(sc, tmp, int64(len(data)), sum); err != nil {
		return err
	}
	if _, ok := sc.HasExtension("posix-rename@openssh.com"); ok {
		if err := sc.PosixRename(tmp, p); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", tmp, p, err)
		}
		return nil
	}
	// Plain SFTP rename refuses to replace: remove first (not atomic, but only on servers
	// without the OpenSSH extension).
	if err := sc.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replacing %s: %w", p, err)
	}
	if err := sc.Rename(tmp, p); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, p, err)
	}
	return nil
}

// verify reads the uploaded file back and compares its size and SHA-256 with what was sent.
func verify(sc *sftp.Client, tmp string, size int64, want [32]byte) error {
	st, err := sc.Stat(tmp)
	if err != nil {
		return fmt.Errorf("stat %s: %w", tmp, err)
	}
	if st.Size() != size {
		return fmt.Errorf("verifying %s: %d bytes on the host, %d sent", tmp, st.Size(), size)
	}
	f, err := sc.Open(tmp)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", tmp, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verifying %s: %w", tmp, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		return fmt.Errorf("verifying %s: SHA-256 on the host is %x, sent %x", tmp, got, want)
	}
	return nil
}

// levelFor is how loudly a transfer is logged: a file that does not exist is an answer (a
// backup asks for files a node may not have), not a failure worth a warning.
func levelFor(err error) slog.Level {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// slogErr is an "error" attribute, or nothing (the zero Attr, which handlers drop).
func slogErr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}
