package pvesim

import (
	"context"
	"path/filepath"
)

// CommandNames are the names the multi-call binary answers to; the lab links each of them
// to the binary on every host's PATH.
func CommandNames() []string {
	return []string{"pvecm", "pvesh", "pveversion", "pvenode", "qm", "pct", "systemctl", "pmxcfs", "pveproxy", "pve-firewall"}
}

// Main dispatches on the name the binary was called by (argv[0]); `pvesim <name> args...`
// works too, as do `pvesim boot` and `pvesim fault ...`.
func Main(argv []string) int {
	env := NewProcessEnv()
	return env.Run(context.Background(), argv)
}

// Run dispatches one command line in this environment.
func (e *Env) Run(ctx context.Context, argv []string) int {
	if len(argv) == 0 {
		e.errf("pvesim: no command\n")
		return 2
	}
	name, args := filepath.Base(argv[0]), argv[1:]
	if name == "pvesim" {
		if len(args) == 0 {
			e.errf("usage: pvesim boot | fault KIND [ARGS] | <command> [ARGS]\n  commands: %v\n", CommandNames())
			return 2
		}
		name, args = args[0], args[1:]
	}
	switch name {
	case "pvecm":
		return e.Pvecm(ctx, args)
	case "pvesh":
		return e.Pvesh(ctx, args)
	case "pveversion":
		return e.Pveversion(args)
	case "pvenode":
		return e.Pvenode(args)
	case "qm":
		return e.GuestList("qemu-server", args)
	case "pct":
		return e.GuestList("lxc", args)
	case "systemctl":
		return e.Systemctl(ctx, args)
	case "pmxcfs":
		return e.runPmxcfs(ctx, args)
	case "pveproxy":
		return e.runPveproxy(ctx, args)
	case "boot":
		return e.Boot(ctx)
	case "fault":
		return e.Fault(ctx, args)
	case "pve-firewall":
		return e.PveFirewall(args)
	}
	e.errf("pvesim: unknown command %q\n", name)
	return 2
}
