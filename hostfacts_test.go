package main

import "testing"

func TestParseSurvey(t *testing.T) {
	out := "pve1.lab.test\n" +
		"2: vmbr0    inet 198.51.100.11/24 brd 198.51.100.255 scope global vmbr0\\       valid_lft forever preferred_lft forever\n" +
		"3: eth1@if7    inet 203.0.113.11/24 scope global eth1\\       valid_lft forever preferred_lft forever\n" +
		"2: vmbr0    inet6 2001:db8::11/64 scope global \\       valid_lft forever preferred_lft forever\n" +
		"garbage line\n"
	name, addrs, err := parseSurvey(out)
	if err != nil || name != "pve1" {
		t.Fatalf("hostname %q, err %v", name, err)
	}
	want := []string{"vmbr0 198.51.100.11/24", "eth1 203.0.113.11/24", "vmbr0 2001:db8::11/64"}
	if len(addrs) != len(want) {
		t.Fatalf("addresses %v, want %v", addrs, want)
	}
	for i, a := range addrs {
		if got := a.Interface + " " + a.Prefix.String(); got != want[i] {
			t.Errorf("address %d = %s, want %s", i, got, want[i])
		}
	}
	if _, _, err := parseSurvey("\n"); err == nil {
		t.Error("empty output must be an error")
	}
}

func TestPickLink(t *testing.T) {
	_, addrs, _ := parseSurvey("h\n" +
		"2: eth0 inet6 2001:db8::5/64 scope global\n" +
		"3: eth1 inet 10.0.0.5/24 scope global eth1\n" +
		"4: eth2 inet 192.168.7.5/24 scope global eth2\n")
	for reached, want := range map[string]string{
		"192.168.7.5": "192.168.7.5", // the address we came in on, when the host has it
		"pve1.lan":    "10.0.0.5",    // a name: the first IPv4
		"172.16.0.9":  "10.0.0.5",    // NAT or a jump: not the host's own
	} {
		if got := pickLink(reached, addrs); got != want {
			t.Errorf("pickLink(%s) = %s, want %s", reached, got, want)
		}
	}
	_, v6only, _ := parseSurvey("h\n2: eth0 inet6 2001:db8::5/64 scope global\n")
	if got := pickLink("h", v6only); got != "2001:db8::5" {
		t.Errorf("IPv6-only host: %s", got)
	}
	if got := pickLink("h", nil); got != "" {
		t.Errorf("no addresses: %q", got)
	}
}
