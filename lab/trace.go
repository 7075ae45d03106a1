package lab

import (
	"fmt"
	"os"
	"time"
)

// stepClock prints how long each step of Up took when QLAB_TRACE is set: Up has a
// time budget (3 hosts in under 10 s) and this shows where it goes.
type stepClock struct {
	on   bool
	last time.Time
	lab  string
}

func newStepClock(lab string) *stepClock {
	return &stepClock{on: os.Getenv("QLAB_TRACE") != "", last: time.Now(), lab: lab}
}

func (c *stepClock) step(what string) {
	if c.on {
		now := time.Now()
		fmt.Fprintf(os.Stderr, "lab %s: %-22s %s\n", c.lab, what, now.Sub(c.last).Round(time.Millisecond))
		c.last = now
	}
}
