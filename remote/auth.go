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

// authMethods returns, in order: public keys (agent first, then identity files, decrypted
// only once the server accepts them) and, when password is set, password and
// keyboard-interactive answered with the same password.
func (c *credentials) authMethods(ep endpoint, agentSocket string, passphrase func(string) ([]byte, error),
	password func() (string, error)) []ssh.AuthMethod {
	methods := []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		return c.signers(ep, agentSocket, passphrase), nil
	})}
	if password != nil {
		ask := sync.OnceValues(func() (string, error) { return prompt(c, password) })
		answer := func() (string, error) {
			c.markUsed("password")
			pw, err := ask()
			if err != nil {
				c.note("password: %v", err)
			}
			return pw, err
		}
		c.offer("password")
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

func (c *credentials) signers(ep endpoint, agentSocket string, passphrase func(string) ([]byte, error)) []ssh.Signer {
	var out []ssh.Signer
	seen := map[string]bool{}
	if agentSocket != "" {
		conn, err := net.Dial("unix", agentSocket)
		if err != nil {
			c.note("agent %s: %v", agentSocket, err)
		} else {
			c.mu.Lock()
			c.closers = append(c.closers, conn)
			c.mu.Unlock()
			keys, err := agent.NewClient(conn).Signers()
			if err != nil {
				c.note("agent: %v", err)
			}
			c.offer(fmt.Sprintf("publickey from agent (%d keys)", len(keys)))
			for _, k := range keys {
				seen[string(k.PublicKey().Marshal())] = true
				out = append(out, &usedSigner{Signer: k, label: "agent key " + Fingerprint(k.PublicKey()), creds: c})
			}
		}
	}
	for _, file := range ep.identityFiles {
		s, err := loadIdentity(file, passphrase, c)
		if err != nil {
			c.note("%s: %v", file, err)
			continue
		}
		if seen[string(s.PublicKey().Marshal())] {
			continue
		}
		seen[string(s.PublicKey().Marshal())] = true
		c.offer("publickey " + file)
		out = append(out, s)
	}
	return out
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
		s.creds.note("%s: %v", s.label, err)
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
