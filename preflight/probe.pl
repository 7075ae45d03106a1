# quorate probe agent v1 (preflight/probe.pl), run as `perl - ARGS` with this script on stdin.
# One runs on every node at once. Each binds its corosync link addresses on UDP 5405+link,
# probes every peer's, echoes what peers send, and connects to the peers' TCP ports; it prints
# what it saw and exits when every peer has said it is done, or at the deadline. alarm ends it
# even if quorate is gone. Where the port is held (corosync on a member), a raw socket sees
# the datagrams that passed the INPUT firewall, and echoes leave from that port too: corosync
# is not disturbed beyond a few datagrams it drops as not its own.
# Round trips are measured as NTP does, so that a busy CPU (the preflight itself, a loaded
# host) does not read as latency: the prober's send time, the peer's kernel receive time and
# its send time (sent back as the echo's turnaround, which is subtracted), and the kernel
# receive time of the echo (SIOCGSTAMPNS). Kernel stamps are on the real clock, which
# libfaketime (the lab's skew) does not move: the agent measures its own clock's offset from
# the kernel's on loopback first.
# Core Perl only (Socket, Time::HiRes, Errno, Fcntl), as on every PVE host.
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_DGRAM SOCK_RAW SOCK_STREAM IPPROTO_UDP IPPROTO_TCP
	IPPROTO_IPV6 SOL_SOCKET SO_ERROR MSG_DONTWAIT inet_pton inet_ntop
	pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC time);
use Errno qw(EINPROGRESS EADDRINUSE ECONNREFUSED);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);

my %o = (me => 0, token => 'x', base => 5405, dur => 1500, want => 16, max => 64, gap => 4,
	tcpwait => 800, alarm => 5);
my (@binds, @peers, @tcps);
for (@ARGV) {
	my ($k, $v) = split /=/, $_, 2;
	next unless defined $v;
	if ($k eq 'bind') { push @binds, [split /,/, $v] }   # LINK,ADDR
	elsif ($k eq 'peer') { push @peers, [split /,/, $v] } # NODE,LINK,ADDR
	elsif ($k eq 'tcp') { push @tcps, [split /,/, $v] }   # NODE,ADDR,PORT
	else { $o{$k} = $v }
}
alarm $o{alarm};
$| = 1;

sub now { clock_gettime(CLOCK_MONOTONIC) }
sub fam { $_[0] =~ /:/ ? AF_INET6 : AF_INET }
sub sa {
	my ($addr, $port) = @_;
	my $f = fam($addr);
	my $packed = inet_pton($f, $addr);
	die "bad address $addr\n" unless defined $packed;
	return $f == AF_INET6 ? pack_sockaddr_in6($port, $packed) : pack_sockaddr_in($port, $packed);
}
sub ms { sprintf '%.3f', $_[0] * 1000 }

# Kernel timestamps of received datagrams: SO_TIMESTAMP (29) turns them on, SIOCGSTAMPNS
# (0x8907) reads the last one of a socket.
sub stamped { setsockopt($_[0], SOL_SOCKET, 29, pack('i', 1)) }
sub kstamp {
	my $ts = pack('l!l!', 0, 0);
	return undef unless ioctl($_[0], 0x8907, $ts);
	my ($sec, $ns) = unpack('l!l!', $ts);
	return $sec > 0 ? $sec + $ns / 1e9 : undef;
}
# rt is now on the kernel's real clock: this process's clock corrected by its offset.
my $off = 0;
sub rt { time() + $off }
{
	my $c;
	if (socket($c, AF_INET, SOCK_DGRAM, IPPROTO_UDP) && stamped($c) && bind($c, sa('127.0.0.1', 0))) {
		my $self = getsockname($c);
		my $best;
		for (1 .. 5) {
			my $a = time();
			send($c, 'x', 0, $self);
			my $b = time();
			recv($c, my $buf, 16, 0);
			my $k = kstamp($c);
			next unless defined $k;
			if (!defined $best || $b - $a < $best) { ($best, $off) = ($b - $a, $k - ($a + $b) / 2) }
		}
		close $c;
	}
}

print "quorate-probe v1 me=$o{me}\n";
my $start = now();
my $end = $start + $o{dur} / 1000;
my $gap = $o{gap} / 1000;

