package inventory

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the current messages")

// testEnv is the only environment the golden files see, so that the machine's variables
// cannot change what they expect.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"PVE_NET":      "198.51.100",
		"CLUSTER_NAME": "",
	}[name]
	return v, ok
}

// TestValidationMessagesGolden pins the exact text a user sees for each bad file in testdata,
// one problem a line; files named valid-* must have none.
func TestValidationMessagesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			inv, err := Load(file, testEnv)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if problems := inv.Validate(); len(problems) > 0 {
				got = problems.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./inventory -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("messages differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			isValid := strings.HasPrefix(filepath.Base(file), "valid-")
			if isValid != (got == "") {
				t.Errorf("valid-* files must have no problems and the others some; got:\n%s", got)
			}
		})
	}
}
