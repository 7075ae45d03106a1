package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestExitCodeOf(t *testing.T) {
	interrupted, cancel := context.WithCancelCause(context.Background())
	cancel(&interruptedError{sig: os.Interrupt})
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"success", context.Background(), nil, exitOK},
		{"plain failure", context.Background(), errors.New("boom"), exitFailed},
		{"usage", context.Background(), usageErrorf("bad"), exitUsage},
		{"wrapped code", context.Background(), fmt.Errorf("pve1: join: %w", withExitCode(exitNotQuorate, errors.New("no quorum"))), exitNotQuorate},
		{"preflight", context.Background(), withExitCode(exitPreflight, errors.New("2 errors")), exitPreflight},
		// Whatever the cancelled work returned, an interrupted run exits 130.
		{"interrupted", interrupted, fmt.Errorf("dial: %w", context.Canceled), exitInterrupted},
		{"interrupted without error", interrupted, nil, exitInterrupted},
	}
	for _, tt := range tests {
		if got := exitCodeOf(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: exitCodeOf = %d, want %d", tt.name, got, tt.want)
		}
	}
}