# Sockets: one per link; raw mode keeps the raw watcher and an ephemeral socket to probe from.
my (%link, %sock);
for my $b (@binds) {
	my ($l, $addr) = @$b;
	my $port = $o{base} + $l;
	my $f = fam($addr);
	my ($s, $r, $e);
	unless (socket($s, $f, SOCK_DGRAM, IPPROTO_UDP)) { print "bind $l error $addr $port $!\n"; next }
	stamped($s);
	if (bind($s, sa($addr, $port))) {
		$link{$l} = { addr => $addr, port => $port, fam => $f, send => $s, mode => 'udp' };
		$sock{fileno $s} = [$s, $l, 'udp'];
		print "bind $l udp $addr $port\n";
		next;
	}
	my $why = "$!";
	unless ($!{EADDRINUSE}) { print "bind $l error $addr $port $why\n"; next }
	close $s;
	if (socket($r, $f, SOCK_RAW, IPPROTO_UDP) && stamped($r) && bind($r, sa($addr, 0))
		&& socket($e, $f, SOCK_DGRAM, IPPROTO_UDP) && stamped($e) && bind($e, sa($addr, 0))) {
		# IPV6_CHECKSUM (7): the kernel fills in the UDP checksum of the echoes sent raw.
		setsockopt($r, IPPROTO_IPV6, 7, pack('i', 6)) if $f == AF_INET6;
		$link{$l} = { addr => $addr, port => $port, fam => $f, send => $e, raw => $r, mode => 'raw' };
		$sock{fileno $r} = [$r, $l, 'raw'];
		$sock{fileno $e} = [$e, $l, 'udp'];
		print "bind $l raw $addr $port\n";
	} else {
		print "bind $l busy $addr $port $!\n";
	}
}

# Peers: what we send them (tx) and what they send us (rx), per NODE,LINK.
my (%tx, %rx);
for my $p (@peers) {
	my ($n, $l, $addr) = @$p;
	next unless $link{$l};
	$tx{"$n,$l"} = { node => $n, link => $l, to => sa($addr, $o{base} + $l), seq => 0, next => $start,
		sent => 0, rtt => [], fins => 0, done => 0 };
	$rx{"$n,$l"} = { got => 0, first => -1, last => -1, fin => 0 };
}

# TCP: non-blocking connects, all at once.
my %tcp;
for my $t (@tcps) {
	my ($n, $addr, $port) = @$t;
	my $key = "$n $addr $port";
	my $s;
	my $c = { s => undef, state => 'pending', t0 => now() };
	$tcp{$key} = $c;
	unless (socket($s, fam($addr), SOCK_STREAM, IPPROTO_TCP)) { @$c{qw(state why)} = ('error', "$!"); next }
	fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK);
	$c->{s} = $s;
	if (connect($s, sa($addr, $port))) { $c->{state} = 'ok'; $c->{t} = now(); close $s }
	elsif ($!{EINPROGRESS}) { }
	elsif ($!{ECONNREFUSED}) { @$c{qw(state t)} = ('refused', now()) }
	else { @$c{qw(state why t)} = ('error', "$!", now()) }
}

sub msg { join ' ', 'QP1', $o{token}, @_ }

# reply sends an echo the way the probe came: from the link's socket, or raw from the held
# port so that the echo belongs to the prober's flow for any stateful firewall.
sub reply {
	my ($lk, $kind, $payload, $from, $srcaddr, $srcport) = @_;
	if ($kind eq 'raw') {
		my $udp = pack('nnnn', $lk->{port}, $srcport, 8 + length($payload), 0) . $payload;
		send($lk->{raw}, $udp, 0, sa($srcaddr, 0));
	} else {
		send($lk->{send}, $payload, 0, $from);
	}
}

# handle takes one datagram that arrived at $at (kernel time) on link $l.
sub handle {
	my ($l, $kind, $data, $at, $from, $srcaddr, $srcport) = @_;
	my @f = split / /, $data;
	return unless @f >= 8 && $f[0] eq 'QP1' && $f[1] eq $o{token} && $f[5] eq $l;
	my ($type, $a, $b, $seq, $ts) = @f[2, 3, 4, 6, 7];
	if ($type eq 'P' && $b eq $o{me}) {
		my $r = $rx{"$a,$l"} or return;
		$r->{got}++;
		$r->{first} = $seq if $r->{first} < 0 || $seq < $r->{first};
		$r->{last} = $seq if $seq > $r->{last};
		# The turnaround (how long the probe waited here, in the socket and for the CPU)
		# goes back with the echo, taken last before it is sent.
		my $turn = int((rt() - $at) * 1e6);
		$turn = 0 if $turn < 0;
		reply($link{$l}, $kind, msg('E', $a, $b, $l, $seq, $ts, $turn), $from, $srcaddr, $srcport);
	} elsif ($type eq 'E' && $a eq $o{me}) {
		my $t = $tx{"$b,$l"} or return;
		$t->{echoed}{$seq} = 1;
		$t->{alive} = 1;
		my $rtt = int(($at - $ts) * 1e6) - ($f[8] || 0);
		push @{ $t->{rtt} }, $rtt < 0 ? 0 : $rtt;
	} elsif ($type eq 'F' && $b eq $o{me}) {
		my $r = $rx{"$a,$l"} or return;
		$r->{fin} = 1;
	}
}

