package remotetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Identity is a client key pair written to disk as OpenSSH files.
type Identity struct {
	Signer  ssh.Signer
	Private ed25519.PrivateKey
	File    string // the private key file; File+".pub" holds the public key
}

// PublicKey is the identity's public key, for Options.AuthorizedKeys.
func (id Identity) PublicKey() ssh.PublicKey { return id.Signer.PublicKey() }

// NewIdentity creates an ed25519 key and writes it to dir/name (mode 0600) and dir/name.pub,
// encrypted with passphrase unless it is empty.
func NewIdentity(t testing.TB, dir, name, passphrase string) Identity {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "remotetest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "remotetest", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return Identity{Signer: signer, Private: priv, File: file}
}

// WriteKnownHosts writes a known_hosts file at path holding lines, one per line, and
// returns path.
func WriteKnownHosts(t testing.TB, path string, lines ...string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// StartAgent serves an in-process ssh-agent holding keys on a unix socket in a fresh
// temporary directory and returns the socket's path (for SSH_AUTH_SOCK or
// remote.Config.AgentSocket). It stops at the end of the test.
func StartAgent(t testing.TB, keys ...ed25519.PrivateKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k, Comment: "remotetest"}); err != nil {
			t.Fatal(err)
		}
	}
	// Unix socket paths are limited to ~108 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		os.RemoveAll(dir)
	})
	return sock
}
