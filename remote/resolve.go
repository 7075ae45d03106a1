package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/quorate/quorate/internal/hostspec"
)

// endpoint is one SSH server on the way to a host: the target or a jump hop.
type endpoint struct {
	name          string // as the user wrote it (an alias, a name or an address)
	hostname      string // what is connected to, after the ssh config's HostName
	port          int
	user          string
	identityFiles []string
}

// addr is host:port, also the name the key is looked up under in known_hosts.
func (e endpoint) addr() string { return net.JoinHostPort(e.hostname, strconv.Itoa(e.port)) }

// route is everything Dial needs to reach a host, resolved before any network use.
type route struct {
	target      endpoint
	jumps       []endpoint
	knownHosts  []string // read all; the first is written
	agentSocket string   // "" when no agent
	// From the ssh config's ConnectTimeout and ServerAliveInterval; zero when unset, and
	// keepAlive negative for "ServerAliveInterval 0".
	connectTimeout, keepAlive time.Duration
}

// withDefaults fills what cfg leaves to the ssh config.
func (r *route) withDefaults(cfg Config) Config {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = r.connectTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = r.keepAlive
	}
	return cfg
}

// sshConfig answers ssh config lookups; a nil *sshConfig answers nothing.
type sshConfig struct {
	cfg  *ssh_config.Config
	home string
}

func loadSSHConfig(file, home string) (*sshConfig, error) {
	explicit := file != ""
	if file == "none" {
		return &sshConfig{home: home}, nil
	}
	if !explicit {
		if home == "" {
			return &sshConfig{}, nil
		}
		file = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(expandTilde(file, home))
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &sshConfig{home: home}, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", file, err)
	}
	return &sshConfig{cfg: cfg, home: home}, nil
}

