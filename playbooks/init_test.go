package playbooks

import (
	"net/netip"
	"testing"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

func TestPickLink(t *testing.T) {
	addrs := globalAddresses([]pve.Interface{
		{Name: "lo", Addrs: []pve.IfAddr{{Prefix: netip.MustParsePrefix("127.0.0.1/8")}}},
		{Name: "eth0", Addrs: []pve.IfAddr{{Prefix: netip.MustParsePrefix("2001:db8::5/64")}, {Prefix: netip.MustParsePrefix("fe80::1/64")}}},
		{Name: "eth1", Addrs: []pve.IfAddr{{Prefix: netip.MustParsePrefix("10.0.0.5/24")}}},
		{Name: "eth2", Addrs: []pve.IfAddr{{Prefix: netip.MustParsePrefix("192.168.7.5/24")}}},
	})
	if len(addrs) != 3 {
		t.Fatalf("global addresses %v: loopback and link-local must be left out", addrs)
	}
	for reached, want := range map[string]string{
		"192.168.7.5": "192.168.7.5", // the address we came in on, when the host has it
		"pve1.lan":    "10.0.0.5",    // a name: the first IPv4
		"172.16.0.9":  "10.0.0.5",    // NAT or a jump: not the host's own
	} {
		if got := pickLink(reached, addrs); got != want {
			t.Errorf("pickLink(%s) = %s, want %s", reached, got, want)
		}
	}
	v6only := []inventory.SeenAddress{{Interface: "eth0", Prefix: netip.MustParsePrefix("2001:db8::5/64")}}
	if got := pickLink("h", v6only); got != "2001:db8::5" {
		t.Errorf("IPv6-only host: %s", got)
	}
	if got := pickLink("h", nil); got != "" {
		t.Errorf("no addresses: %q", got)
	}
}
