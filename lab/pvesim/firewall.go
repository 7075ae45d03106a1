package pvesim

// PveFirewall is `pve-firewall status` of a fresh node: the firewall is off by default.
func (e *Env) PveFirewall(args []string) int {
	if len(args) == 0 || args[0] != "status" {
		e.errf("pvesim: only 'pve-firewall status' is implemented\n")
		return exitDie
	}
	e.outf("Status: disabled/running\n")
	return 0
}
