package hostspec

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		wantErr string
	}{
		{in: "pve1", want: Spec{Host: "pve1"}},
		{in: "root@pve1", want: Spec{User: "root", Host: "pve1"}},
		{in: "root@198.51.100.11:2222", want: Spec{User: "root", Host: "198.51.100.11", Port: 2222}},
		{in: "2001:db8::1", want: Spec{Host: "2001:db8::1"}},
		// Accepted by the transport and, since they share this parser, by init too.
		{in: "[2001:db8::1]", want: Spec{Host: "2001:db8::1"}},
		{in: "admin@[2001:db8::1]:22", want: Spec{User: "admin", Host: "2001:db8::1", Port: 22}},
		{in: "a@b@pve1", want: Spec{User: "a@b", Host: "pve1"}},
		// Refused everywhere: init used to accept it, the transport refused it.
		{in: "fe80::1%eth0", wantErr: "zones"},
		{in: "[fe80::1%eth0]:22", wantErr: "zones"},
		{in: "@pve1", wantErr: "empty user"},
		{in: "pve1:0", wantErr: "not a TCP port"},
		{in: "pve1:65536", wantErr: "not a TCP port"},
		{in: "pve1:ssh", wantErr: "not a TCP port"},
		{in: "pve1:", wantErr: "not a TCP port"},
		{in: "[pve1]:22", wantErr: "brackets hold an IPv6 address"},
		{in: "[2001:db8::1", wantErr: "no ]"},
		{in: "[2001:db8::1]x", wantErr: "want [address]:port"},
		{in: "2001:db8::zz", wantErr: "not an IPv6 address"},
		{in: "", wantErr: "not a host"},
		{in: "pve 1", wantErr: "not a host"},
		{in: "a/b", wantErr: "not a host"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q.String() = %q) = %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"root@pve1:22", "[2001:db8::1]:22", "fe80::1%eth0", "a@[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(sp.String())
		if err != nil || back != sp {
			t.Fatalf("Parse(%q) = %+v, but its String %q reads as %+v, %v", s, sp, sp.String(), back, err)
		}
	})
}
