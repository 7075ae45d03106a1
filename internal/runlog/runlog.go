// Package runlog is the log of one run: a JSON file with every remote command and step, mode
// 0600, and a copy of warnings (everything with --verbose) on stderr, with the run's secrets
// redacted from both.
package runlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quorate/quorate/remote"
)

// Log is the file every run that reaches hosts writes: each remote command with its duration
// and exit code, and each step, so that a failure can be understood afterwards. It also feeds
// stderr, at warning level unless verbose.
type Log struct {
	Path    string
	Logger  *slog.Logger
	file    *os.File
	secrets *secrets
}

// Options say where the log goes. Path "" means a new file under the XDG state directory.
type Options struct {
	Path    string
	Verbose bool
	Stderr  io.Writer
	Now     time.Time
}

// Open creates (or appends to) the log file.
func Open(opts Options) (*Log, error) {
	path := opts.Path
	if path == "" {
		var err error
		if path, err = DefaultPath(opts.Now, os.Getpid()); err != nil {
			return nil, err
		}
	}
	// The log can hold host names, addresses and command output: keep it to the user.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	stderr := opts.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	secrets := &secrets{}
	handler := slog.NewMultiHandler(
		slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: readableDuration}),
		slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}),
	)
	return &Log{
		Path:    path,
		file:    f,
		secrets: secrets,
		Logger:  slog.New(&redactingHandler{next: handler, secrets: secrets}),
	}, nil
}

// AddSecret hides secret (a password read from a prompt or the environment) from every
// later log line.
func (l *Log) AddSecret(secret string) { l.secrets.add(secret) }

// readableDuration writes durations as "1.5s" rather than JSON's count of nanoseconds, for
// the person reading the log after a failure.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// DefaultPath follows the XDG base directory rules: $XDG_STATE_HOME when it is absolute,
// else ~/.local/state. A new file per run, so that runs never mix.
func DefaultPath(now time.Time, pid int) (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("log file: no state directory: %w (give one with --log-file)", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	name := fmt.Sprintf("quorate-%s-%d.log", now.UTC().Format("20060102T150405Z"), pid)
	return filepath.Join(dir, "quorate", name), nil
}

func (l *Log) Close() error { return l.file.Close() }

// secrets holds the secrets of a run as they become known, so that no log line can carry
// them. The redaction itself is the transport's, so both hide secrets the same way.
type secrets struct {
	mu     sync.Mutex
	values []string
}

func (s *secrets) add(secret string) {
	if secret == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values = append(s.values, secret)
}

func (s *secrets) redact(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return remote.Redact(text, s.values)
}

// redactingHandler rewrites every message and attribute through the secret set before it
// reaches any output. The transport redacts the secrets it is told about; this catches the
// rest, such as an error that quotes a password back.
type redactingHandler struct {
	next    slog.Handler
	secrets *secrets
}

func (h *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.secrets.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(clean), secrets: h.secrets}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

func (h *redactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.secrets.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = h.redactAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.secrets.redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.secrets.redact(x.String()))
		case []byte:
			return slog.String(a.Key, h.secrets.redact(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
