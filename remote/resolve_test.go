package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"
)

func TestSplitHostSpec(t *testing.T) {
	tests := []struct {
		in             string
		user, host     string
		port           int
		wantErrContain string
	}{
		{in: "pve1", host: "pve1"},
		{in: "198.51.100.11", host: "198.51.100.11"},
		{in: "root@198.51.100.11:2222", user: "root", host: "198.51.100.11", port: 2222},
		{in: "2001:db8::1", host: "2001:db8::1"},
		{in: "[2001:db8::1]:22", host: "2001:db8::1", port: 22},
		{in: "admin@[2001:db8::1]", host: "2001:db8::1", user: "admin"},
		{in: "[2001:db8::1", wantErrContain: "no ]"},
		{in: "pve1:0", wantErrContain: "not a TCP port"},
		{in: "pve1:99999", wantErrContain: "not a TCP port"},
		{in: "@pve1", wantErrContain: "empty user"},
		{in: "", wantErrContain: "not a host"},
		{in: "pve 1", wantErrContain: "not a host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			user, host, port, err := splitHostSpec(tt.in)
			if tt.wantErrContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrContain) {
					t.Errorf("splitHostSpec(%q) error = %v, want one containing %q", tt.in, err, tt.wantErrContain)
				}
				return
			}
			if err != nil || user != tt.user || host != tt.host || port != tt.port {
				t.Errorf("splitHostSpec(%q) = %q %q %d %v, want %q %q %d", tt.in, user, host, port, err, tt.user, tt.host, tt.port)
			}
		})
	}
}

func TestResolveWithSSHConfig(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	content := fmt.Sprintf(`Host pve?
    HostName %%h.lab.example
    User admin
    Port 2200
    IdentityFile %[1]s/id_%%n
    UserKnownHostsFile %[1]s/kh1 %[1]s/kh2
    ProxyJump jumper@bastion:2022,inner
    IdentityAgent none
    ConnectTimeout 4
    ServerAliveInterval 0

Host inner
    HostName 203.0.113.7

Host legacy
    ProxyCommand nc %%h %%p
`, dir)
	if err := os.WriteFile(cfgFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Config{SSHConfigFile: cfgFile, IdentityFiles: []string{"/keys/quorate"}}

	r, err := resolve("pve1", base)
	if err != nil {
		t.Fatal(err)
	}
	want := endpoint{name: "pve1", hostname: "pve1.lab.example", port: 2200, user: "admin",
		identityFiles: []string{"/keys/quorate", dir + "/id_pve1"}}
	if !reflect.DeepEqual(r.target, want) {
		t.Errorf("target = %+v\nwant     %+v", r.target, want)
	}
	if len(r.jumps) != 2 || r.jumps[0].addr() != "bastion:2022" || r.jumps[0].user != "jumper" || r.jumps[1].addr() != "203.0.113.7:22" {
		t.Errorf("jumps = %+v", r.jumps)
	}
	if !reflect.DeepEqual(r.knownHosts, []string{dir + "/kh1", dir + "/kh2"}) {
		t.Errorf("knownHosts = %v", r.knownHosts)
	}
	if r.agentSocket != "" {
		t.Errorf("IdentityAgent none gave agent socket %q", r.agentSocket)
	}
	if got := r.withDefaults(Config{}); got.DialTimeout != 4*time.Second || got.KeepAlive >= 0 {
		t.Errorf("ConnectTimeout 4, ServerAliveInterval 0 gave DialTimeout %v KeepAlive %v", got.DialTimeout, got.KeepAlive)
	}
	if got := r.withDefaults(Config{DialTimeout: time.Second, KeepAlive: time.Minute}); got.DialTimeout != time.Second || got.KeepAlive != time.Minute {
		t.Errorf("Config's values lost to the ssh config: %+v", got)
	}

	// What the caller says wins over the ssh config; "user@host:port" wins over both.
	explicit := base
	explicit.User, explicit.Port, explicit.Jump, explicit.KnownHostsFile = "root", 22, "none", "/kh"
	r, err = resolve("pve2", explicit)
	if err != nil {
		t.Fatal(err)
	}
	if r.target.user != "root" || r.target.port != 22 || len(r.jumps) != 0 || !reflect.DeepEqual(r.knownHosts, []string{"/kh"}) {
		t.Errorf("explicit config ignored: %+v", r)
	}
	r, err = resolve("ops@pve3:2201", explicit)
	if err != nil || r.target.user != "ops" || r.target.port != 2201 {
		t.Errorf("user@host:port = %+v, %v", r, err)
	}

	if _, err := resolve("pve1", Config{SSHConfigFile: "none", Port: 70000, KnownHostsFile: "/kh"}); err == nil {
		t.Error("Config.Port 70000 accepted")
	}
	if _, err := resolve("legacy", base); err == nil || !strings.Contains(err.Error(), "ProxyCommand") {
		t.Errorf("ProxyCommand: %v, want a clear refusal", err)
	}
	if _, err := resolve("pve1", Config{SSHConfigFile: "none", Jump: "a,,b", KnownHostsFile: "/kh"}); err == nil {
		t.Error("empty ProxyJump hop accepted")
	}
}

// The host given to Dial comes from the user: no input may panic, and whatever is accepted
// is a usable endpoint. (The ssh config parser is kevinburke/ssh_config's; it is not fuzzed
// here: on a syntax error it leaks its lexer goroutine, which stalls long fuzz runs.)
func FuzzResolveEndpoint(f *testing.F) {
	configs := []string{
		"",
		"Host *\n  Port 2200\n",
		"Host pve?\n  HostName %h.lab\n  User admin\n  IdentityFile ~/%d/%r@%h:%p%%\n",
		"Host *.lab !bad.lab\n  HostName 198.51.100.1\n  Port 65535\nHost *\n  User %u\n",
	}
	var decoded []*ssh_config.Config
	for _, c := range configs {
		cfg, err := ssh_config.DecodeBytes([]byte(c))
		if err != nil {
			f.Fatal(err)
		}
		decoded = append(decoded, cfg)
	}
	f.Add("root@[2001:db8::1]:2222", uint8(0))
	f.Add("pve1", uint8(2))
	f.Add("a:b:c", uint8(1))
	f.Add("@x.lab:22", uint8(3))
	f.Fuzz(func(t *testing.T, spec string, which uint8) {
		sc := &sshConfig{cfg: decoded[int(which)%len(decoded)], home: "/home/u"}
		ep, err := resolveEndpoint(sc, spec, "", "root", 0, "/home/u")
		if err != nil {
			return
		}
		if ep.name == "" || ep.hostname == "" || ep.user == "" || ep.port <= 0 || ep.port > 65535 {
			t.Fatalf("resolveEndpoint(%q) accepted an unusable endpoint %+v", spec, ep)
		}
	})
}
