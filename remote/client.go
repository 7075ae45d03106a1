package remote

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config says how to reach and authenticate to hosts. The zero value of each field means
// "use the default"; values from ~/.ssh/config apply where the caller left a field empty.
type Config struct {
	User           string   // default: ssh config's User, else "root"
	Port           int      // default: ssh config's Port, else 22
	IdentityFiles  []string // tried after the agent; default: ssh config's IdentityFile entries
	KnownHostsFile string   // default: ssh config's UserKnownHostsFile, else ~/.ssh/known_hosts
	Jump           string   // ProxyJump: "user@host:port[,user@host:port...]"; default: ssh config's
	SSHConfigFile  string   // default ~/.ssh/config; "none" disables it
	UseAgent       bool     // use SSH_AUTH_SOCK when set

	// Password, when set, offers password authentication (first contact with a fresh host).
	Password func() (string, error)
	// Passphrase is asked for an encrypted identity file.
	Passphrase func(file string) ([]byte, error)

	// AcceptNewHostKeys records an unknown host's key in KnownHostsFile after OnNewHostKey saw
	// it. A changed key is never accepted.
	AcceptNewHostKeys bool
	OnNewHostKey      func(host string, key ssh.PublicKey)

	DialTimeout time.Duration // per attempt; default 10s
	Retries     int           // extra attempts for transient failures; default 2

	// Log receives one record per remote command (host, command redacted, duration, exit
	// code) and per connection. nil discards.
	Log *slog.Logger
}

// Client is one SSH connection to one host, shared by every command of a run.
type Client struct {
	host string
	conn *ssh.Client
	cfg  Config
	key  ssh.PublicKey
}

// Dial connects to host (an ssh config alias, a name or an address) and verifies its key.
func Dial(ctx context.Context, host string, cfg Config) (*Client, error) {
	return nil, errors.New("remote.Dial: not implemented")
}

// Host implements Runner.
func (c *Client) Host() string { return c.host }

// HostKey is the key the host presented, already verified.
func (c *Client) HostKey() ssh.PublicKey { return c.key }

// Run implements Runner.
func (c *Client) Run(ctx context.Context, cmd Command) (Result, error) {
	return Result{}, errors.New("remote.Run: not implemented")
}

// Upload writes data to path on the host: to a temporary name, verified by size and SHA-256,
// given mode, then renamed into place.
func (c *Client) Upload(ctx context.Context, path string, data []byte, mode uint32) error {
	return errors.New("remote.Upload: not implemented")
}

// Download reads path from the host.
func (c *Client) Download(ctx context.Context, path string) ([]byte, error) {
	return nil, errors.New("remote.Download: not implemented")
}

// Close ends the connection.
func (c *Client) Close() error { return nil }

// HostKeyChangedError carries what a user needs to act on a changed host key.
type HostKeyChangedError struct {
	Host           string
	OldFingerprint string // SHA256:...
	NewFingerprint string
	KnownHostsFile string
	Line           int // line in KnownHostsFile holding the old key
}

func (e *HostKeyChangedError) Error() string        { return "" }
func (e *HostKeyChangedError) Is(target error) bool { return target == ErrHostKeyChanged }
