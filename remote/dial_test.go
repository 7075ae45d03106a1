package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestDialAuthentication(t *testing.T) {
	const passphrase = "correct horse"
	tests := []struct {
		name string
		// setup adjusts the fixture's config; the fixture's own key is authorized.
		setup    func(t *testing.T, f *fixture, asked *[]string)
		password string // the server's accepted password; "" disables password auth
		wantErr  error
		wantAuth string   // substring of the "auth" field of the connection log record
		wantMsg  []string // substrings of the error
		asked    int      // passphrase prompts expected
	}{
		{
			name: "agent",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				f.cfg.AgentSocket = remotetest.StartAgent(t, f.id.Private)
				f.cfg.IdentityFiles = []string{remotetest.NewIdentity(t, f.dir, "other", "").File}
			},
			wantAuth: "agent key",
		},
		{
			name:     "identity file",
			setup:    func(*testing.T, *fixture, *[]string) {},
			wantAuth: "id_ed25519",
		},
		{
			name: "passphrase-protected identity file",
			setup: func(t *testing.T, f *fixture, asked *[]string) {
				f.cfg.IdentityFiles = []string{encryptedKey(t, f, "id_ed25519_encrypted", true)}
				f.cfg.Passphrase = answer(asked, passphrase)
			},
			wantAuth: "id_ed25519_encrypted",
			asked:    1,
		},
		{
			name: "passphrase-protected legacy PEM file, public half in .pub",
			setup: func(t *testing.T, f *fixture, asked *[]string) {
				f.cfg.IdentityFiles = []string{encryptedKey(t, f, "id_ecdsa_pem_encrypted", true)}
				f.cfg.Passphrase = answer(asked, passphrase)
			},
			wantAuth: "id_ecdsa_pem_encrypted",
			asked:    1,
		},
		{
			name: "encrypted key the server refuses is never decrypted",
			setup: func(t *testing.T, f *fixture, asked *[]string) {
				f.cfg.IdentityFiles = []string{encryptedKey(t, f, "id_ecdsa_pem_encrypted", false), f.id.File}
				f.cfg.Passphrase = answer(asked, passphrase)
			},
			wantAuth: "id_ed25519",
		},
		{
			name: "encrypted identity file held by the agent needs no passphrase",
			setup: func(t *testing.T, f *fixture, asked *[]string) {
				file := encryptedKey(t, f, "id_ed25519_encrypted", true)
				pem, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				key, err := ssh.ParseRawPrivateKeyWithPassphrase(pem, []byte(passphrase))
				if err != nil {
					t.Fatal(err)
				}
				f.cfg.AgentSocket = remotetest.StartAgent(t, *key.(*ed25519.PrivateKey))
				f.cfg.IdentityFiles = []string{file}
				f.cfg.Passphrase = answer(asked, passphrase)
			},
			wantAuth: "agent key",
		},
		{
			name: "identity file goes before a crowded agent (MaxAuthTries)",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				// OpenSSH gives up after MaxAuthTries (6) refused keys; x/crypto's server forgives
				// the first 6 refused key queries, so 12 crowd it out.
				var crowd []ed25519.PrivateKey
				for i := range 12 {
					crowd = append(crowd, remotetest.NewIdentity(t, f.dir, fmt.Sprintf("crowd%d", i), "").Private)
				}
				f.cfg.AgentSocket = remotetest.StartAgent(t, crowd...)
			},
			wantAuth: "id_ed25519",
		},
		{
			name: "wrong passphrase",
			setup: func(t *testing.T, f *fixture, asked *[]string) {
				f.cfg.IdentityFiles = []string{encryptedKey(t, f, "id_ed25519_encrypted", true)}
				f.cfg.Passphrase = answer(asked, "wrong")
			},
			wantErr: remote.ErrAuth,
			wantMsg: []string{"id_ed25519_encrypted", "decrypting"},
			asked:   1,
		},
		{
			name: "encrypted key without a passphrase source",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				f.cfg.IdentityFiles = []string{encryptedKey(t, f, "id_ed25519_encrypted", true)}
			},
			wantErr: remote.ErrAuth,
			wantMsg: []string{"id_ed25519_encrypted: encrypted and no passphrase source"},
		},
		{
			name:     "password",
			password: "s3cret-root-pw",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				f.cfg.IdentityFiles = []string{remotetest.NewIdentity(t, f.dir, "other", "").File}
				f.cfg.Password = func() (string, error) { return "s3cret-root-pw", nil }
			},
			wantAuth: "password",
		},
		{
			name:     "wrong password names every method tried",
			password: "s3cret-root-pw",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				f.cfg.IdentityFiles = []string{remotetest.NewIdentity(t, f.dir, "other", "").File}
				f.cfg.Password = func() (string, error) { return "guess", nil }
			},
			wantErr: remote.ErrAuth,
			wantMsg: []string{"root@127.0.0.1", "publickey " + "", "other", "password"},
		},
		{
			name: "no usable credential",
			setup: func(t *testing.T, f *fixture, _ *[]string) {
				f.cfg.IdentityFiles = []string{filepath.Join(f.dir, "missing")}
			},
			wantErr: remote.ErrAuth,
			wantMsg: []string{"missing: no such file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, remotetest.Options{Password: tt.password, User: "root"})
			var asked []string
			tt.setup(t, f, &asked)
			c, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
			if len(asked) != tt.asked {
				t.Errorf("passphrase asked %d times (%v), want %d", len(asked), asked, tt.asked)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Dial error = %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if n := f.srv.Connections(); n != 1 {
					t.Errorf("server saw %d connections, want 1: authentication failures are not retried", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if !strings.Contains(f.log.String(), "auth=") || !strings.Contains(logLine(f.log.String(), "ssh connected"), tt.wantAuth) {
				t.Errorf("connection log does not say auth used %q:\n%s", tt.wantAuth, f.log.String())
			}
			res, err := c.Run(context.Background(), remote.Command{Line: "echo ok"})
			if err != nil || string(res.Stdout) != "ok\n" {
				t.Errorf("Run after auth = %q, %v", res.Stdout, err)
			}
		})
	}
}

// encryptedKey is a committed test key (generated by ssh-keygen with few KDF rounds, to
// keep the race-enabled tests fast), optionally authorized on the fixture's server.
func encryptedKey(t *testing.T, f *fixture, name string, authorize bool) string {
	t.Helper()
	file, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if authorize {
		b, err := os.ReadFile(file + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			t.Fatal(err)
		}
		f.srv.Authorize(pub)
	}
	return file
}

func answer(asked *[]string, passphrase string) func(string) ([]byte, error) {
	return func(file string) ([]byte, error) {
		*asked = append(*asked, filepath.Base(file))
		return []byte(passphrase), nil
	}
}

func logLine(log, msg string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "msg=\""+msg+"\"") {
			return l
		}
	}
	return ""
}

func TestDialUnknownHostKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	other := remotetest.Start(t, remotetest.Options{})
	remotetest.WriteKnownHosts(t, f.known, "# other hosts only", other.KnownHostsLine())

	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	var unknown *remote.HostKeyUnknownError
	if !errors.As(err, &unknown) || !errors.Is(err, remote.ErrHostKeyUnknown) {
		t.Fatalf("Dial error = %v, want a *HostKeyUnknownError", err)
	}
	fp := ssh.FingerprintSHA256(f.srv.HostKey())
	for _, want := range []string{f.srv.Addr(), fp, "ssh-keyscan", f.known} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	// How to accept the key with quorate depends on the command; the command says it.
	if strings.Contains(err.Error(), "quorate") {
		t.Errorf("the transport's error gives command line advice:\n%v", err)
	}
	var re *remote.Error
	if !errors.As(err, &re) || re.Host != f.srv.Addr() || strings.HasPrefix(err.Error(), f.srv.Addr()) {
		t.Errorf("want a *remote.Error with Host %s and a text that leaves it to the caller, got %#v", f.srv.Addr(), err)
	}
	if unknown.Fingerprint != fp {
		t.Errorf("Fingerprint = %s, want %s", unknown.Fingerprint, fp)
	}
	if n := f.srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1 (an unknown key is not retried)", n)
	}
	if n := f.srv.Sessions(); n != 0 {
		t.Errorf("%d sessions opened on an unverified host", n)
	}
}

