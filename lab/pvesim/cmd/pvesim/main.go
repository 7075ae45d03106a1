// Command pvesim is the lab's PVE stand-in, a multi-call binary: installed as pvecm, pvesh,
// pveversion, pvenode, qm, pct, systemctl, pmxcfs and pveproxy inside every lab host.
package main

import (
	"os"

	"github.com/quorate/quorate/lab/pvesim"
)

func main() {
	os.Exit(pvesim.Main(os.Args))
}
