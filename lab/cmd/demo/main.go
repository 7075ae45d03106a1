// Command demo builds a 3-node Proxmox VE cluster of simulated hosts with quorate, showing
// every step: it brings up the test lab (namespaces with a real sshd and a real corosync per
// host, and the PVE stand-in), then runs quorate inside the lab's controller exactly as an
// admin would run it against real hosts: validate, preflight, plan, up, status. quorate does not know it
// is talking to the lab; the lab's cluster.yaml is the embedded default it is given.
//
// Run it as root from the checkout: go run ./lab/cmd/demo (or make demo, which installs the
// Debian packages the lab needs first). --keep leaves the lab running for a look around.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/quorate/quorate/lab"
)

func main() {
	keep := flag.Bool("keep", false, "leave the lab running afterwards (end it with: go run ./lab/cmd/pvelab --name demo down)")
	hosts := flag.Int("hosts", 3, "number of simulated PVE hosts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *hosts, *keep); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, hosts int, keep bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab needs root (network and mount namespaces)")
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, ".lab")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	bin := filepath.Join(dir, "quorate")
	say("building quorate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	say("bringing up the lab: %d simulated PVE hosts (own network, mount and UTS namespaces; real sshd; corosync once clustered)", hosts)
	start := time.Now()
	l, err := lab.Up(ctx, lab.Options{Name: "demo", Hosts: hosts, Links: 1, Dir: dir})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	say("lab up in %s", time.Since(start).Round(100*time.Millisecond))
	if !keep {
		defer func() {
			downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			say("ending the lab")
			if err := l.Down(downCtx); err != nil {
				fmt.Fprintf(os.Stderr, "demo: lab down: %v\n", err)
			}
		}()
	}
	password, err := l.Password()
	if err != nil {
		return err
	}
	cluster := l.ClusterFile()
	data, err := os.ReadFile(cluster)
	if err != nil {
		return err
	}
	say("the cluster file (%s):\n%s", cluster, data)
	env := []string{"PVE_ROOT_PASSWORD=" + password, "XDG_STATE_HOME=" + filepath.Join(dir, "state")}
	steps := [][]string{
		{"validate"},
		{"preflight"},
		{"plan"},
		{"up", "--yes"},
		{"status"},
	}
	for _, args := range steps {
		argv := append([]string{bin, "-c", cluster}, args...)
		say("$ quorate -c %s %s", cluster, strings.Join(args, " "))
		code, err := l.Run(ctx, "ctl", lab.Stdio{Stdout: os.Stdout, Stderr: os.Stderr, Env: env, Dir: root}, argv...)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("quorate %s exited %d", args[0], code)
		}
	}
	say("done in %s: a quorate cluster of %d nodes, every step verified from every member", time.Since(start).Round(100*time.Millisecond), hosts)
	if keep {
		say("the lab stays up: go run ./lab/cmd/pvelab --name demo exec pve1 -- pvecm status; end it with go run ./lab/cmd/pvelab --name demo down")
	}
	return nil
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "\n==> "+format+"\n", args...)
}

// moduleRoot is the checkout: the nearest directory above the working directory with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run the demo from the quorate checkout (no go.mod above %s)", dir)
		}
		dir = parent
	}
}
