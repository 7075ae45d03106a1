package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/quorate/quorate/lab/pvesim"
)

// prepareBinaries fills the lab's bin dir (pvesim and its names, bind-mounted at
// /usr/local/sbin in every host) and libexec dir (pvelab: init and delay relay).
func prepareBinaries(ctx context.Context, lab string, o Options) error {
	bin := filepath.Join(labDir(lab), "bin")
	libexec := filepath.Dir(helperPath(lab))
	for _, d := range []string{bin, libexec, filepath.Join(labDir(lab), "shared")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var pkgs []string
	if o.PvesimBinary == "" {
		pkgs = append(pkgs, pvesimPkg)
	}
	if o.HelperBinary == "" {
		pkgs = append(pkgs, pvelabPkg)
	}
	if len(pkgs) > 0 {
		root, err := moduleRoot(ctx)
		if err != nil {
			return fmt.Errorf("lab %s: build %s: %w (or set Options.PvesimBinary/HelperBinary)", lab, strings.Join(pkgs, " "), err)
		}
		args := append([]string{"build", "-C", root, "-o", libexec + "/"}, pkgs...)
		if _, err := run(ctx, nil, "go", args...); err != nil {
			return fmt.Errorf("lab %s: %w", lab, err)
		}
	}
	if o.PvesimBinary != "" {
		if err := copyFile(o.PvesimBinary, filepath.Join(bin, "pvesim")); err != nil {
			return fmt.Errorf("lab %s: pvesim: %w", lab, err)
		}
	} else if err := os.Rename(filepath.Join(libexec, "pvesim"), filepath.Join(bin, "pvesim")); err != nil {
		return err
	}
	if o.HelperBinary != "" {
		if err := copyFile(o.HelperBinary, helperPath(lab)); err != nil {
			return fmt.Errorf("lab %s: helper: %w", lab, err)
		}
	}
	for _, n := range pvesim.CommandNames() {
		if err := os.Symlink("pvesim", filepath.Join(bin, n)); err != nil {
			return fmt.Errorf("lab %s: link %s: %w", lab, n, err)
		}
	}
	return nil
}

// moduleRoot is the directory of the go.mod the caller works in (tests run in lab/).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := run(ctx, nil, "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