func TestDialUnknownHostKeyWithoutKnownHostsFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	f.cfg.KnownHostsFile = filepath.Join(f.dir, "absent", "known_hosts")
	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if !errors.Is(err, remote.ErrHostKeyUnknown) {
		t.Fatalf("Dial error = %v, want ErrHostKeyUnknown", err)
	}
	if _, err := os.Stat(f.cfg.KnownHostsFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("known_hosts was created without AcceptNewHostKeys (stat: %v)", err)
	}
}

func TestDialAcceptNewHostKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	f.cfg.KnownHostsFile = filepath.Join(f.dir, "new", "known_hosts")
	f.cfg.AcceptNewHostKeys = true
	var shown []string
	var mu sync.Mutex
	f.cfg.OnNewHostKey = func(host string, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		// The key must be shown before it is on record.
		if _, err := os.Stat(f.cfg.KnownHostsFile); err == nil {
			t.Errorf("known_hosts written before OnNewHostKey")
		}
		shown = append(shown, host+" "+remote.Fingerprint(key))
		return nil
	}
	c, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	want := fmt.Sprintf("[127.0.0.1]:%d %s", f.srv.Port(), ssh.FingerprintSHA256(f.srv.HostKey()))
	if len(shown) != 1 || shown[0] != want {
		t.Errorf("OnNewHostKey saw %q, want [%q]", shown, want)
	}
	if got := remote.Fingerprint(c.HostKey()); got != ssh.FingerprintSHA256(f.srv.HostKey()) {
		t.Errorf("HostKey fingerprint = %s", got)
	}
	data, err := os.ReadFile(f.cfg.KnownHostsFile)
	if err != nil || strings.TrimSpace(string(data)) != f.srv.KnownHostsLine() {
		t.Fatalf("known_hosts = %q, %v; want the line %q", data, err, f.srv.KnownHostsLine())
	}
	// Now on record: a strict dial succeeds and adds nothing.
	f.cfg.AcceptNewHostKeys = false
	c2, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if err != nil {
		t.Fatalf("second Dial: %v", err)
	}
	c2.Close()
	if again, _ := os.ReadFile(f.cfg.KnownHostsFile); string(again) != string(data) {
		t.Errorf("known_hosts changed on the second dial:\n%s", again)
	}
}

func TestDialNewHostKeyRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	remotetest.WriteKnownHosts(t, f.known, "# empty")
	f.cfg.AcceptNewHostKeys = true
	f.cfg.OnNewHostKey = func(string, ssh.PublicKey) error { return errors.New("user said no") }
	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if !errors.Is(err, remote.ErrHostKeyUnknown) || !strings.Contains(err.Error(), "user said no") {
		t.Fatalf("Dial error = %v, want ErrHostKeyUnknown naming the refusal", err)
	}
	if data, _ := os.ReadFile(f.known); strings.TrimSpace(string(data)) != "# empty" {
		t.Errorf("refused key was recorded:\n%s", data)
	}
}

func TestDialChangedHostKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	old := remotetest.NewSigner(t)
	other := remotetest.Start(t, remotetest.Options{})
	oldLine := strings.Replace(f.srv.KnownHostsLine(), strings.SplitN(f.srv.KnownHostsLine(), " ", 2)[1],
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(old.PublicKey()))), 1)
	remotetest.WriteKnownHosts(t, f.known, "# lab hosts", other.KnownHostsLine(), oldLine)
	f.cfg.AcceptNewHostKeys = true // must not matter for a changed key

	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	var changed *remote.HostKeyChangedError
	if !errors.As(err, &changed) || !errors.Is(err, remote.ErrHostKeyChanged) {
		t.Fatalf("Dial error = %v, want a *HostKeyChangedError", err)
	}
	oldFP, newFP := ssh.FingerprintSHA256(old.PublicKey()), ssh.FingerprintSHA256(f.srv.HostKey())
	if changed.OldFingerprint != oldFP || changed.NewFingerprint != newFP || changed.Line != 3 || changed.KnownHostsFile != f.known {
		t.Errorf("got %+v, want old %s new %s at %s:3", changed, oldFP, newFP, f.known)
	}
	for _, want := range []string{oldFP, newFP, f.known + ":3", "remove line 3", "reinstalled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	data, _ := os.ReadFile(f.known)
	if strings.Count(string(data), "\n") != 3 {
		t.Errorf("known_hosts was modified:\n%s", data)
	}
}

func TestDialUnreachableIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	f.cfg.Retries = 2
	start := time.Now()
	_, err = remote.Dial(context.Background(), closedAddr, f.cfg)
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("Dial error = %v, want ErrUnreachable", err)
	}
	if n := strings.Count(f.log.String(), `msg="ssh connect failed"`); n != 3 {
		t.Errorf("%d attempts logged, want 3 (1 + Retries 2)\n%s", n, f.log.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Dial took %v: backoff not bounded", d)
	}
}

func TestDialHungServerTimesOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{StallHandshake: true})
	f.cfg.DialTimeout = 300 * time.Millisecond
	f.cfg.Retries = 1
	start := time.Now()
	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("Dial error = %v, want ErrUnreachable", err)
	}
	if n := f.srv.Connections(); n != 2 {
		t.Errorf("server saw %d connections, want 2 (one retry)", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial took %v with a 300ms timeout and one retry", d)
	}
}

func TestDialHonoursContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{StallHandshake: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := remote.Dial(ctx, f.srv.Addr(), f.cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Dial returned %v after a 200ms context deadline", d)
	}
}

// A host offers one key per type; whichever single one known_hosts records is the one
// negotiated, whatever the client's default preference, rather than a key that would look
// unknown or changed.
func TestDialNegotiatesTheKeyTypeOnRecord(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := ssh.NewSignerFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, remotetest.Options{ExtraHostKeys: []ssh.Signer{ecSigner}})
	for _, recorded := range []ssh.PublicKey{f.srv.HostKey(), ecSigner.PublicKey()} {
		t.Run(recorded.Type(), func(t *testing.T) {
			remotetest.WriteKnownHosts(t, filepath.Join(f.dir, "known_hosts_"+recorded.Type()),
				knownhosts.Line([]string{knownhosts.Normalize(f.srv.Addr())}, recorded))
			cfg := f.cfg
			cfg.KnownHostsFile = filepath.Join(f.dir, "known_hosts_"+recorded.Type())
			c, err := remote.Dial(context.Background(), f.srv.Addr(), cfg)
			if err != nil {
				t.Fatalf("Dial with only the %s key on record: %v", recorded.Type(), err)
			}
			defer c.Close()
			if got := remote.Fingerprint(c.HostKey()); got != ssh.FingerprintSHA256(recorded) {
				t.Errorf("negotiated %s %s, want the recorded %s %s", c.HostKey().Type(), got, recorded.Type(), ssh.FingerprintSHA256(recorded))
			}
		})
	}
}

// Hosts dialled at once through one new jump host all see its key: it is recorded once.
func TestConcurrentDialsRecordANewKeyOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	f.cfg.KnownHostsFile = filepath.Join(f.dir, "known_hosts_new")
	f.cfg.AcceptNewHostKeys = true
	// Both Dials hold the key as new before either records it: the race, made certain.
	arrived := make(chan struct{}, 2)
	f.cfg.OnNewHostKey = func(string, ssh.PublicKey) error {
		arrived <- struct{}{}
		deadline := time.After(5 * time.Second)
		for len(arrived) < 2 {
			select {
			case <-deadline:
				return errors.New("the other Dial never saw the key")
			case <-time.After(5 * time.Millisecond):
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(f.cfg.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != f.srv.KnownHostsLine() {
		t.Errorf("known_hosts = %q, want the one line %q", got, f.srv.KnownHostsLine())
	}
}
