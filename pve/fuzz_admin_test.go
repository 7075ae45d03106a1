package pve

import "testing"

func FuzzParseQDeviceDaemon(f *testing.F) {
	seed(f, "pvesh-*.json")
	f.Fuzz(func(t *testing.T, s string) {
		q, running, err := ParseQDeviceDaemon(s)
		if err == nil && running && q.State == "" && q.Model == "" {
			t.Error("a running QDevice without State or Model")
		}
		if err != nil && running {
			t.Error("running with an error")
		}
	})
}

func FuzzParseStaleNode(f *testing.F) {
	seed(f, "stalenode-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStaleNode(s)
		if err == nil && (st.AuthorizedKeys < 0 || st.KnownHosts < 0) {
			t.Error("negative count")
		}
	})
}

func FuzzParseRebuildMark(f *testing.F) {
	seed(f, "rebuildmark.txt")
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := ParseRebuildMark(s); err == nil && id < 1 {
			t.Errorf("node id %d accepted", id)
		}
	})
}
