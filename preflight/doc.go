// Package preflight finds, before anything changes, every reason a cluster build would fail
// or a cluster would be unstable: Run gathers each node's facts (pve.Node.Facts, one round
// trip), probes the corosync mesh and the TCP ports between the nodes, samples the clocks,
// then runs the named checks of Checks() over what it found.
//
// Everything runs on all nodes at once. The probes are a short-lived perl agent per node
// (probe.pl, sent on stdin: nothing is installed), which binds the node's link addresses on
// UDP 5405+link, probes every peer, echoes what peers send, and connects to their TCP 22 and
// 8006. It ends when its peers are done, at its deadline (Options.ProbeTimeout), by alarm a
// few seconds later even if quorate is gone, or when the run's context ends (remote kills the
// command's process group). Where corosync holds the port (a member of a running cluster), a
// raw socket sees the datagrams that passed the INPUT firewall, so each direction is still
// decided, and the finding says so.
//
// A failed path is blamed on one end (see blame.go), so that one host's fault shows on that
// host alone. An unreachable node is one ssh-access finding; the others are still checked.
//
// The checks, in report order (E: error, W: warning):
//
//	ssh-access          E  logged in as root; a node that cannot be reached (why, and what to do)
//	pve-installed       E  pveversion: PVE 7 or later (the version is reported); /etc/pve mounted
//	hostname-resolves   E  the node name resolves (getaddrinfo order) to a non-loopback address of its own; fix: the /etc/hosts line
//	node-name           E  the cluster file's name is the host's node name (uname -n)
//	link-addresses      E  every link address is configured on one of the node's interfaces
//	cluster-membership  E  in no cluster; or a quorate member of this one; not of another cluster, not half-joined, not reinstalled while listed (fix: quorate rebuild NODE); a member not quorate is E when nodes must join
//	guests              E  no VMs or containers on a node that must join (allowed on the node that creates the cluster)
//	time-sync           W  the clock is synchronised by chrony, systemd-timesyncd, ntpd or PTP
//	link-interface      W  the interface of each link through bridge, bond (mode) and VLAN to its NICs: Wi-Fi, half duplex, down; MTU and speed reported
//	dhcp-address        W  no link address configured by DHCP or SLAAC
//	firewall            W  the PVE firewall's state; local nft/iptables rules dropping UDP 5405-5412, TCP 8006 or 22, when the probes through that port fail
//	unique-identity     E/W node names and addresses (E), SSH host keys and machine-id (W) differ between nodes
//	versions            E/W the same PVE major.minor everywhere: another major E, another minor W
//	corosync-udp        E  every ordered pair, every link: UDP arrives (loss above 20%: W; not decidable: W)
//	api-port            E/W TCP 8006 (22 with join: ssh) from each joiner to the node it joins through (E); TCP 22 between all nodes (W)
//	latency             W/E round trip per pair and link (the shortest probe's): above 5 ms W, above 10 ms with more than 3 nodes E; median and jitter reported
//	mtu                 W  the MTU of each link's interfaces agrees across nodes
//	clock-offset        W/E each clock against the others' (NTP-style samples from this machine): above 100 ms W, above 1 s E
//	node-count          W  one node; two without a QDevice; an even count without one
//	ip-family           E  the addresses of one link are all IPv4 or all IPv6
//
// --ignore-check NAME (Options.Ignore) turns that check's errors into warnings, still shown.
package preflight
