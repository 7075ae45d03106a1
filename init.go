package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

const surveyTimeout = 30 * time.Second

func initCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "look at hosts over SSH and write a starter cluster file",
		ArgsUsage: "HOST...",
		Description: "Connects to every HOST ([user@]host[:port] or an ssh config alias) in parallel, reads its\n" +
			"hostname and addresses, shows its host key's SHA256 fingerprint and writes a starter\n" +
			"cluster file to -c (never over an existing one without --force).\n" +
			"An unknown host key is refused unless --accept-new-host-keys is given; then it is shown\n" +
			"and recorded in known_hosts. The password for a freshly installed host comes from\n" +
			"--password-env or, on a terminal, a prompt. An encrypted identity file's passphrase comes\n" +
			"from a prompt or $QUORATE_SSH_PASSPHRASE.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Value: "pve-cluster", Usage: "cluster name to write"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing cluster file"},
			&cli.BoolFlag{Name: "accept-new-host-keys", Usage: "record unknown host keys in known_hosts after showing them"},
			&cli.StringFlag{Name: "password-env", Usage: "environment variable holding the SSH password for first contact"},
			&cli.StringFlag{Name: "user", Usage: "SSH user (default: ssh config, else root)"},
			&cli.IntFlag{Name: "port", Usage: "SSH port (default: ssh config, else 22)"},
			&cli.StringSliceFlag{Name: "identity-file", Aliases: []string{"i"}, Usage: "private key to try (repeatable)", TakesFile: true},
			&cli.StringFlag{Name: "known-hosts", Usage: "known_hosts file (default: ssh config, else ~/.ssh/known_hosts)", TakesFile: true},
			&cli.StringFlag{Name: "jump", Usage: "ProxyJump hosts, user@host:port[,more]"},
			&cli.StringFlag{Name: "ssh-config", Usage: `ssh config file (default ~/.ssh/config; "none" ignores it)`, TakesFile: true},
		},
		Action: func(c *cli.Context) error {
			opts, err := globalsFrom(c)
			if err != nil {
				return err
			}
			req, err := initRequestFrom(c)
			if err != nil {
				return err
			}
			return runInit(c.Context, s, opts, req)
		},
	}
}

// initRequest is everything init was asked to do, checked before anything is contacted.
type initRequest struct {
	hosts       []hostArg
	clusterName string
	force       bool
	acceptNew   bool
	password    string // from --password-env; "" means ask on a terminal, if there is one
	ssh         inventory.SSH
	identities  []string
	sshConfig   string
}

func initRequestFrom(c *cli.Context) (initRequest, error) {
	req := initRequest{
		clusterName: c.String("name"),
		force:       c.Bool("force"),
		acceptNew:   c.Bool("accept-new-host-keys"),
		ssh: inventory.SSH{
			User: c.String("user"), Port: c.Int("port"), KnownHosts: c.String("known-hosts"), Jump: c.String("jump"),
		},
		identities: c.StringSlice("identity-file"),
		sshConfig:  c.String("ssh-config"),
	}
	if len(req.identities) > 0 {
		req.ssh.IdentityFile = req.identities[0]
	}
	// The cluster file is read later from wherever the user is then: a relative path in it
	// would point elsewhere, so what was relative to this directory is written absolute.
	req.ssh.IdentityFile, req.ssh.KnownHosts = absoluteUnlessHome(req.ssh.IdentityFile), absoluteUnlessHome(req.ssh.KnownHosts)
	if !c.Args().Present() {
		return req, usageErrorf("init needs at least one HOST")
	}
	if problem := pve.ClusterNameProblem(req.clusterName); problem != "" {
		return req, usageErrorf("--name: %s", problem)
	}
	seen := map[string]bool{}
	for _, a := range c.Args().Slice() {
		h, err := parseHostArg(a)
		if err != nil {
			return req, usageErrorf("%v", err)
		}
		if seen[strings.ToLower(h.host)] {
			return req, usageErrorf("host %s given twice", h.host)
		}
		seen[strings.ToLower(h.host)] = true
		req.hosts = append(req.hosts, h)
	}
	// cluster.yaml has one ssh user and port for all nodes; per-host ones belong in ~/.ssh/config.
	for _, h := range req.hosts[1:] {
		if h.user != req.hosts[0].user || h.port != req.hosts[0].port {
			return req, usageErrorf("%s and %s differ in user or port; the cluster file has one ssh.user and ssh.port, so put per-host ones in ~/.ssh/config (Host alias, User, Port) and pass the aliases", req.hosts[0].raw, h.raw)
		}
	}
	if u := req.hosts[0].user; u != "" {
		req.ssh.User = u
	}
	if p := req.hosts[0].port; p != 0 {
		req.ssh.Port = p
	}
	if name := c.String("password-env"); name != "" {
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return req, usageErrorf("--password-env %s: the variable is not set or empty", name)
		}
		req.password = v
	}
	return req, nil
}

