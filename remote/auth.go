package remote

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials builds the auth methods for one endpoint and remembers, for the error message
// and the log, what was offered and what was used.
type credentials struct {
	mu      sync.Mutex
	offered []string // "agent (2 keys)", "/root/.ssh/id_ed25519", "password"
	notes   []string // why a credential could not be offered
	failed  []error  // the errors our own callbacks returned, which the handshake passes on
	used    string   // the last credential that signed or answered
	closers []io.Closer
	watch   *watchdog // paused while the user is asked for a password or passphrase
}

// prompt runs ask with the handshake's time budget paused.
func prompt[T any](c *credentials, ask func() (T, error)) (T, error) {
	c.watch.pause()
	defer c.watch.resume()
	return ask()
}

func (c *credentials) offer(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offered = append(c.offered, what)
}

func (c *credentials) note(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// fail records a callback's error: the handshake fails with it, and describe says it already.
func (c *credentials) fail(err error, format string, args ...any) {
	c.note(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = append(c.failed, err)
}

// causedBy tells whether err is one of our callbacks failing, which describe already explains.
func (c *credentials) causedBy(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failed {
		if errors.Is(err, f) {
			return true
		}
	}
	return false
}

func (c *credentials) markUsed(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = what
}

// describe lists the methods tried, for ErrAuth.
func (c *credentials) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := "no usable credential"
	if len(c.offered) > 0 {
		s = strings.Join(c.offered, ", ")
	}
	if len(c.notes) > 0 {
		s += "; " + strings.Join(c.notes, "; ")
	}
	return s
}

func (c *credentials) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.closers {
		cl.Close()
	}
}

// authMethods returns, in order: public keys (see signers) and, when password is set,
// password and keyboard-interactive answered with the same password.
func (c *credentials) authMethods(ep endpoint, agentSocket string, passphrase func(string) ([]byte, error),
	password func() (string, error)) []ssh.AuthMethod {
	methods := []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		return c.signers(ep, agentSocket, passphrase), nil
	})}
	if password != nil {
		ask := sync.OnceValues(func() (string, error) {
			c.offer("password")
			pw, err := prompt(c, password)
			if err != nil {
				c.fail(err, "password: %v", err)
			}
			return pw, err
		})
		answer := func() (string, error) {
			c.markUsed("password")
			return ask()
		}
		methods = append(methods,
			ssh.PasswordCallback(answer),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i, q := range questions {
					if !strings.Contains(strings.ToLower(q), "password") {
						return nil, fmt.Errorf("keyboard-interactive: unexpected prompt %q", q)
					}
					pw, err := answer()
					if err != nil {
						return nil, err
					}
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	return methods
}

// signers lists the keys to offer. The identity files come first, in their order (through
// the agent when it holds the same key, so no passphrase is needed), then the agent's other
// keys: servers stop after MaxAuthTries (6) refused keys, and the configured key must not be
// the seventh.
func (c *credentials) signers(ep endpoint, agentSocket string, passphrase func(string) ([]byte, error)) []ssh.Signer {
	agentKeys := c.agentSigners(agentSocket)
	inAgent := make(map[string]ssh.Signer, len(agentKeys))
	for _, k := range agentKeys {
		inAgent[string(k.PublicKey().Marshal())] = k
	}
	var out []ssh.Signer
	offered := map[string]bool{}
	for _, file := range ep.identityFiles {
		pub, err := identityPublicKey(file)
		if err == nil {
			if a, ok := inAgent[string(pub.Marshal())]; ok {
				if !offered[string(pub.Marshal())] {
					offered[string(pub.Marshal())] = true
					c.offer("publickey " + file + " (in the agent)")
					out = append(out, a)
				}
				continue
			}
		}
		s, err := loadIdentity(file, passphrase, c)
		if err != nil {
			c.note("%s: %v", file, err)
			continue
		}
		if k := string(s.PublicKey().Marshal()); !offered[k] {
			offered[k] = true
			c.offer("publickey " + file)
			out = append(out, s)
		}
	}
	rest := 0
	for _, a := range agentKeys {
		if k := string(a.PublicKey().Marshal()); !offered[k] {
			offered[k] = true
			out = append(out, a)
			rest++
		}
	}
	if agentSocket != "" && rest > 0 {
		c.offer(fmt.Sprintf("publickey from the agent (%d keys)", rest))
	}
	return out
}

func (c *credentials) agentSigners(socket string) []ssh.Signer {
	if socket == "" {
		return nil
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		c.note("agent %s: %v", socket, err)
		return nil
	}
	c.mu.Lock()
	c.closers = append(c.closers, conn)
	c.mu.Unlock()
	keys, err := agent.NewClient(conn).Signers()
	if err != nil {
		c.note("agent: %v", err)
	}
	if len(keys) == 0 {
		c.note("agent %s holds no keys", socket)
	}
	out := make([]ssh.Signer, 0, len(keys))
	for _, k := range keys {
		out = append(out, &usedSigner{Signer: k, label: "agent key " + Fingerprint(k.PublicKey()), creds: c})
	}
	return out
}

// identityPublicKey reads the public half of an identity without decrypting it: from
// file.pub, else from the private key file (unencrypted, or OpenSSH format).
func identityPublicKey(file string) (ssh.PublicKey, error) {
	if b, err := os.ReadFile(file + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			return pub, nil
		}
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return s.PublicKey(), nil
	}
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) && missing.PublicKey != nil {
		return missing.PublicKey, nil
	}
	return nil, err
}

