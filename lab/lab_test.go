package lab

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

type labCheck struct {
	name string
	fn   func(*testing.T, *Lab)
}

// TestLab brings up one 3-host lab, checks what every host must be, then runs the
// faults in three parallel groups, one per host, so that they do not disturb each
// other (probes are sent from the controller, which is never faulted).
func TestLab(t *testing.T) {
	t.Parallel()
	l := upLab(t, Options{Hosts: 3})
	run := func(t *testing.T, checks []labCheck) {
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) { c.fn(t, l) })
		}
	}
	run(t, []labCheck{
		{"ssh reaches every host, which knows its name", checkSSHHostnames},
		{"root home comes from /etc/skel", checkRootFromSkel},
		{"machine-ids and host keys differ", checkUniqueIdentities},
		{"console passes stdin, stdout, stderr and the exit code", checkConsole},
		{"host files look installed", checkInstalledFiles},
		{"the address is on vmbr0, whose port is the NIC eno1", checkHostShape},
	})
	t.Run("faults", func(t *testing.T) {
		t.Run("on pve1", func(t *testing.T) {
			t.Parallel()
			run(t, []labCheck{
				{"delay raises the round trip", checkDelay},
				{"wifi takes the NIC off vmbr0, renamed and wireless", checkWifi},
				{"half-duplex shows in sysfs, also after restart", checkHalfDuplex},
				{"restart keeps a fault that spoils ssh output", checkRestartNoisy},
			})
		})
		t.Run("on pve2", func(t *testing.T) {
			t.Parallel()
			run(t, []labCheck{
				{"port-drop 22 stops ssh until clear", checkPortDrop},
				{"rate slows a transfer", checkRate},
				{"mtu sets the MTU: big datagrams are refused, fragmented or lost", checkMTU},
				{"skew shifts date over ssh", checkSkew},
				{"crash kills everything, restart keeps the disk", checkCrashRestart},
			})
		})
		t.Run("on pve3", func(t *testing.T) {
			t.Parallel()
			run(t, []labCheck{
				{"udp-drop cuts corosync ports only", checkUDPDrop},
				{"loss drops about that share", checkLoss},
				{"hosts faults change name resolution", checkHostsFaults},
				{"noisy-bashrc talks on non-interactive logins", checkNoisyBashrc},
				{"pvesim faults are delegated", checkPvesimFaults},
				{"reinstall changes the host key; trust accepts it", checkReinstall},
			})
		})
	})
}

func checkSSHHostnames(t *testing.T, l *Lab) {
	hosts, err := l.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if got := strings.TrimSpace(mustSSH(t, l, h.Name, "hostname")); got != h.Name {
			t.Errorf("ssh %s hostname = %q", h.Name, got)
		}
		if got := strings.TrimSpace(mustSSH(t, l, h.Address(), "hostname -f")); got != h.FQDN() {
			t.Errorf("ssh %s hostname -f = %q, want %q", h.Address(), got, h.FQDN())
		}
	}
}

func checkRootFromSkel(t *testing.T, l *Lab) {
	skel, err := os.ReadFile("/etc/skel/.bashrc")
	if err != nil {
		t.Skip(err)
	}
	if got := mustSSH(t, l, "pve1", "cat /root/.bashrc"); got != string(skel) {
		t.Errorf("pve1 /root/.bashrc is not /etc/skel/.bashrc")
	}
	if got := mustSSH(t, l, "pve1", "ls -A /root | sort | tr '\\n' ' '"); got != ".bash_logout .bashrc .profile .ssh " {
		t.Errorf("pve1 /root holds %q", got)
	}
	if got := mustSSH(t, l, "pve1", "echo $PATH; env | grep -ci pyenv || true"); strings.Contains(got, "pyenv") {
		t.Errorf("the machine's shell set-up leaks into the host: %q", got)
	}
}

