package main

import "testing"

func TestParseHostArg(t *testing.T) {
	for arg, want := range map[string]hostArg{
		"pve1":                   {host: "pve1"},
		"root@198.51.100.11":     {user: "root", host: "198.51.100.11"},
		"198.51.100.11:2222":     {host: "198.51.100.11", port: 2222},
		"admin@[2001:db8::1]:22": {user: "admin", host: "2001:db8::1", port: 22},
		"2001:db8::1":            {host: "2001:db8::1"},
	} {
		got, err := parseHostArg(arg)
		want.raw = arg
		if err != nil || got != want {
			t.Errorf("parseHostArg(%q) = %+v, %v; want %+v", arg, got, err, want)
		}
	}
	for _, bad := range []string{"@h", "h:0", "h:x", "a:b:c:", "", "h/x"} {
		if _, err := parseHostArg(bad); err == nil {
			t.Errorf("parseHostArg(%q) accepted", bad)
		}
	}
}
