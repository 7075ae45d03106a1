package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/report"
)

func reportCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write a Markdown document and an SVG diagram of the running cluster; changes nothing",
		Description: "Reads every member as doctor does and writes, for the admin's own records, the cluster's\n" +
			"name and config version, every node (nodeid, votes, role, SSH and link addresses, link\n" +
			"interfaces with speed, PVE version), the quorum arithmetic, knet's latency per link, the\n" +
			"storages of /etc/pve/storage.cfg (shared or local: what live migration and HA can use), HA\n" +
			"resources and the migration network; with it an SVG diagram drawn by quorate itself.\n" +
			"--redact replaces every address and host name with a placeholder from the documentation\n" +
			"ranges, the same one for the same value throughout, so that the report can be posted.",
		Flags: append(clusterFlags(),
			&cli.BoolFlag{Name: "redact", Usage: "replace addresses and host names with stable placeholders (for posting publicly)"},
			&cli.StringFlag{Name: "out", Usage: `the Markdown file (default "CLUSTER.md"; "-" writes it to stdout)`, TakesFile: true},
			&cli.StringFlag{Name: "svg", Usage: `the diagram (default: the Markdown file's name with .svg; "" with --out - : none)`, TakesFile: true},
		),
		Action: func(c *cli.Context) error {
			return withCluster(c, s, func(ctx context.Context, sess *playbooks.Session, opts globalOptions, req playbooks.ClusterRequest) error {
				doc, err := sess.Report(ctx, req)
				if err != nil {
					return err
				}
				var scrub func(string) string
				if c.Bool("redact") {
					var r *report.Redactor
					doc, r = doc.Redact()
					scrub = r.Text
				}
				return writeReport(s, opts, doc, c.String("out"), c.String("svg"), c.IsSet("svg"), scrub)
			})
		},
	}
}

// writeReport writes the Markdown and the diagram (each to a temporary name, then renamed),
// and says where; with --output json the document's data goes to stdout too.
func writeReport(s streams, opts globalOptions, doc *report.Cluster, out, svg string, svgSet bool, scrub func(string) string) error {
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	if out == "" {
		out = doc.Name + ".md"
	}
	if !svgSet && out != "-" {
		svg = strings.TrimSuffix(out, filepath.Ext(out)) + ".svg"
	}
	link := ""
	if svg != "" {
		link = filepath.Base(svg)
		if out != "-" {
			if rel, err := filepath.Rel(filepath.Dir(out), svg); err == nil {
				link = filepath.ToSlash(rel)
			}
		}
	}
	md := scrub(doc.Markdown(link))
	if svg != "" {
		if err := writeFileAtomic(svg, scrub(doc.SVG())); err != nil {
			return err
		}
	}
	if out == "-" {
		if _, err := fmt.Fprint(s.stdout, md); err != nil {
			return err
		}
	} else if err := writeFileAtomic(out, md); err != nil {
		return err
	}
	if opts.json {
		return writeJSON(s.stdout, doc)
	}
	if out != "-" {
		wrote := out
		if svg != "" {
			wrote += " and " + svg
		}
		fmt.Fprintf(s.stdout, "wrote %s (cluster %s, %d nodes)\n", wrote, doc.Name, len(doc.Nodes))
	}
	return nil
}

func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
