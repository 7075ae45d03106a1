package remote

import (
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config says how to reach and authenticate to hosts. The zero value of each field means
// "use the default"; values from the ssh config file apply where the caller left a field
// empty. One Config may be shared by many concurrent Dials: nothing in it is modified.
type Config struct {
	// User to log in as. Precedence: "user@" in the host given to Dial, then User, then the
	// ssh config's User, then "root".
	User string
	// Port to connect to. Precedence: ":port" in the host given to Dial, then Port, then the
	// ssh config's Port, then 22.
	Port int
	// IdentityFiles are private keys, offered first (through the agent when it holds the
	// same key), followed by the ssh config's IdentityFile entries for the host, then the
	// agent's other keys. When neither names any file, the existing ones of
	// ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa and ~/.ssh/id_rsa are used.
	IdentityFiles []string
	// KnownHostsFile holds the host keys. Default: the ssh config's UserKnownHostsFile (all
	// of them are read, the first one is written), else ~/.ssh/known_hosts.
	KnownHostsFile string
	// Jump is a ProxyJump list, "[user@]host[:port][,[user@]host[:port]...]", connected in
	// order. Default: the ssh config's ProxyJump; "none" disables. Every hop is resolved
	// through the ssh config too and its key verified against the same known_hosts.
	Jump string
	// SSHConfigFile is read for host aliases, HostName, User, Port, IdentityFile,
	// ProxyJump, UserKnownHostsFile, IdentityAgent, ConnectTimeout and ServerAliveInterval.
	// Default ~/.ssh/config (absent is fine); "none" disables it. StrictHostKeyChecking is
	// ignored: keys are always checked (see AcceptNewHostKeys).
	SSHConfigFile string
	// AgentSocket is the ssh-agent socket. Default: the ssh config's IdentityAgent, else
	// $SSH_AUTH_SOCK; "none" disables the agent.
	AgentSocket string

	// Password, when set, offers password (and keyboard-interactive) authentication to the
	// target host, for first contact with a fresh host. It is asked at most once per Dial
	// and never offered to jump hosts.
	Password func() (string, error)
	// Passphrase is asked for an encrypted identity file, only when the server would accept
	// that key. Without it, encrypted files are skipped.
	Passphrase func(file string) ([]byte, error)

	// AcceptNewHostKeys records an unknown host's key in the known_hosts file, after
	// OnNewHostKey saw it and did not object, once the connection is authenticated. A
	// changed key is never accepted.
	AcceptNewHostKeys bool
	// OnNewHostKey is shown every unknown host key, jump hosts' too, before it is accepted;
	// host is what the key is recorded under ("198.51.100.11", or "[198.51.100.11]:2222"
	// for another port than 22). Returning an error refuses the key.
	OnNewHostKey func(host string, key ssh.PublicKey) error

	// DialTimeout bounds each attempt, TCP connect plus SSH handshake (not the time the
	// user takes to answer a prompt). Default: the ssh config's ConnectTimeout, else 10s.
	DialTimeout time.Duration
	Retries     int // extra attempts for transient failures; default 2, negative: none
	// MaxSessions bounds the sessions open at once on one connection (OpenSSH's MaxSessions
	// defaults to 10); further commands wait. Default 8.
	MaxSessions int
	// MaxOutput bounds what is kept of a command's stdout and of its stderr; the rest is
	// discarded (see ErrOutputTooLarge). Default 64 MiB.
	MaxOutput int
	// KeepAlive is the interval of keepalive requests that detect a dead connection during
	// a long run: a request unanswered for one interval closes the connection. Default: the
	// ssh config's ServerAliveInterval (0 there disables), else 30s; negative disables.
	KeepAlive time.Duration

	// Log receives one record per remote command (host, command redacted, duration, exit
	// code), per upload and download, and per connection. nil discards.
	Log *slog.Logger
}

const (
	defaultDialTimeout = 10 * time.Second
	defaultRetries     = 2
	defaultMaxSessions = 8
	defaultKeepAlive   = 30 * time.Second
	defaultMaxOutput   = 64 << 20
	defaultUser        = "root"
	defaultPort        = 22
)

func (c Config) dialTimeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return defaultDialTimeout
}

func (c Config) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return defaultRetries
	case c.Retries > 10: // a typo must not turn into minutes of hammering a host
		return 10
	}
	return c.Retries
}

func (c Config) maxSessions() int {
	if c.MaxSessions > 0 {
		return c.MaxSessions
	}
	return defaultMaxSessions
}

func (c Config) maxOutput() int {
	if c.MaxOutput > 0 {
		return c.MaxOutput
	}
	return defaultMaxOutput
}

func (c Config) keepAlive() time.Duration {
	if c.KeepAlive == 0 {
		return defaultKeepAlive
	}
	return c.KeepAlive
}

func (c Config) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}