func (s *sshConfig) get(alias, key string) string {
	if s == nil || s.cfg == nil {
		return ""
	}
	v, err := s.cfg.Get(alias, key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

func (s *sshConfig) getAll(alias, key string) []string {
	if s == nil || s.cfg == nil {
		return nil
	}
	v, err := s.cfg.GetAll(alias, key)
	if err != nil {
		return nil
	}
	return v
}

// resolve turns the host given to Dial into a route, applying cfg and the ssh config.
func resolve(host string, cfg Config) (*route, error) {
	home, _ := os.UserHomeDir()
	sc, err := loadSSHConfig(cfg.SSHConfigFile, home)
	if err != nil {
		return nil, err
	}
	target, err := resolveEndpoint(sc, host, cfg.User, defaultUser, cfg.Port, home)
	if err != nil {
		return nil, err
	}
	target.identityFiles = identityFiles(cfg, target, home)
	r := &route{target: target}
	alias := target.name
	if pc := sc.get(alias, "ProxyCommand"); pc != "" && !strings.EqualFold(pc, "none") {
		return nil, errors.New("ssh config sets ProxyCommand, which quorate does not support; use ProxyJump")
	}
	if r.jumps, err = resolveJumps(sc, firstNonEmpty(cfg.Jump, sc.get(alias, "ProxyJump")), cfg, home); err != nil {
		return nil, fmt.Errorf("ProxyJump: %w", err)
	}
	if r.knownHosts = knownHostsFiles(sc, cfg, target, home); len(r.knownHosts) == 0 {
		return nil, errors.New("no known_hosts file: set one (no home directory)")
	}
	r.agentSocket = agentSocket(sc, cfg, target, home)
	if r.connectTimeout, err = seconds(sc, alias, "ConnectTimeout"); err != nil {
		return nil, err
	}
	if r.keepAlive, err = seconds(sc, alias, "ServerAliveInterval"); err != nil {
		return nil, err
	}
	if sc.get(alias, "ServerAliveInterval") == "0" {
		r.keepAlive = -1 // disabled, as in OpenSSH
	}
	return r, nil
}

// resolveJumps resolves a ProxyJump list; each hop gets the ssh config of its own alias.
func resolveJumps(sc *sshConfig, jump string, cfg Config, home string) ([]endpoint, error) {
	if jump == "" || strings.EqualFold(jump, "none") {
		return nil, nil
	}
	// OpenSSH logs in to a hop as the local user unless told otherwise.
	localUser := defaultUser
	if u, err := user.Current(); err == nil {
		localUser = u.Username
	}
	var hops []endpoint
	for _, hop := range strings.Split(jump, ",") {
		hop = strings.TrimSpace(hop)
		if hop == "" {
			return nil, fmt.Errorf("empty hop in %q", jump)
		}
		ep, err := resolveEndpoint(sc, hop, "", localUser, 0, home)
		if err != nil {
			return nil, err
		}
		ep.identityFiles = identityFiles(cfg, ep, home)
		hops = append(hops, ep)
	}
	return hops, nil
}

func knownHostsFiles(sc *sshConfig, cfg Config, target endpoint, home string) []string {
	switch {
	case cfg.KnownHostsFile != "":
		return []string{expandTilde(cfg.KnownHostsFile, home)}
	case sc.get(target.name, "UserKnownHostsFile") != "":
		var files []string
		for _, f := range strings.Fields(sc.get(target.name, "UserKnownHostsFile")) {
			files = append(files, expandTokens(f, target, home))
		}
		return files
	case home != "":
		return []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	return nil
}

// agentSocket is Config's, else the ssh config's IdentityAgent, else $SSH_AUTH_SOCK; "" for
// no agent.
func agentSocket(sc *sshConfig, cfg Config, target endpoint, home string) string {
	socket := cfg.AgentSocket
	if socket == "" {
		switch ia := sc.get(target.name, "IdentityAgent"); {
		case ia == "" || ia == "SSH_AUTH_SOCK":
			socket = os.Getenv("SSH_AUTH_SOCK")
		case strings.HasPrefix(ia, "$"):
			socket = os.Getenv(ia[1:])
		default:
			socket = expandTokens(ia, target, home)
		}
	}
	if socket == "none" {
		return ""
	}
	return socket
}

// seconds reads an ssh config option counted in seconds; zero when unset.
func seconds(sc *sshConfig, alias, key string) (time.Duration, error) {
	v := sc.get(alias, key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("ssh config: bad %s %q", key, v)
	}
	return time.Duration(n) * time.Second, nil
}

// resolveEndpoint applies "[user@]host[:port]", the caller's defaults and the ssh config.
func resolveEndpoint(sc *sshConfig, spec, defUser, lastUser string, defPort int, home string) (endpoint, error) {
	specUser, alias, specPort, err := splitHostSpec(spec)
	if err != nil {
		return endpoint{}, err
	}
	ep := endpoint{name: alias, hostname: alias}
	if hn := sc.get(alias, "HostName"); hn != "" {
		ep.hostname = strings.ReplaceAll(hn, "%h", alias)
	}
	ep.user = firstNonEmpty(specUser, defUser, sc.get(alias, "User"), lastUser)
	switch {
	case specPort != 0:
		ep.port = specPort
	case defPort < 0 || defPort > 65535:
		return endpoint{}, fmt.Errorf("%s: bad port %d", alias, defPort)
	case defPort != 0:
		ep.port = defPort
	default:
		ep.port = defaultPort
		if p := sc.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return endpoint{}, fmt.Errorf("%s: ssh config: bad Port %q", alias, p)
			}
			ep.port = n
		}
	}
	for _, f := range sc.getAll(alias, "IdentityFile") {
		if !strings.EqualFold(f, "none") {
			ep.identityFiles = append(ep.identityFiles, expandTokens(f, ep, home))
		}
	}
	return ep, nil
}

// splitHostSpec splits "[user@]host[:port]" with the project's one reader of that form.
func splitHostSpec(spec string) (usr, host string, port int, err error) {
	sp, err := hostspec.Parse(spec)
	if err != nil {
		return "", "", 0, err
	}
	return sp.User, sp.Host, sp.Port, nil
}

// expandTokens expands the ssh_config tokens quorate can know: %h %p %r %u %d %n %%, and ~.
func expandTokens(s string, ep endpoint, home string) string {
	s = expandTilde(s, home)
	if !strings.Contains(s, "%") {
		return s
	}
	localUser := ""
	if u, err := user.Current(); err == nil {
		localUser = u.Username
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'h':
			b.WriteString(ep.hostname)
		case 'n':
			b.WriteString(ep.name)
		case 'p':
			b.WriteString(strconv.Itoa(ep.port))
		case 'r':
			b.WriteString(ep.user)
		case 'u':
			b.WriteString(localUser)
		case 'd':
			b.WriteString(home)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func expandTilde(s, home string) string {
	if home != "" && (s == "~" || strings.HasPrefix(s, "~/")) {
		return filepath.Join(home, s[1:])
	}
	return s
}

func expandAll(files []string, home string) []string {
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, expandTilde(f, home))
	}
	return out
}

// identityFiles are Config's files, then the ssh config's for ep; when there are none, the
// usual default files that exist.
func identityFiles(cfg Config, ep endpoint, home string) []string {
	files := dedupe(append(expandAll(cfg.IdentityFiles, home), ep.identityFiles...))
	if len(files) == 0 {
		files = defaultIdentityFiles(home)
	}
	return files
}

func defaultIdentityFiles(home string) []string {
	if home == "" {
		return nil
	}
	var out []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		f := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
