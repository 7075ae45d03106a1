package lab

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunRelay is the userspace delay line (hidden command "pvelab __relay"): this kernel
// has no netem, so the lab cuts a host's bridge port out of the bridge and copies
// frames between that port and a new veth in the bridge, holding each for the delay.
// It runs in the bridge namespace. Args: --delay MS --jitter MS PORT:RELAY...
// PACKET_VNET_HDR makes the kernel hand over GSO super-frames whole, with their
// offload header, and take them back the same way: no segmentation in userspace.
func RunRelay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	delayMS := fs.Int("delay", 0, "one-way delay in ms")
	jitterMS := fs.Int("jitter", 0, "jitter in ms (±)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	delay, jitter := time.Duration(*delayMS)*time.Millisecond, time.Duration(*jitterMS)*time.Millisecond
	for _, pair := range fs.Args() {
		a, b, ok := strings.Cut(pair, ":")
		if !ok {
			return fmt.Errorf("pair %q: want PORT:RELAY", pair)
		}
		fa, err := openPacketSocket(a)
		if err != nil {
			return err
		}
		fb, err := openPacketSocket(b)
		if err != nil {
			return err
		}
		go relayOneWay(fa, fb, delay, jitter)
		go relayOneWay(fb, fa, delay, jitter)
	}
	fmt.Printf("relay ready: delay %s jitter %s %s\n", delay, jitter, strings.Join(fs.Args(), " "))
	<-ctx.Done()
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openPacketSocket(ifname string) (int, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, fmt.Errorf("relay: %s: %w", ifname, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return -1, fmt.Errorf("relay: socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return -1, fmt.Errorf("relay: %s: vnet hdr: %w", ifname, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
		return -1, fmt.Errorf("relay: bind %s: %w", ifname, err)
	}
	return fd, nil
}

type delayedFrame struct {
	due   time.Time
	frame []byte
}

// relayOneWay copies frames from in to out, each due delay (± jitter) after it came.
// Frames keep their order, as on a real slow link.
func relayOneWay(in, out int, delay, jitter time.Duration) {
	queue := make(chan delayedFrame, 16384)
	go func() {
		for f := range queue {
			if d := time.Until(f.due); d > 0 {
				time.Sleep(d)
			}
			_, _ = unix.Write(out, f.frame)
		}
	}()
	var last time.Time
	buf := make([]byte, 65536+64)
	for {
		n, from, err := unix.Recvfrom(in, buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			fmt.Fprintln(os.Stderr, "relay: read:", err)
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue // our own transmission on this interface
		}
		d := delay
		if jitter > 0 {
			d += time.Duration(rand.Int64N(int64(2*jitter))) - jitter
		}
		due := time.Now().Add(max(d, 0))
		if due.Before(last) {
			due = last
		}
		last = due
		select {
		case queue <- delayedFrame{due: due, frame: append([]byte(nil), buf[:n]...)}:
		default: // queue full: the link drops, as a real one would
		}
	}
}
