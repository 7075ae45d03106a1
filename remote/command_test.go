package remote

import (
	"os/exec"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"none", "pvecm add 198.51.100.11", nil, "pvecm add 198.51.100.11"},
		{"every occurrence", "pw=hunter2 again hunter2", []string{"hunter2"}, "pw=*** again ***"},
		{"empty secret ignored", "text", []string{""}, "text"},
		{"a secret inside a longer one", "token abcdef", []string{"abc", "abcdef"}, "token ***"},
		{"several", "user s1 pass s2", []string{"s1", "s2"}, "user *** pass ***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in, tt.secrets); got != tt.want {
				t.Errorf("Redact(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
			}
		})
	}
}

// Quote must give sh exactly one word with the original bytes, whatever they are.
func TestQuoteRoundTripsThroughSh(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `a "b" $c \d`, "new\nline", "*", "-n", "'"} {
		out, err := exec.Command("sh", "-c", "printf '%s|' "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if got := strings.TrimSuffix(string(out), "|"); got != s {
			t.Errorf("Quote(%q) came back from sh as %q", s, got)
		}
	}
}
