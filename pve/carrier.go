package pve

import (
	"fmt"
	"net/netip"
	"strings"
)

// Carrier is an interface seen down to the devices that carry its packets: vmbr0 is carried
// by its port eno1; a bond by its slaves; a VLAN by the device it sits on.
type Carrier struct {
	Holder Interface   // the interface asked for (the one with the address)
	Leaves []Interface // the devices at the bottom: NICs, Wi-Fi, veths; Holder itself if none
	// MTU is the smallest MTU on the way down: what fits through.
	MTU int
	// Desc is the way down in words; Notes what is wrong on it.
	Desc  string
	Notes []string
}

// Interface returns the interface named name.
func (f Facts) Interface(name string) (Interface, bool) {
	for _, i := range f.Interfaces {
		if i.Name == name {
			return i, true
		}
	}
	return Interface{}, false
}

// CarrierOfAddr is the carrier of the interface that has address a.
func (f Facts) CarrierOfAddr(a netip.Addr) (Carrier, bool) {
	for _, i := range f.Interfaces {
		for _, ia := range i.Addrs {
			if ia.Prefix.Addr().Unmap() == a.Unmap() {
				return f.CarrierOf(i.Name)
			}
		}
	}
	return Carrier{}, false
}

// CarrierOf walks from the interface named name down through bridges, bonds and VLANs,
// describing the way down ("vmbr0 (bridge) over eno1 (10000 Mb/s, full duplex, MTU 1500)")
// and noting what is wrong on it (a bridge without ports, a device down).
func (f Facts) CarrierOf(name string) (Carrier, bool) {
	top, ok := f.Interface(name)
	if !ok {
		return Carrier{}, false
	}
	c := Carrier{Holder: top}
	seen := map[string]bool{}
	var walk func(i Interface, depth int) string
	walk = func(i Interface, depth int) string {
		if seen[i.Name] {
			return i.Name
		}
		seen[i.Name] = true
		if i.MTU > 0 && (c.MTU == 0 || i.MTU < c.MTU) {
			c.MTU = i.MTU
		}
		if i.OperState == "down" || i.OperState == "lowerlayerdown" {
			c.Notes = append(c.Notes, i.Name+" is "+i.OperState)
		}
		var below []Interface
		kind := ""
		switch i.Kind {
		case KindBridge, KindBond:
			for _, p := range f.Interfaces {
				if p.Master == i.Name {
					below = append(below, p)
				}
			}
			kind = string(i.Kind)
			if i.Kind == KindBond && i.BondMode != "" {
				kind += " " + i.BondMode
			}
			if len(below) == 0 {
				c.Notes = append(c.Notes, fmt.Sprintf("%s %s has no ports", i.Kind, i.Name))
			}
		case KindVLAN:
			for _, l := range i.Lower {
				if p, ok := f.Interface(l); ok {
					below = append(below, p)
				}
			}
			kind = "vlan"
		}
		if len(below) == 0 || depth > 4 {
			c.Leaves = append(c.Leaves, i)
			return i.Name + " (" + describeDevice(i, kind) + ")"
		}
		var parts []string
		for _, p := range below {
			parts = append(parts, walk(p, depth+1))
		}
		word := " over "
		if i.Kind == KindBond {
			word = " of "
		}
		return i.Name + " (" + kind + ")" + word + strings.Join(parts, ", ")
	}
	c.Desc = walk(top, 0)
	return c, true
}

// describeDevice is a device at the bottom of a carrier: its kind, speed, duplex and MTU.
func describeDevice(i Interface, kind string) string {
	var d []string
	if kind != "" {
		d = append(d, kind)
	}
	switch i.Kind {
	case KindWiFi:
		d = append(d, "Wi-Fi")
	case KindVirtual:
		d = append(d, "virtual")
	}
	if i.SpeedMbps > 0 {
		d = append(d, fmt.Sprintf("%d Mb/s", i.SpeedMbps))
	}
	if i.Duplex != "" {
		d = append(d, i.Duplex+" duplex")
	}
	if i.MTU > 0 {
		d = append(d, fmt.Sprintf("MTU %d", i.MTU))
	}
	return strings.Join(d, ", ")
}

// Shares reports the leaf devices c and o have in common: traffic of both leaves by them.
func (c Carrier) Shares(o Carrier) []string {
	var out []string
	for _, a := range c.Leaves {
		for _, b := range o.Leaves {
			if a.Name == b.Name {
				out = append(out, a.Name)
			}
		}
	}
	return out
}
