package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/inventory"
)

func validateCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check the cluster file offline and print every problem in it",
		Description: "Reads the file given with -c (default ./cluster.yaml), expands ${VAR} from the\n" +
			"environment and prints each problem as file:line: message. Nothing is contacted.\n" +
			"Exits 0 when the file is usable and 2 when it has problems.",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			opts, err := globalsFrom(c)
			if err != nil {
				return err
			}
			inv, problems, err := loadInventory(opts.configPath)
			if err != nil {
				return err
			}
			if opts.json {
				if err := writeJSON(s.stdout, validateReport{File: inv.File, Valid: len(problems) == 0, Problems: nonNil(problems)}); err != nil {
					return err
				}
			} else {
				for _, p := range problems {
					fmt.Fprintln(s.stdout, p.String())
				}
			}
			if len(problems) > 0 {
				return withExitCode(exitUsage, fmt.Errorf("%s: %s", inv.File, plural(len(problems), "problem")))
			}
			if !opts.json {
				fmt.Fprintf(s.stdout, "%s: %s with %s is valid\n", inv.File, inv.Cluster.Name, plural(len(inv.Nodes), "node"))
			}
			return nil
		},
	}
}

type validateReport struct {
	File     string             `json:"file"`
	Valid    bool               `json:"valid"`
	Problems inventory.Problems `json:"problems"`
}

// loadInventory reads and checks the cluster file. A missing or unreadable file is a bad
// cluster file too (exit 2), with a hint for the usual cause.
func loadInventory(path string) (*inventory.Inventory, inventory.Problems, error) {
	inv, err := inventory.Load(path, os.LookupEnv)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, withExitCode(exitUsage, fmt.Errorf("%w (give another file with -c FILE, or write one with quorate init HOST...)", err))
	}
	if err != nil {
		return nil, nil, withExitCode(exitUsage, err)
	}
	return inv, inv.Validate(), nil
}

func nonNil(p inventory.Problems) inventory.Problems {
	if p == nil {
		return inventory.Problems{}
	}
	return p
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