func checkUniqueIdentities(t *testing.T, l *Lab) {
	hosts, err := l.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	keys := map[string]string{}
	for _, h := range hosts {
		id := strings.TrimSpace(mustExec(t, l, h.Name, "cat", "/etc/machine-id"))
		if len(id) != 32 || ids[id] != "" {
			t.Errorf("%s machine-id %q (also %s)", h.Name, id, ids[id])
		}
		ids[id] = h.Name
		key := strings.TrimSpace(mustExec(t, l, "ctl", "ssh-keyscan", "-t", "ed25519", h.Name))
		f := strings.Fields(key)
		if len(f) != 3 || keys[f[2]] != "" {
			t.Errorf("%s host key %q (also %s)", h.Name, key, keys[f[len(f)-1]])
		}
		keys[f[len(f)-1]] = h.Name
	}
	machineID, _ := os.ReadFile("/etc/machine-id")
	if ids[strings.TrimSpace(string(machineID))] != "" {
		t.Errorf("a host has the machine's own machine-id")
	}
}

func checkConsole(t *testing.T, l *Lab) {
	r, err := l.Exec(ctxT(t), "pve2", strings.NewReader("hello\n"), "sh", "-c", "cat; echo oops >&2; hostname; exit 7")
	if err != nil || r.Code != 7 || r.Stdout != "hello\npve2\n" || r.Stderr != "oops\n" {
		t.Errorf("exec = %+v, %v", r, err)
	}
	// A command that outlives its context is killed, inside the host too.
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := l.Exec(short, "pve2", nil, "sleep", "37"); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("exec past its deadline: %v after %s", err, time.Since(start))
	}
	if err := waitFor(ctxT(t), 5*time.Second, func() bool {
		return !strings.Contains(mustExec(t, l, "pve2", "ps", "-eo", "args"), "sleep 37")
	}); err != nil {
		t.Errorf("sleep 37 still runs on pve2 after its context ended")
	}
	var out strings.Builder
	if code, err := l.Run(ctxT(t), "ctl", Stdio{Stdout: &out, Dir: "/tmp", Env: []string{"PVE_ROOT_PASSWORD=x y"}}, "sh", "-c", `pwd; echo "$PVE_ROOT_PASSWORD"`); err != nil || code != 0 || out.String() != "/tmp\nx y\n" {
		t.Errorf("run on ctl with Dir and Env: exit %d, %v, %q", code, err, out.String())
	}
	if got := mustExec(t, l, "pve2", "pwd"); got != "/root\n" {
		t.Errorf("console starts in %q", got)
	}
	if got := mustExec(t, l, "pve2", "sh", "-c", "ps -e --no-headers | wc -l"); got == "" {
		t.Errorf("no processes?")
	}
	if got := mustExec(t, l, "pve2", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"); !strings.Contains(got, "__init") {
		t.Errorf("PID 1 of pve2 is %q, not the lab's init", got)
	}
}

func checkInstalledFiles(t *testing.T, l *Lab) {
	hostsFile := mustExec(t, l, "pve1", "cat", "/etc/hosts")
	if !strings.HasPrefix(hostsFile, "127.0.0.1 localhost.localdomain localhost\n198.51.100.11 pve1.lab.test pve1\n") ||
		strings.Contains(hostsFile, "pve2") {
		t.Errorf("pve1 /etc/hosts:\n%s", hostsFile)
	}
	if got := mustExec(t, l, "pve1", "cat", "/etc/network/interfaces"); !strings.Contains(got, "\niface eno1 inet manual\n") ||
		!strings.Contains(got, "\nauto vmbr0\niface vmbr0 inet static\n\taddress 198.51.100.11/24\n\tbridge-ports eno1\n\tbridge-stp off\n\tbridge-fd 0\n") {
		t.Errorf("pve1 interfaces:\n%s", got)
	}
	if got := mustExec(t, l, "pve1", "sh", "-c", "test -s /etc/pvesim/host.json && cat /run/chrony/chronyd.pid /run/sshd.pid >/dev/null && echo ok"); got != "ok\n" {
		t.Errorf("pve1: host.json or daemons missing: %q", got)
	}
	// chronyd follows the controller's time server (C6336464 = 198.51.100.100).
	var tracking string
	if err := waitFor(ctxT(t), 20*time.Second, func() bool {
		tracking = mustExec(t, l, "pve1", "chronyc", "-n", "tracking")
		return strings.Contains(tracking, "Reference ID    : C6336464")
	}); err != nil {
		t.Errorf("pve1 chronyd does not follow ctl: %v\n%s", err, tracking)
	}
	if got := mustExec(t, l, "pve1", "ls", "/usr/local/sbin"); !strings.Contains(got, "pvecm") {
		t.Errorf("pvecm not on pve1's PATH: %q", got)
	}
}

