package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version and commit may be set at link time (-ldflags "-X main.version=v1.0.0 -X
// main.commit=abc123"); -X can only set package-level string variables, which is why these
// two exist. Empty means "take it from the build info".
var (
	version string
	commit  string
)

type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		b.GoVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if commit != "" {
		b.Commit = commit
	}
	return b
}

func versionCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, the commit and the Go version quorate was built with",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			opts, err := globalsFrom(c)
			if err != nil {
				return err
			}
			b := currentBuild()
			if opts.json {
				return writeJSON(s.stdout, b)
			}
			modified := ""
			if b.Modified {
				modified = " (modified)"
			}
			_, err = fmt.Fprintf(s.stdout, "quorate %s\ncommit  %s%s\ngo      %s\n", b.Version, b.Commit, modified, b.GoVersion)
			return err
		},
	}
}
