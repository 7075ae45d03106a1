package preflight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

// clockCommand prints the node's clock; one run is one NTP-style sample.
const clockCommand = "date +%s.%N"

// Clock offsets between nodes: docs/pve.md §8 asks for synchronised clocks; corosync does not
// care, but certificates and logs do, and a second apart means no time service works.
const (
	clockWarn  = 100 * time.Millisecond
	clockError = time.Second
)

// sampleClock takes Options.ClockSamples samples of n's clock over its connection, each
// bracketed by the controller's clock (t0, remote, t1): offset = remote - (t0+t1)/2, good to
// half the round trip. The sample with the smallest round trip is kept.
func (e *env) sampleClock(ctx context.Context, n *node) (*Clock, error) {
	var best *Clock
	var errs []error
	samples := 0
	for range e.opts.ClockSamples {
		if ctx.Err() != nil {
			break
		}
		off, rtt, err := e.clockSample(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if best == nil || rtt < time.Duration(best.RTTMS*float64(time.Millisecond)) {
			best = &Clock{Node: n.inv.Name, OffsetMS: roundMS(off), RTTMS: roundMS(rtt)}
		}
		samples++
	}
	if best == nil {
		if len(errs) == 0 {
			errs = append(errs, ctx.Err())
		}
		return nil, fmt.Errorf("clock: %w", errors.Join(errs...))
	}
	best.Samples = samples
	return best, nil
}

func (e *env) clockSample(ctx context.Context, n *node) (offset, rtt time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
	defer cancel()
	t0 := e.opts.Now()
	res, err := n.target.Runner.Run(ctx, remote.Command{Line: clockCommand, Timeout: e.opts.CommandTimeout})
	t1 := e.opts.Now()
	if err != nil {
		return 0, 0, err
	}
	remoteTime, err := parseClock(string(res.Stdout))
	if err != nil {
		return 0, 0, err
	}
	rtt = t1.Sub(t0)
	mid := t0.Add(rtt / 2)
	return remoteTime.Sub(mid), rtt, nil
}

// parseClock reads `date +%s.%N`: the last line that is a number of seconds since 1970 (a
// date without %N prints "N", which gives no sub-second time and is refused).
func parseClock(out string) (time.Time, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	secs, frac, ok := strings.Cut(last, ".")
	if !ok || len(frac) == 0 || len(frac) > 9 || len(secs) == 0 || len(secs) > 12 {
		return time.Time{}, fmt.Errorf("clock: %q is not SECONDS.NANOSECONDS", clip(last, 40))
	}
	s, err1 := strconv.ParseInt(secs, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || s < 0 || f < 0 {
		return time.Time{}, fmt.Errorf("clock: %q is not SECONDS.NANOSECONDS", clip(last, 40))
	}
	f *= int64(math.Pow10(9 - len(frac)))
	return time.Unix(s, f), nil
}

// checkClockOffset compares every node's clock with the others': the reference is the
// median offset (of an even count, the middle one nearer the controller's clock), so that
// one skewed node is the one blamed.
func checkClockOffset(e *env) []Finding {
	var clocks []*Clock
	var out []Finding
	for _, n := range e.nodes {
		switch {
		case n.clock != nil:
			clocks = append(clocks, n.clock)
		case n.reached() && n.clockErr != nil:
			out = append(out, warnf(n.inv.Name, "check that `date +%s.%N` works on "+n.inv.Name,
				"could not sample %s's clock: %v", n.inv.Name, n.clockErr))
		}
	}
	if len(clocks) == 0 {
		return out
	}
	ref := referenceOffset(clocks)
	for _, c := range clocks {
		d := time.Duration((c.OffsetMS - ref) * float64(time.Millisecond))
		rel := fmt.Sprintf("%+.1f ms against this machine's, sampled over a %.1f ms round trip", c.OffsetMS, c.RTTMS)
		switch abs := max(d, -d); {
		case abs > clockError || abs > clockWarn:
			sev := Warning
			if abs > clockError {
				sev = Error
			}
			way := "ahead of"
			if d < 0 {
				way = "behind"
			}
			out = append(out, Finding{Node: c.Node, Severity: sev,
				Message: fmt.Sprintf("%s's clock is %s %s the other nodes' (%s)", c.Node, fmtOffset(abs), way, rel),
				Fix:     "synchronise the clocks: chrony (or systemd-timesyncd) on every node, with the same time sources"})
		default:
			out = append(out, passf(c.Node, "%s's clock is within %s of the other nodes' (%s)", c.Node, fmtOffset(max(abs, time.Millisecond)), rel))
		}
	}
	return out
}

func referenceOffset(clocks []*Clock) float64 {
	offs := make([]float64, len(clocks))
	for i, c := range clocks {
		offs[i] = c.OffsetMS
	}
	sort.Float64s(offs)
	mid := len(offs) / 2
	if len(offs)%2 == 1 {
		return offs[mid]
	}
	if math.Abs(offs[mid-1]) <= math.Abs(offs[mid]) {
		return offs[mid-1]
	}
	return offs[mid]
}

func fmtOffset(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}
