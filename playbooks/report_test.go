package playbooks

import (
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
)

func TestReportDocumentOfACluster(t *testing.T) {
	r := testCluster(t, 2)
	storage := pve.ParseStorageConfig(pvetest.Golden(t, "storage-default.cfg").Stdout)
	ha, _ := pve.ParseHAResources(pvetest.Golden(t, "ha-resources.cfg").Stdout)
	for _, m := range r.Members {
		m.Health.Storage, m.Health.HAResources = &storage, ha
	}
	// pve3 is down: the others see it offline, and its link1 is down.
	m3 := r.Members[2]
	m3.node, m3.DialErr = nil, &HostError{Host: "pve3", Err: errString("no route to host")}
	m3.Facts, m3.Status, m3.Health, m3.Links, m3.Knet, m3.KnetEnd = nil, nil, nil, nil, nil, nil
	for _, m := range r.Members[:2] {
		m.Status = quorateStatus("demo", 3, m.Conf.NodeID, 3, 1, 2)
		m.Links.Status[1].Nodes[2].State = "disconnected"
	}
	doc := document(r, time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC))
	md := doc.Markdown("demo.svg")
	golden(t, "report-demo.md", md)
	for _, want := range []string{
		"| pve1 | 1 | 1 | voting member | 198.51.100.11 | 198.51.100.11 | 203.0.113.11 | 9.1.1 | 6.17.2-1-pve | quorate |",
		"| pve3 | 3 | 1 | voting member | 198.51.100.13 | 198.51.100.13 | 203.0.113.13 | - | - | unreachable |",
		"Now pve3 is offline: 2 of 3 votes remain, and the cluster stays quorate.",
		"| local-lvm | lvmthin | local |",
		"| vm:501 | started | - |",
		"pve3 could not be reached",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if doc.Nodes[2].Online || !doc.Nodes[0].Online {
		t.Errorf("online: %+v", doc.Nodes)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
