# time server of the quorate lab
local stratum 8
allow 198.51.100.0/24
allow 203.0.113.0/24
driftfile /var/lib/chrony/chrony.drift
pidfile /run/chrony/chronyd.pid