func checkUDPDrop(t *testing.T, l *Lab) {
	mustFault(t, l, "pve3", "udp-drop")
	if n := udpProbe(t, l, "ctl", "pve3", 5405); n != 0 {
		t.Errorf("udp 5405 to pve3 under udp-drop: %d/100 arrived", n)
	}
	if n := udpProbe(t, l, "ctl", "pve3", 5413); n < 90 {
		t.Errorf("udp 5413 to pve3 under udp-drop: %d/100 arrived", n)
	}
	mustClear(t, l, "pve3")
	if n := udpProbe(t, l, "ctl", "pve3", 5405); n < 90 {
		t.Errorf("udp 5405 to pve3 after clear: %d/100 arrived", n)
	}
}

func checkLoss(t *testing.T, l *Lab) {
	mustFault(t, l, "pve3", "loss", "50")
	if n := udpProbe(t, l, "ctl", "pve3", 5413); n < 15 || n > 85 {
		t.Errorf("loss 50: %d/100 arrived", n)
	}
	mustClear(t, l, "pve3")
	if n := udpProbe(t, l, "ctl", "pve3", 5413); n < 90 {
		t.Errorf("after clearing loss 50: %d/100 arrived", n)
	}
}

func checkPortDrop(t *testing.T, l *Lab) {
	mustFault(t, l, "pve2", "port-drop", "22")
	r, err := l.Exec(ctxT(t), "ctl", nil, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=1", "pve2", "true")
	if err != nil || r.Code != 255 {
		t.Errorf("ssh under port-drop 22: %+v %v", r, err)
	}
	mustClear(t, l, "pve2")
	mustSSH(t, l, "pve2", "true")
}

func checkDelay(t *testing.T, l *Lab) {
	before := tcpRTT(t, l, "ctl", "pve1", 22)
	mustFault(t, l, "pve1", "delay", "100")
	during := tcpRTT(t, l, "ctl", "pve1", 22)
	mustClear(t, l, "pve1")
	after := tcpRTT(t, l, "ctl", "pve1", 22)
	t.Logf("tcp connect to pve1: %s, with delay 100: %s, after clear: %s", before, during, after)
	if during < 190*time.Millisecond || during > 2*time.Second || after > 100*time.Millisecond {
		t.Errorf("tcp connect: %s before, %s with delay 100, %s after", before, during, after)
	}
	if got := mustSSH(t, l, "pve1", "hostname"); got != "pve1\n" {
		t.Errorf("ssh after delay: %q", got)
	}
	// With jitter each way is 100 ± 50 ms: ten connects do not all take the same time.
	mustFault(t, l, "pve1", "delay", "100", "50")
	r, err := l.NetExec(ctxT(t), "ctl", probeArgv("tcp-spread", "198.51.100.11:22")...)
	mustClear(t, l, "pve1")
	var lo, hi int
	if _, serr := fmt.Sscan(r.Stdout, &lo, &hi); err != nil || serr != nil || r.Code != 0 {
		t.Fatalf("tcp-spread: %v %v %q %q", err, serr, r.Stdout, r.Stderr)
	}
	t.Logf("tcp connect to pve1 with delay 100 50: %d to %d µs", lo, hi)
	if lo < 90_000 || hi > 2_000_000 || hi-lo < 20_000 {
		t.Errorf("delay 100 50: connects took %d to %d µs", lo, hi)
	}
}

func checkRate(t *testing.T, l *Lab) {
	// transfer is how long pve2 takes to send n bytes to the controller over ssh, from the
	// first byte to the last: the login, which is slow when the machine is loaded, is not
	// part of it.
	transfer := func(n int) time.Duration {
		out := mustExec(t, l, "ctl", "sh", "-c", "ssh -o BatchMode=yes pve2 'echo go; head -c "+
			strconv.Itoa(n)+" /dev/zero' | { read -r _; s=$(date +%s%N); cat >/dev/null; e=$(date +%s%N); echo $((e-s)); }")
		ns, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil {
			t.Fatalf("transfer of %d bytes: %q", n, out)
		}
		return time.Duration(ns)
	}
	mustFault(t, l, "pve2", "rate", "800")
	slow := transfer(200000)
	mustClear(t, l, "pve2")
	if slow < 1500*time.Millisecond {
		t.Errorf("200 kB at 800 kbit/s took %s, want about 2 s", slow)
	}
	// Ten times as much, which would take 20 s at 800 kbit/s, in under half that time.
	if fast := transfer(2000000); fast >= slow/2 {
		t.Errorf("2 MB after clearing rate 800 took %s (200 kB with it: %s)", fast, slow)
	}
}

func checkSkew(t *testing.T, l *Lab) {
	// offsetWithin: pve2's date over ssh minus the controller's, which is bracketed by
	// the controller's clock read before and after the ssh (logins may be slow).
	offsetWithin := func(want int) bool {
		out := mustExec(t, l, "ctl", "sh", "-c", "date +%s; ssh -o BatchMode=yes pve2 date +%s; date +%s")
		f := strings.Fields(out)
		if len(f) != 3 {
			t.Fatalf("dates: %q", out)
		}
		before, _ := strconv.Atoi(f[0])
		remote, _ := strconv.Atoi(f[1])
		after, _ := strconv.Atoi(f[2])
		ok := remote >= before+want-1 && remote <= after+want+1
		if !ok {
			t.Errorf("want pve2 %+d s: controller %d..%d, pve2 %d", want, before, after, remote)
		}
		return ok
	}
	mustFault(t, l, "pve2", "skew", "300")
	offsetWithin(300)
	mustClear(t, l, "pve2")
	offsetWithin(0)
}

func checkHostsFaults(t *testing.T, l *Lab) {
	getent := func() string { return strings.Fields(mustExec(t, l, "pve3", "getent", "hosts", "pve3"))[0] }
	mustFault(t, l, "pve3", "hosts-loopback")
	if got := getent(); got != "127.0.1.1" {
		t.Errorf("hosts-loopback: pve3 is %s", got)
	}
	mustFault(t, l, "pve3", "hosts-foreign")
	if got := getent(); got != foreignAddr {
		t.Errorf("hosts-foreign: pve3 is %s", got)
	}
	mustClear(t, l, "pve3")
	if got := getent(); got != "198.51.100.13" {
		t.Errorf("after clear: pve3 is %s", got)
	}
}

func checkNoisyBashrc(t *testing.T, l *Lab) {
	mustFault(t, l, "pve3", "noisy-bashrc")
	if got := mustSSH(t, l, "pve3", "true"); !strings.Contains(got, "Welcome") {
		t.Errorf("noisy-bashrc: ssh true printed %q", got)
	}
	mustClear(t, l, "pve3")
	if got := mustSSH(t, l, "pve3", "true"); got != "" {
		t.Errorf("after clear: ssh true printed %q", got)
	}
}

// netShape is what pve/facts.sh would see of a host's network, over ssh: its
// interfaces, which holds the address, and each one's sysfs attributes that tell its
// kind (bridge/, wireless/, device/), master, duplex, speed and MTU ("-" when unreadable).
func netShape(t *testing.T, l *Lab, host string) string {
	t.Helper()
	return mustSSH(t, l, host, `ip -o -4 addr show scope global | awk '{ print $2, $4 }'
for d in /sys/class/net/*; do
  n=${d##*/}; [ "$n" = lo ] && continue
  printf '%s' "$n"
  for x in bridge wireless device; do [ -d "$d/$x" ] && printf ' %s' "$x"; done
  [ -L "$d/master" ] && m=$(readlink "$d/master") && printf ' master=%s' "${m##*/}"
  for a in duplex speed mtu; do printf ' %s=%s' "$a" "$(cat "$d/$a" 2>/dev/null || echo -)"; done
  echo
done`)
}

func checkHostShape(t *testing.T, l *Lab) {
	want := "vmbr0 198.51.100.12/24\n" +
		"eno1 device master=vmbr0 duplex=full speed=10000 mtu=1500\n" +
		"vmbr0 bridge duplex=unknown speed=10000 mtu=1500\n"
	if got := netShape(t, l, "pve2"); got != want {
		t.Errorf("pve2's network:\n%s\nwant:\n%s", got, want)
	}
}

func checkWifi(t *testing.T, l *Lab) {
	mustFault(t, l, "pve1", "wifi")
	want := "wlp0s20f3 198.51.100.11/24\n" +
		"vmbr0 bridge duplex=unknown speed=-1 mtu=1500\n" +
		"wlp0s20f3 wireless device duplex=- speed=- mtu=1500\n"
	if got := netShape(t, l, "pve1"); got != want {
		t.Errorf("wifi: pve1's network:\n%s\nwant:\n%s", got, want)
	}
	if got := mustSSH(t, l, "pve1", "cat /etc/network/interfaces"); !strings.Contains(got, "iface wlp0s20f3 inet static\n\taddress 198.51.100.11/24\n\twpa-ssid") ||
		!strings.Contains(got, "iface vmbr0 inet manual\n\tbridge-ports none\n") || strings.Contains(got, "eno1") {
		t.Errorf("wifi: interfaces:\n%s", got)
	}
	mustClear(t, l, "pve1")
	want = "vmbr0 198.51.100.11/24\n" +
		"eno1 device master=vmbr0 duplex=full speed=10000 mtu=1500\n" +
		"vmbr0 bridge duplex=unknown speed=10000 mtu=1500\n"
	if got := netShape(t, l, "pve1"); got != want {
		t.Errorf("after clear: pve1's network:\n%s\nwant:\n%s", got, want)
	}
	if got := mustSSH(t, l, "pve1", "cat /etc/network/interfaces"); !strings.Contains(got, "bridge-ports eno1") || strings.Contains(got, "wlp0s20f3") {
		t.Errorf("after clear: interfaces:\n%s", got)
	}
}

// checkHalfDuplex: the NIC reads half duplex at 100 Mbit/s (its bridge, which reports
// its port's speed, 100 too), and still does after a restart; clear gives full duplex back.
func checkHalfDuplex(t *testing.T, l *Lab) {
	half := "vmbr0 198.51.100.11/24\n" +
		"eno1 device master=vmbr0 duplex=half speed=100 mtu=1500\n" +
		"vmbr0 bridge duplex=unknown speed=100 mtu=1500\n"
	mustFault(t, l, "pve1", "half-duplex")
	if got := netShape(t, l, "pve1"); got != half {
		t.Errorf("half-duplex: pve1's network:\n%s\nwant:\n%s", got, half)
	}
	mustFault(t, l, "pve1", "restart")
	if got := netShape(t, l, "pve1"); got != half {
		t.Errorf("half-duplex after restart: pve1's network:\n%s\nwant:\n%s", got, half)
	}
	mustClear(t, l, "pve1")
	if got := mustSSH(t, l, "pve1", "cat /sys/class/net/eno1/duplex /sys/class/net/eno1/speed"); got != "full\n10000\n" {
		t.Errorf("after clear: eno1 duplex and speed %q", got)
	}
}

// checkMTU: under mtu 1400, ip link shows it on vmbr0 and eno1; pve2 refuses to send
// a datagram beyond it unfragmented and fragments one sent without DF (the controller
// reassembles it), and a frame beyond it from the controller (MTU 1500) is lost.
func checkMTU(t *testing.T, l *Lab) {
	// ip -o link: "2: eno1@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc ... master vmbr0 ..."
	mtuShown := func(mtu int) bool {
		out := mustSSH(t, l, "pve2", "ip -o link show dev eno1; ip -o link show dev vmbr0")
		ok := strings.Count(out, fmt.Sprintf(" mtu %d ", mtu)) == 2
		if !ok {
			t.Errorf("want mtu %d on eno1 and vmbr0; ip link shows:\n%s", mtu, out)
		}
		return ok
	}
	dfSend := func(payload int) string {
		r, err := l.NetExec(ctxT(t), "pve2", probeArgv("udp-df", "198.51.100.100:5413", fmt.Sprintf("%s=%d", payloadEnv, payload))...)
		if err != nil || r.Code != 0 {
			t.Fatalf("udp-df from pve2: %v %+v", err, r)
		}
		return strings.TrimSpace(r.Stdout)
	}
	reassembled := func() int {
		out := mustNetExec(t, l, "ctl", "cat", "/proc/net/snmp")
		var names []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "Ip:" {
				continue
			}
			if names == nil {
				names = f
				continue
			}
			for i, n := range names {
				if n == "ReasmOKs" && i < len(f) {
					v, _ := strconv.Atoi(f[i])
					return v
				}
			}
		}
		t.Fatalf("no Ip ReasmOKs in ctl's /proc/net/snmp:\n%s", out)
		return 0
	}
	mustFault(t, l, "pve2", "mtu", "1400")
	mtuShown(1400)
	if got := dfSend(1400 - 28); got != "sent" {
		t.Errorf("mtu 1400: a 1400-byte datagram with DF: %s", got)
	}
	if got := dfSend(1400 - 27); !strings.Contains(got, "message too long") {
		t.Errorf("mtu 1400: a 1401-byte datagram with DF: %q, want message too long", got)
	}
	before := reassembled()
	if n := udpProbeSize(t, l, "pve2", "ctl", 5413, 1472); n < 90 {
		t.Errorf("mtu 1400: 1500-byte datagrams from pve2 (fragmented): %d/100 arrived", n)
	}
	if n := reassembled() - before; n < 90 {
		t.Errorf("mtu 1400: the controller reassembled %d datagrams from pve2, want about 100", n)
	}
	if n := udpProbeSize(t, l, "ctl", "pve2", 5413, 1472); n != 0 {
		t.Errorf("mtu 1400: 1500-byte datagrams to pve2: %d/100 arrived, want none", n)
	}
	if n := udpProbeSize(t, l, "ctl", "pve2", 5413, 1372); n < 90 {
		t.Errorf("mtu 1400: 1400-byte datagrams to pve2: %d/100 arrived", n)
	}
	mustClear(t, l, "pve2")
	mtuShown(1500)
	if n := udpProbeSize(t, l, "ctl", "pve2", 5413, 1472); n < 90 {
		t.Errorf("after clear: 1500-byte datagrams to pve2: %d/100 arrived", n)
	}
}

