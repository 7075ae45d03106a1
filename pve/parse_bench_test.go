package pve

import (
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

// The parsers run once per host per step, so their speed matters little today; these
// benchmarks keep an eye on it (and on allocations) as the parsers grow. Inputs are the
// golden files of testdata/, read once before the timer starts.

func BenchmarkParseQuorumStatus(b *testing.B) {
	for _, name := range []string{"pvecm-status-quorate.txt", "pvecm-status-qdevice.txt", "pvecm-status-not-quorate.txt"} {
		in := pvetest.Golden(b, name).Stdout
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := ParseQuorumStatus(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParsePveshClusterStatus(b *testing.B) {
	for _, name := range []string{"pvesh-status-clustered.json", "pvesh-status-standalone.json"} {
		in := pvetest.Golden(b, name).Stdout
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := ParsePveshClusterStatus(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseFacts(b *testing.B) {
	in := pvetest.Golden(b, "facts-pve1.txt").Stdout
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseFacts(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCorosyncConf reads a corosync.conf, and writes it back (Bytes), the two halves
// of every edit quorate makes to it.
func BenchmarkCorosyncConf(b *testing.B) {
	in := []byte(pvetest.Golden(b, "corosync-3nodes-2links.conf").Stdout)
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := ParseCorosyncConf(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	conf, err := ParseCorosyncConf(in)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if len(conf.Bytes()) == 0 {
				b.Fatal("empty corosync.conf")
			}
		}
	})
}

func BenchmarkParsePackageVersions(b *testing.B) {
	for _, name := range []string{"pveversion-v-9.txt", "pveversion-v-7.txt"} {
		in := pvetest.Golden(b, name).Stdout
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := ParsePackageVersions(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClassifyJoin covers a success and the two slowest failure paths: a full
// precheck list and an output no rule knows (every rule is tried).
func BenchmarkClassifyJoin(b *testing.B) {
	for _, name := range []string{"join-success-pipe.txt", "join-precheck-all.txt", "join-unknown.txt"} {
		g := pvetest.Golden(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(g.Stdout) + len(g.Stderr)))
			for b.Loop() {
				ClassifyJoin(g.Stdout, g.Stderr)
			}
		})
	}
}
