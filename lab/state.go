package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is what a lab records in /run/quorate-lab/<lab>/state.json so that another
// process (the next pvelab command, the next Up) can find and end everything it made.
type state struct {
	Name     string         `json:"name"`
	Created  time.Time      `json:"created"`
	Dir      string         `json:"dir,omitempty"` // where cluster.yaml & co were written
	Password string         `json:"password"`
	Links    int            `json:"links"`
	Owner    *procRef       `json:"owner,omitempty"` // nil for detached labs
	Netns    []string       `json:"netns"`           // every netns made, bridge first
	Machines []machineState `json:"machines"`        // ctl first
}

type machineState struct {
	Host
	Netns  string      `json:"netns"`
	Links  []linkState `json:"links"` // each corosync link inside the machine, as it is now
	Init   procRef     `json:"init"`  // PID 1 of the host, in the root PID namespace
	Relay  *procRef    `json:"relay,omitempty"`
	Faults []string    `json:"faults,omitempty"` // active faults, as given to Fault
	Keys   []string    `json:"keys,omitempty"`   // host keys the controller trusts ("type base64")
}

// linkState is one link's interfaces inside a machine. On a PVE host the network card
// (NIC, the veth to the lab's bridge) is the port of a Linux bridge that holds the
// address, as a PVE install sets it up; ctl and qnetd have the address on the NIC.
type linkState struct {
	NIC    string `json:"nic"`              // eno1, eno2 on hosts, eth0, eth1 elsewhere; wlp0s20f3 under wifi
	Bridge string `json:"bridge,omitempty"` // vmbr0, vmbr1 on hosts
}

// wireless: the wifi fault has made this NIC a Wi-Fi card, which cannot be a bridge port.
func (k linkState) wireless() bool { return k.NIC == wifiIface }

// addrDev is the interface that holds the link's address: the bridge, or the NIC itself
// where there is no bridge or the NIC is wireless.
func (k linkState) addrDev() string {
	if k.Bridge == "" || k.wireless() {
		return k.NIC
	}
	return k.Bridge
}

// procRef names a process by PID and start time, so that a recycled PID is never
// mistaken for ours.
type procRef struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func labDir(name string) string    { return filepath.Join(stateRoot, name) }
func statePath(name string) string { return filepath.Join(labDir(name), "state.json") }

func (s *state) machine(name string) (*machineState, error) {
	for i := range s.Machines {
		if s.Machines[i].Name == name {
			return &s.Machines[i], nil
		}
	}
	return nil, fmt.Errorf("lab %s: no host %q", s.Name, name)
}

// faultTarget is the machine named host, which must not be the controller: faults are for hosts.
func (s *state) faultTarget(host string) (*machineState, error) {
	m, err := s.machine(host)
	if err != nil {
		return nil, err
	}
	if m.Role == RoleController {
		return nil, fmt.Errorf("lab %s: faults are for hosts, not the controller", s.Name)
	}
	return m, nil
}

func loadState(name string) (*state, error) {
	b, err := os.ReadFile(statePath(name))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab %s: state: %w", name, err)
	}
	return &s, nil
}

// save writes the state atomically: a reader never sees half a file.
func (s *state) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(s.Name) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("lab %s: write state: %w", s.Name, err)
	}
	return os.Rename(tmp, statePath(s.Name))
}