func checkPvesimFaults(t *testing.T, l *Lab) {
	mustFault(t, l, "pve3", "pveversion", "8.4.1")
	if got := mustSSH(t, l, "pve3", "pveversion"); !strings.Contains(got, "8.4.1") {
		t.Errorf("pveversion fault: pveversion says %q", got)
	}
	mustClear(t, l, "pve3")
	if got := mustSSH(t, l, "pve3", "pveversion"); !strings.Contains(got, pveVersion) {
		t.Errorf("after clear: pveversion says %q", got)
	}
}

func checkCrashRestart(t *testing.T, l *Lab) {
	mustSSH(t, l, "pve2", "echo kept > /root/marker; echo gone > /tmp/marker")
	mustFault(t, l, "pve2", "crash")
	r, err := l.Exec(ctxT(t), "ctl", nil, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "pve2", "true")
	if err != nil || r.Code != 255 {
		t.Errorf("ssh to a crashed host: %+v %v", r, err)
	}
	if _, err := l.Exec(ctxT(t), "pve2", nil, "true"); err == nil {
		t.Errorf("console of a crashed host works")
	}
	mustFault(t, l, "pve2", "restart")
	if got := mustSSH(t, l, "pve2", "cat /root/marker; cat /tmp/marker 2>/dev/null; hostname"); got != "kept\npve2\n" {
		t.Errorf("after restart: %q", got)
	}
}

