// Package e2e holds quorate's end-to-end tests: the product's packages, and later the quorate
// binary, driven against the lab of simulated PVE hosts (lab/). The tests run as root with the
// lab's packages installed and skip otherwise.
//
// The test process stays in the root network namespace and never sends lab traffic itself: it
// brings a lab up, then re-runs its own binary inside the lab's controller namespace "ctl",
// where the code under test dials the hosts over real SSH, exactly as against real hosts.
package e2e
