package pve

import "net/netip"

// Carrier is an interface seen down to the devices that carry its packets: vmbr0 is carried
// by its port eno1; a bond by its slaves; a VLAN by the device it sits on.
type Carrier struct {
	Holder Interface   // the interface asked for (the one with the address)
	Leaves []Interface // the devices at the bottom: NICs, Wi-Fi, veths; Holder itself if none
	// MTU is the smallest MTU on the way down: what fits through.
	MTU int
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

// CarrierOf walks from the interface named name down through bridges, bonds and VLANs.
func (f Facts) CarrierOf(name string) (Carrier, bool) {
	top, ok := f.Interface(name)
	if !ok {
		return Carrier{}, false
	}
	c := Carrier{Holder: top}
	seen := map[string]bool{}
	var walk func(i Interface, depth int)
	walk = func(i Interface, depth int) {
		if seen[i.Name] {
			return
		}
		seen[i.Name] = true
		if i.MTU > 0 && (c.MTU == 0 || i.MTU < c.MTU) {
			c.MTU = i.MTU
		}
		var below []Interface
		switch i.Kind {
		case KindBridge, KindBond:
			for _, p := range f.Interfaces {
				if p.Master == i.Name {
					below = append(below, p)
				}
			}
		case KindVLAN:
			for _, l := range i.Lower {
				if p, ok := f.Interface(l); ok {
					below = append(below, p)
				}
			}
		}
		if len(below) == 0 || depth > 4 {
			c.Leaves = append(c.Leaves, i)
			return
		}
		for _, p := range below {
			walk(p, depth+1)
		}
	}
	walk(top, 0)
	return c, true
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