sub drain {
	my ($s, $l, $kind) = @_;
	my $lk = $link{$l};
	for (1 .. 256) {
		my $buf;
		my $from = recv($s, $buf, 4096, MSG_DONTWAIT);
		last unless defined $from;
		my $at = kstamp($s) // rt();
		if ($kind ne 'raw') { handle($l, $kind, $buf, $at, $from); next }
		my ($srcaddr, $udp);
		if ($lk->{fam} == AF_INET) {
			next if length($buf) < 28;
			my $ihl = (ord(substr($buf, 0, 1)) & 15) * 4;
			$srcaddr = inet_ntop(AF_INET, substr($buf, 12, 4));
			$udp = substr($buf, $ihl);
		} else {
			(undef, my $a6) = unpack_sockaddr_in6($from);
			$srcaddr = inet_ntop(AF_INET6, $a6);
			$udp = $buf;
		}
		next if length($udp) < 8;
		my ($sp, $dp, $len) = unpack('nnn', $udp);
		next unless $dp == $lk->{port};
		handle($l, 'raw', substr($udp, 8, $len - 8), $at, undef, $srcaddr, $sp);
	}
}

while (1) {
	my $t = now();
	last if $t >= $end;
	my $wake = $end;
	my $busy = 0;
	for my $x (values %tx) {
		if (!$x->{done}) {
			if ($t >= $x->{next}) {
				send($link{ $x->{link} }{send}, msg('P', $o{me}, $x->{node}, $x->{link}, $x->{seq}, sprintf('%.6f', rt())), 0, $x->{to});
				$x->{seq}++;
				$x->{sent}++;
				$x->{after}++ if $x->{alive};
				# A peer that never answers is tried until the deadline, a slower pace after
				# max probes: it may only be starting, and a probe it never saw is a verdict.
				my $pace = !$x->{alive} && $x->{sent} >= $o{max} ? 4 * $gap : $gap;
				$x->{next} += $pace;
				$x->{next} = $t + $pace if $x->{next} < $t;
			}
			if (@{ $x->{rtt} } >= $o{want} || ($x->{after} || 0) >= $o{max}) {
				$x->{done} = 1;
				$x->{next} = $t;
			}
		}
		# Done: say so three times, a gap apart, in case one is lost.
		if ($x->{done} && $x->{fins} < 3 && $t >= $x->{next}) {
			send($link{ $x->{link} }{send}, msg('F', $o{me}, $x->{node}, $x->{link}, 0, 0), 0, $x->{to});
			$x->{fins}++;
			$x->{next} = $t + $gap;
		}
		next if $x->{done} && $x->{fins} >= 3;
		$busy = 1;
		$wake = $x->{next} if $x->{next} < $wake;
	}
	for my $r (values %rx) { $busy = 1 unless $r->{fin} }
	my ($rin, $win) = ('', '');
	vec($rin, $_, 1) = 1 for keys %sock;
	for my $c (values %tcp) {
		next unless $c->{state} eq 'pending';
		if ($t - $c->{t0} >= $o{tcpwait} / 1000) { @$c{qw(state t)} = ('timeout', $t); close $c->{s}; next }
		vec($win, fileno $c->{s}, 1) = 1;
		$busy = 1;
		my $w = $c->{t0} + $o{tcpwait} / 1000;
		$wake = $w if $w < $wake;
	}
	last unless $busy;
	my $wait = $wake - now();
	$wait = 0 if $wait < 0;
	my $n = select(my $rout = $rin, my $wout = $win, undef, $wait);
	next unless $n && $n > 0;
	for my $fd (keys %sock) {
		drain(@{ $sock{$fd} }) if vec($rout, $fd, 1);
	}
	for my $c (values %tcp) {
		next unless $c->{state} eq 'pending' && vec($wout, fileno $c->{s}, 1);
		my $err = unpack('i', getsockopt($c->{s}, SOL_SOCKET, SO_ERROR));
		$c->{t} = now();
		if ($err == 0) { $c->{state} = 'ok' }
		elsif ($err == ECONNREFUSED) { $c->{state} = 'refused' }
		else { local $! = $err; @$c{qw(state why)} = ('error', "$!") }
		close $c->{s};
	}
}

for my $k (sort keys %tx) {
	my $x = $tx{$k};
	my $r = $rx{$k};
	my @rtt = @{ $x->{rtt} };
	splice(@rtt, 64) if @rtt > 64;
	printf "tx %d %s sent=%d echoed=%d rtt=%s\n", $x->{link}, $x->{node}, $x->{sent},
		scalar(keys %{ $x->{echoed} || {} }), join(',', @rtt);
	printf "rx %d %s got=%d first=%d last=%d fin=%d\n", $x->{link}, $x->{node}, $r->{got}, $r->{first}, $r->{last}, $r->{fin};
}
for my $k (sort keys %tcp) {
	my $c = $tcp{$k};
	my $state = $c->{state} eq 'pending' ? 'timeout' : $c->{state};
	my $took = defined $c->{t} ? ms($c->{t} - $c->{t0}) : ms(now() - $c->{t0});
	my $why = defined $c->{why} ? " $c->{why}" : '';
	print "tcp $k $state $took$why\n";
}
print "end ", ms(now() - $start), "\n";