// surveyResult is what init learnt about one host.
type surveyResult struct {
	Host        string        `json:"host"`
	Hostname    string        `json:"hostname,omitempty"`
	Addresses   []hostAddress `json:"addresses,omitempty"`
	KeyType     string        `json:"key_type,omitempty"`
	Fingerprint string        `json:"fingerprint,omitempty"`
	NewKey      bool          `json:"new_key_recorded,omitempty"`
	Error       string        `json:"error,omitempty"`
	err         error
}

type initReport struct {
	Hosts    []surveyResult     `json:"hosts"`
	File     string             `json:"file"`
	Written  bool               `json:"written"`
	Problems inventory.Problems `json:"problems"`
}

func runInit(ctx context.Context, s streams, opts globalOptions, req initRequest) error {
	// Refuse early, before a single host is contacted; the write below checks again.
	if _, err := os.Lstat(opts.configPath); err == nil && !req.force {
		return fmt.Errorf("%s exists; quorate init never overwrites a cluster file: pass --force, or write another with -c FILE", opts.configPath)
	}
	log, err := openRunLog(opts, s.stderr, time.Now())
	if err != nil {
		return err
	}
	defer log.Close()
	if err := runInitLogged(ctx, s, opts, req, log); err != nil {
		return &logPathError{err: err, path: log.path}
	}
	return nil
}

func runInitLogged(ctx context.Context, s streams, opts globalOptions, req initRequest, log *runLog) error {
	ctx, cancel := opts.runContext(ctx)
	defer cancel()
	log.secrets.add(req.password)
	ask := &prompter{in: s.stdin, out: s.stderr, ctx: ctx}
	defer ask.restore() // a question still open when the run is cut short must not leave echo off
	cfg := remoteConfig(ask, req, log)
	var shownMu sync.Mutex
	shown := map[string]bool{} // a jump host shared by several hosts is shown once
	results := surveyAll(ctx, req.hosts, cfg, func(host string, key ssh.PublicKey) {
		shownMu.Lock()
		defer shownMu.Unlock()
		if id := host + " " + remote.Fingerprint(key); !shown[id] {
			shown[id] = true
			fmt.Fprintf(s.stderr, "%s: new host key %s %s; recording it in known_hosts once logged in\n",
				host, key.Type(), remote.Fingerprint(key))
		}
	})
	report := initReport{Hosts: results, File: opts.configPath, Problems: inventory.Problems{}}
	if err := ctx.Err(); err != nil {
		// Say which hosts answered and which were still pending when the run was cut short.
		printInitReport(s, opts, report)
		return context.Cause(ctx)
	}
	var failed []error
	for _, r := range results {
		if r.err != nil {
			failed = append(failed, r.err)
		}
	}
	if len(failed) == 0 {
		data, err := starterFrom(req, results).render()
		if err != nil {
			return err
		}
		if err := writeClusterFile(opts.configPath, data, req.force); err != nil {
			if errors.Is(err, errFileExists) {
				return fmt.Errorf("%s appeared while init ran; not overwritten (pass --force to replace it)", opts.configPath)
			}
			return fmt.Errorf("write cluster file: %w", err)
		}
		report.Written = true
		report.Problems = nonNil(inventory.Parse(opts.configPath, data, os.LookupEnv).Validate())
	}
	if err := printInitReport(s, opts, report); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &hostsFailedError{failed: failed, total: len(results), file: opts.configPath}
	}
	return nil
}

// hostsFailedError sums up the hosts that failed, whose own errors were already printed one
// by one; errors.Is and errors.As still reach each of them.
type hostsFailedError struct {
	failed []error
	total  int
	file   string
}

func (e *hostsFailedError) Error() string {
	return fmt.Sprintf("%d of %d hosts failed (see above); %s not written", len(e.failed), e.total, e.file)
}

func (e *hostsFailedError) Unwrap() []error { return e.failed }

