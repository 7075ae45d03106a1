// Package remote is quorate's SSH and SFTP transport. It knows nothing about Proxmox VE:
// it runs commands on hosts, moves files, verifies host keys and redacts secrets.
//
// # Connecting
//
//	c, err := remote.Dial(ctx, "198.51.100.11", remote.Config{
//		User:           "root",
//		IdentityFiles:  []string{"~/.ssh/id_ed25519"},
//		KnownHostsFile: "~/.ssh/known_hosts",
//		Password:       func() (string, error) { return os.Getenv("PVE_ROOT_PASSWORD"), nil },
//		Passphrase:     askOnTerminal, // func(file string) ([]byte, error)
//		Log:            logger,
//	})
//	defer c.Close()
//
// Dial makes the one SSH connection to a host for the whole run; keep the *Client and share
// it (it is safe for concurrent use, each command opens a session on it, at most
// Config.MaxSessions at once). The host may be an ssh config alias, a name or an address,
// optionally "user@host:port". The ssh config (Config.SSHConfigFile, default ~/.ssh/config)
// supplies HostName, User, Port, IdentityFile, ProxyJump, UserKnownHostsFile and
// IdentityAgent where Config leaves a field empty; ProxyCommand is refused.
//
// A Pool (NewPool(cfg), Pool.Get(ctx, host), Pool.Close) keeps that one Client per host for
// code that needs a host's connection in many places; concurrent Gets share one Dial.
//
// Authentication tries, in one publickey round, the identity files (through the agent when
// it holds the same key) and then the agent's other keys (Config.AgentSocket, default
// $SSH_AUTH_SOCK), so that a crowded agent does not exhaust the server's MaxAuthTries; then,
// if Config.Password is set, password and keyboard-interactive. An encrypted identity file
// is decrypted (asking Config.Passphrase) only when the server would accept its key. Password and Passphrase are
// called at most once per Dial; callers dialing many hosts should cache the answer. The
// handshake's DialTimeout does not run while they are prompting. The password is never
// offered to jump hosts.
//
// # Host keys
//
// Every key, the jump hosts' too, is checked against known_hosts; the algorithms on record
// are preferred in the negotiation, so the key presented is the one known_hosts can vouch
// for. Nothing is trusted on first use unless Config.AcceptNewHostKeys is set: then
// Config.OnNewHostKey sees each unknown key first (and may refuse it by returning an error),
// and the keys are appended to the first known_hosts file once the connection is
// authenticated. A changed key is never accepted. Fingerprint(key) gives "SHA256:...";
// Client.HostKey is the verified key. For `quorate init`:
//
//	cfg.AcceptNewHostKeys = acceptFlag
//	cfg.OnNewHostKey = func(host string, key ssh.PublicKey) error {
//		fmt.Fprintf(out, "%s: new host key %s %s\n", host, key.Type(), remote.Fingerprint(key))
//		return nil
//	}
//	c, err := remote.Dial(ctx, host, cfg)
//	var unknown *remote.HostKeyUnknownError // errors.Is(err, remote.ErrHostKeyUnknown)
//	var changed *remote.HostKeyChangedError // errors.Is(err, remote.ErrHostKeyChanged)
//	res, err := c.Run(ctx, remote.Command{Line: "hostname"})
//
// # Errors of Dial
//
// Errors match one of ErrUnreachable (TCP connect failed, timed out, or the connection
// dropped during the handshake, also through a jump host), ErrAuth (the message lists the
// methods and keys tried and why some could not be offered), ErrHostKeyUnknown
// (*HostKeyUnknownError: host, address, SHA256 fingerprint, how to accept) or
// ErrHostKeyChanged (*HostKeyChangedError: old and new fingerprints, the known_hosts file
// and line, the usual cause). Only unreachable ones are retried, Config.Retries times
// (default 2) with a backoff of 250ms, 500ms, 1s, 2s. Configuration errors (bad ssh config,
// bad host syntax) match none of them. Context cancellation is returned as such.
//
// # Commands
//
// Client.Run runs Command.Line with a POSIX sh under LC_ALL=C, whatever the login shell is.
// Output that the login shell prints before the command (a chatty .bashrc) is dropped: each
// command first prints a random marker on stdout and stderr and everything up to it is
// discarded. Stdin is written and closed (nil stdin: EOF at once). The line runs under a
// small sh supervisor in the session's process group. On the deadline of ctx or
// Command.Timeout, the supervisor gets SIGTERM, both as an SSH signal request and through a
// kill command in a second session (OpenSSH ignores signal requests in root sessions); it
// passes SIGTERM to every process of the command and SIGKILLs them a second later. Run
// returns within half a second with an error wrapping ErrTimeout (Command.Timeout) or the
// context's error, and the output so far.
// A non-zero exit is an *ExitError; Result is filled in every case. Output beyond
// Config.MaxOutput (64 MiB) per stream is discarded, and a command that otherwise succeeded
// then returns ErrOutputTooLarge. Command.Secrets are
// replaced by "***" in errors and log records (Result itself is not redacted). A connection
// that stops answering keepalives (Config.KeepAlive) is closed, failing its commands.
//
// # Files
//
// Client.Upload writes a file through SFTP on the same connection: a temporary file in the
// same directory, chmod first, then the data, size and SHA-256 read back and compared, then
// renamed into place (posix-rename where offered). Client.Download reads one.
//
// # Logging
//
// Config.Log gets a record per connection ("ssh connected": address, user, jump hosts, host
// key fingerprint, credential used, attempts, duration; "ssh connect failed" per failed
// attempt; "ssh disconnected"), per command ("remote command": cmd, exit, duration, error,
// stderr tail on failure) and per transfer ("remote upload"/"remote download": path, bytes,
// sha256, duration). Every record has a "host" attribute.
//
// Tests of packages above use remote/remotetest, an in-process SSH server.
package remote