func checkReinstall(t *testing.T, l *Lab) {
	keyscan := func() string { return mustExec(t, l, "ctl", "ssh-keyscan", "-t", "ed25519", "pve3") }
	// served is the SHA-256 fingerprint of the certificate pve3 serves on 8006, as the
	// controller sees it ("" until pveproxy answers).
	served := func() string {
		return mustExec(t, l, "ctl", "sh", "-c", "openssl s_client -connect 198.51.100.13:8006 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null")
	}
	oldKey := keyscan()
	oldCert := served()
	if !strings.HasPrefix(oldCert, "sha256 Fingerprint=") {
		t.Fatalf("pve3 serves no certificate on 8006: %q", oldCert)
	}
	oldID := mustExec(t, l, "pve3", "cat", "/etc/machine-id")
	mustExec(t, l, "pve3", "sh", "-c", "echo x > /root/marker")
	mustFault(t, l, "pve3", "reinstall")
	if keyscan() == oldKey {
		t.Errorf("reinstall kept the host key")
	}
	if mustExec(t, l, "pve3", "cat", "/etc/machine-id") == oldID {
		t.Errorf("reinstall kept the machine-id")
	}
	var newCert string
	if err := waitFor(ctxT(t), 10*time.Second, func() bool {
		newCert = served()
		return strings.HasPrefix(newCert, "sha256 Fingerprint=")
	}); err != nil || newCert == oldCert {
		t.Errorf("API certificate after reinstall: %q (before: %q), %v", newCert, oldCert, err)
	}
	if r, _ := l.Exec(ctxT(t), "pve3", nil, "test", "-e", "/root/marker"); r.Code == 0 {
		t.Errorf("reinstall kept /root/marker")
	}
	r, err := l.SSH(ctxT(t), "pve3", "true")
	if err != nil || r.Code != 255 || !strings.Contains(r.Stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh after reinstall: %+v %v", r, err)
	}
	if err := l.Trust(ctxT(t), "pve3"); err != nil {
		t.Fatal(err)
	}
	mustSSH(t, l, "pve3", "true")
}

// checkRestartNoisy: a restart brings the host back with its faults, even one under
// which the controller's login check cannot succeed; clear still undoes it.
func checkRestartNoisy(t *testing.T, l *Lab) {
	mustFault(t, l, "pve1", "noisy-bashrc")
	mustFault(t, l, "pve1", "restart")
	if got := mustSSH(t, l, "pve1", "hostname"); !strings.HasPrefix(got, "Welcome to pve1!") || !strings.HasSuffix(got, "\npve1\n") {
		t.Errorf("after restart with noisy-bashrc: ssh hostname printed %q", got)
	}
	mustClear(t, l, "pve1")
	if got := mustSSH(t, l, "pve1", "hostname"); got != "pve1\n" {
		t.Errorf("after clear: ssh hostname printed %q", got)
	}
}