// remoteConfig turns init's flags into the transport's configuration. Passwords and
// passphrases are asked lazily, only if a host wants them, and only on a terminal.
func remoteConfig(ask *prompter, req initRequest, log *runLog) remote.Config {
	cfg := remote.Config{
		User:              req.ssh.User,
		Port:              req.ssh.Port,
		IdentityFiles:     req.identities,
		KnownHostsFile:    req.ssh.KnownHosts,
		Jump:              req.ssh.Jump,
		SSHConfigFile:     req.sshConfig,
		AcceptNewHostKeys: req.acceptNew,
		Log:               log.logger,
	}
	if req.password != "" {
		cfg.Password = func() (string, error) { return req.password, nil }
	} else if _, ok := ask.terminal(); ok {
		shared := &sharedSecret{
			ask:    func() (string, error) { return ask.secret("SSH password (for hosts without a key): ") },
			onRead: log.secrets.add,
		}
		cfg.Password = shared.get
	}
	cfg.Passphrase = func(file string) ([]byte, error) {
		if v, ok := os.LookupEnv("QUORATE_SSH_PASSPHRASE"); ok {
			log.secrets.add(v)
			return []byte(v), nil
		}
		v, err := ask.secret(fmt.Sprintf("Passphrase for %s: ", file))
		if errors.Is(err, errNoTerminal) {
			err = fmt.Errorf("%w: set QUORATE_SSH_PASSPHRASE, or load the key into ssh-agent (ssh-add %s)", err, file)
		}
		log.secrets.add(v)
		return []byte(v), err
	}
	return cfg
}

// surveyAll connects to every host at once and reads its hostname and addresses.
func surveyAll(ctx context.Context, hosts []hostArg, cfg remote.Config, onNewKey func(string, ssh.PublicKey)) []surveyResult {
	results := make([]surveyResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = survey(ctx, h.raw, cfg, onNewKey)
		}()
	}
	wg.Wait()
	return results
}

func survey(ctx context.Context, host string, cfg remote.Config, onNewKey func(string, ssh.PublicKey)) surveyResult {
	r := surveyResult{Host: host}
	fail := func(err error) surveyResult {
		r.err, r.Error = err, err.Error()
		var unknown *remote.HostKeyUnknownError
		if errors.As(err, &unknown) {
			r.KeyType, r.Fingerprint = unknown.KeyType, unknown.Fingerprint
		}
		return r
	}
	var sawNew atomic.Bool
	cfg.OnNewHostKey = func(name string, key ssh.PublicKey) error {
		sawNew.Store(true) // a jump host's key counts too: something new was recorded for this run
		onNewKey(name, key)
		return nil
	}
	client, err := remote.Dial(ctx, host, cfg)
	if err != nil {
		if errors.Is(err, remote.ErrAuth) && cfg.Password == nil {
			err = fmt.Errorf("%w; if the host has none of your keys yet (a fresh install), give its root password with --password-env NAME, or run init on a terminal to be asked", err)
		}
		return fail(err)
	}
	defer client.Close()
	r.KeyType, r.Fingerprint, r.NewKey = client.HostKey().Type(), remote.Fingerprint(client.HostKey()), sawNew.Load()
	res, err := client.Run(ctx, remote.Command{Line: surveyCommand, Timeout: surveyTimeout})
	if err != nil {
		return fail(fmt.Errorf("%s: read hostname and addresses: %w", host, err))
	}
	r.Hostname, r.Addresses, err = parseSurvey(string(res.Stdout))
	if err != nil {
		return fail(fmt.Errorf("%s: read hostname and addresses: %w", host, err))
	}
	return r
}

func starterFrom(req initRequest, results []surveyResult) starter {
	s := starter{clusterName: req.clusterName, ssh: req.ssh, written: time.Now()}
	for i, r := range results {
		address := req.hosts[i].host
		s.nodes = append(s.nodes, starterNode{
			name: r.Hostname, address: address, link: pickLink(address, r.Addresses), seen: r.Addresses,
		})
	}
	return s
}

func printInitReport(s streams, opts globalOptions, report initReport) error {
	if opts.json {
		return writeJSON(s.stdout, report)
	}
	for _, r := range report.Hosts {
		if r.err != nil {
			msg := r.err.Error()
			if !strings.HasPrefix(msg, r.Host+":") {
				msg = r.Host + ": " + msg
			}
			fmt.Fprintf(s.stdout, "FAILED %s\n", msg)
			continue
		}
		note := ""
		if r.NewKey {
			note = " (new, recorded in known_hosts)"
		}
		fmt.Fprintf(s.stdout, "%s: hostname %s, host key %s %s%s\n", r.Host, r.Hostname, r.KeyType, r.Fingerprint, note)
		fmt.Fprintf(s.stdout, "    addresses: %s\n", describeAddresses(r.Addresses))
	}
	if !report.Written {
		return nil
	}
	fmt.Fprintf(s.stdout, "wrote %s with %s\n", report.File, plural(len(report.Hosts), "node"))
	if len(report.Problems) > 0 {
		fmt.Fprintf(s.stdout, "it needs editing before use (quorate validate shows this again):\n")
		for _, p := range report.Problems {
			fmt.Fprintf(s.stdout, "  %s\n", p)
		}
	}
	return nil
}

// absoluteUnlessHome makes a relative path absolute; "" and ~/... are kept as they are.
func absoluteUnlessHome(p string) string {
	if p == "" || strings.HasPrefix(p, "~") || filepath.IsAbs(p) {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
