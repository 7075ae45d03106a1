127.0.0.1 localhost.localdomain localhost
198.51.100.100 ctl.lab.test ctl
198.51.100.11 pve1.lab.test pve1
198.51.100.12 pve2.lab.test pve2
198.51.100.50 qnetd.lab.test qnetd

# The following lines are desirable for IPv6 capable hosts
::1     ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
ff02::3 ip6-allhosts
