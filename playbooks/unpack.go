package playbooks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// unpackUnder writes the entries of the gzipped tar data whose names start with prefix into
// dir, prefix removed: regular files and directories only, never outside dir. It returns how
// many entries it wrote.
func unpackUnder(data []byte, prefix, dir string) (int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	tr := tar.NewReader(zr)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		name := path.Clean(h.Name)
		if h.Typeflag == tar.TypeDir {
			name += "/"
		}
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		rel = strings.TrimSuffix(rel, "/")
		if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return n, fmt.Errorf("%q leaves the directory", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return n, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return n, err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return n, err
			}
			_, err = io.Copy(f, io.LimitReader(tr, 64<<20))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return n, err
			}
		default:
			continue // links and devices are not the user's data
		}
		n++
	}
}
