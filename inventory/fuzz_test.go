package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser and the validator: neither may panic, and
// every problem must carry the file name and a line a user can go to.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("nodes: [{links: [\"${X:-}\"]}]\n"))
	env := func(name string) (string, bool) {
		if name == "X" {
			return "1.2.3.4", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := Parse("f.yaml", data, env)
		for _, p := range inv.Validate() {
			if p.Line < 1 || !strings.HasPrefix(p.String(), "f.yaml:") || p.Message == "" {
				t.Fatalf("problem without a usable location or text: %#v", p)
			}
		}
	})
}