// loadIdentity reads a private key file. An encrypted one whose public half is known (from
// the OpenSSH format itself or from file.pub) is decrypted only when asked to sign, so the
// user is not prompted for a key the server would refuse.
func loadIdentity(file string, passphrase func(string) ([]byte, error), c *credentials) (ssh.Signer, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return &usedSigner{Signer: s, label: file, creds: c}, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, err
	}
	if passphrase == nil {
		return nil, errors.New("encrypted and no passphrase source")
	}
	pub := missing.PublicKey
	if pub == nil {
		if b, err := os.ReadFile(file + ".pub"); err == nil {
			pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
		}
	}
	// The handshake's time budget is paused during the prompt and the decryption, which
	// bcrypt makes deliberately slow.
	decrypt := sync.OnceValues(func() (ssh.Signer, error) {
		return prompt(c, func() (ssh.Signer, error) {
			pp, err := passphrase(file)
			if err != nil {
				return nil, fmt.Errorf("passphrase: %w", err)
			}
			defer clear(pp)
			s, err := ssh.ParsePrivateKeyWithPassphrase(pem, pp)
			if err != nil {
				return nil, fmt.Errorf("decrypting: %w", err)
			}
			return s, nil
		})
	})
	if pub == nil {
		s, err := decrypt()
		if err != nil {
			return nil, err
		}
		return &usedSigner{Signer: s, label: file, creds: c}, nil
	}
	return &lazySigner{pub: pub, decrypt: decrypt, label: file, creds: c}, nil
}

// usedSigner records which credential signed, which is the one that authenticated.
type usedSigner struct {
	ssh.Signer
	label string
	creds *credentials
}

func (s *usedSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s.creds.markUsed(s.label)
	return s.Signer.Sign(rand, data)
}

func (s *usedSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s.creds.markUsed(s.label)
	if as, ok := s.Signer.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return s.Signer.Sign(rand, data)
}

func (s *usedSigner) Algorithms() []string { return signerAlgorithms(s.Signer) }

// lazySigner decrypts its key on first use.
type lazySigner struct {
	pub     ssh.PublicKey
	decrypt func() (ssh.Signer, error)
	label   string
	creds   *credentials
}

func (s *lazySigner) PublicKey() ssh.PublicKey { return s.pub }

func (s *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	return s.SignWithAlgorithm(rand, data, "")
}

func (s *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	s.creds.markUsed(s.label)
	real, err := s.decrypt()
	if err != nil {
		s.creds.fail(err, "%s: %v", s.label, err)
		return nil, err
	}
	if as, ok := real.(ssh.AlgorithmSigner); ok && algorithm != "" {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return real.Sign(rand, data)
}

func (s *lazySigner) Algorithms() []string {
	if s.pub.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{s.pub.Type()}
}

func signerAlgorithms(s ssh.Signer) []string {
	if ms, ok := s.(ssh.MultiAlgorithmSigner); ok {
		return ms.Algorithms()
	}
	if _, ok := s.(ssh.AlgorithmSigner); ok && s.PublicKey().Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{s.PublicKey().Type()}
}
