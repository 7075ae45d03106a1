package pve

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/quorate/quorate/remote"
)

// Version is a pve-manager (or other Debian package) version. Both shapes PVE has used are
// read: "9.1.1" (PVE 8 and later) and "7.3-3" (PVE 7 and earlier), where the Debian revision
// after '-' plays the part of the patch number.
type Version struct {
	Major, Minor, Patch int
	Raw                 string
}

// ParseVersion reads "9.1.1", "9.1", "7.3-3" or "19.2.3-pve2"; anything after the third number
// is kept only in Raw.
func ParseVersion(s string) (Version, error) {
	raw := strings.TrimSpace(s)
	v := Version{Raw: raw}
	nums := make([]int, 0, 3)
	rest := raw
	for len(nums) < 3 && rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			break
		}
		n, _ := strconv.Atoi(rest[:i])
		nums = append(nums, n)
		rest = rest[i:]
		if rest == "" || (rest[0] != '.' && rest[0] != '-') {
			break
		}
		rest = rest[1:]
	}
	if len(nums) < 2 {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR[.PATCH] or MAJOR.MINOR-REV", clip(raw, 80))
	}
	v.Major, v.Minor = nums[0], nums[1]
	if len(nums) == 3 {
		v.Patch = nums[2]
	}
	return v, nil
}

// Compare returns -1, 0 or 1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	for _, d := range [...]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

func (v Version) String() string {
	if v.Raw != "" {
		return v.Raw
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// ManagerVersion is what plain `pveversion` prints:
// pve-manager/<version>/<repoid> (running kernel: <uname -r>).
type ManagerVersion struct {
	Version Version
	RepoID  string
	Kernel  string // empty when the line has no "(running kernel: ...)"
}

// ParseManagerVersion reads the output of plain `pveversion`.
func ParseManagerVersion(out string) (ManagerVersion, error) {
	var line string
	for _, l := range splitLines(out) {
		if strings.HasPrefix(strings.TrimSpace(l), "pve-manager/") {
			line = strings.TrimSpace(l)
			break
		}
	}
	if line == "" {
		first := ""
		if ls := splitLines(out); len(ls) > 0 {
			first = ls[0]
		}
		return ManagerVersion{}, &ParseError{Format: "pveversion", LineNo: 1, Line: first, Reason: "no line starting with pve-manager/"}
	}
	var mv ManagerVersion
	head := line
	if i := strings.Index(line, " (running kernel: "); i >= 0 {
		head = line[:i]
		mv.Kernel = strings.TrimSuffix(line[i+len(" (running kernel: "):], ")")
	}
	parts := strings.Split(head, "/")
	if len(parts) != 3 {
		return ManagerVersion{}, &ParseError{Format: "pveversion", LineNo: 1, Line: line, Reason: "want pve-manager/VERSION/REPOID"}
	}
	v, err := ParseVersion(parts[1])
	if err != nil {
		return ManagerVersion{}, &ParseError{Format: "pveversion", LineNo: 1, Line: line, Reason: err.Error()}
	}
	mv.Version, mv.RepoID = v, parts[2]
	return mv, nil
}

// PackageVersions is `pveversion -v`: the manager line plus every package listed, in order.
type PackageVersions struct {
	Manager  ManagerVersion
	Packages []Package
}

// Package is one `<name>: <version>` line of `pveversion -v`. Version may be one of PVE's
// special values, "residual config" or "not correctly installed".
type Package struct {
	Name    string
	Version string
	Note    string // the parenthesised remark, e.g. "running kernel: 6.17.2-1-pve"
}

// Lookup returns the version of the named package, if listed.
func (p PackageVersions) Lookup(name string) (string, bool) {
	for _, pkg := range p.Packages {
		if pkg.Name == name {
			return pkg.Version, true
		}
	}
	return "", false
}

// ParsePackageVersions reads the output of `pveversion -v`.
func ParsePackageVersions(out string) (PackageVersions, error) {
	var pv PackageVersions
	haveManager := false
	for i, l := range splitLines(out) {
		line := strings.TrimSpace(l)
		if line == "" {
			continue
		}
		name, rest, ok := strings.Cut(line, ": ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return PackageVersions{}, &ParseError{Format: "pveversion -v", LineNo: i + 1, Line: l, Reason: "want NAME: VERSION"}
		}
		pkg := Package{Name: name, Version: rest}
		if j := strings.Index(rest, " ("); j >= 0 && strings.HasSuffix(rest, ")") {
			pkg.Version, pkg.Note = rest[:j], rest[j+2:len(rest)-1]
		}
		pv.Packages = append(pv.Packages, pkg)
		if name == "pve-manager" {
			// "(running version: 9.1.1/42db4a6cf33dac83)" is the version actually running.
			verRepo := strings.TrimPrefix(pkg.Note, "running version: ")
			ver, repo, _ := strings.Cut(verRepo, "/")
			if verRepo == pkg.Note {
				ver = pkg.Version
			}
			v, err := ParseVersion(ver)
			if err != nil {
				return PackageVersions{}, &ParseError{Format: "pveversion -v", LineNo: i + 1, Line: l, Reason: err.Error()}
			}
			pv.Manager.Version, pv.Manager.RepoID, haveManager = v, repo, true
		}
		if name == "proxmox-ve" {
			pv.Manager.Kernel = strings.TrimPrefix(pkg.Note, "running kernel: ")
		}
	}
	if !haveManager {
		return PackageVersions{}, &ParseError{Format: "pveversion -v", Reason: "no pve-manager line"}
	}
	return pv, nil
}

// Version asks the node for `pveversion -v`.
func (n *Node) Version(ctx context.Context) (PackageVersions, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pveversion -v"}, n.timeouts.Query)
	if err != nil {
		return PackageVersions{}, n.wrap("pveversion", err)
	}
	if res.ExitCode != 0 {
		return PackageVersions{}, n.wrap("pveversion", fmt.Errorf("exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 3), " / ")))
	}
	pv, err := ParsePackageVersions(string(res.Stdout))
	return pv, n.wrap("pveversion", err)
}
