package lab

import "fmt"

// Options describe the lab Up builds.
type Options struct {
	// Name is the lab's short name ([a-z0-9]{1,8}); tests use their own. Default "demo".
	Name string
	// Hosts is the number of simulated PVE hosts, 1..15. Default 3.
	Hosts int
	// Links is the number of corosync links, 1 or 2. Default 1.
	Links int
	// QNetd adds the host "qnetd" at 198.51.100.50 for a corosync-qnetd.
	QNetd bool
	// Dir, when set, receives cluster.yaml, the controller's key, known_hosts and env
	// (pvelab uses <checkout>/.lab). It must be visible in the controller: the machine's
	// /tmp and the checkout are; /root, /run, /etc and /var are not.
	Dir string
	// PvesimBinary is copied into the lab instead of building ./lab/pvesim/cmd/pvesim.
	PvesimBinary string
	// HelperBinary is a pvelab binary (it carries the hosts' init and the delay relay);
	// empty means build ./lab/cmd/pvelab. The pvelab command passes itself.
	HelperBinary string
	// Detached labs outlive the process that made them (pvelab up). Other labs record
	// their owner, and the next Up removes them once that process has died.
	Detached bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = defaultName
	}
	if o.Hosts == 0 {
		o.Hosts = 3
	}
	if o.Links == 0 {
		o.Links = 1
	}
	if !labNameRE.MatchString(o.Name) {
		return o, fmt.Errorf("lab name %q: want 1 to 8 of [a-z0-9]", o.Name)
	}
	if o.Hosts < 1 || o.Hosts > maxHosts {
		return o, fmt.Errorf("lab %s: %d hosts: want 1 to %d", o.Name, o.Hosts, maxHosts)
	}
	if o.Links != 1 && o.Links != 2 {
		return o, fmt.Errorf("lab %s: %d links: want 1 or 2", o.Name, o.Links)
	}
	return o, nil
}
