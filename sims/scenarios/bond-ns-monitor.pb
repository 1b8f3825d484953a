# The ARP monitor with an IPv6 target (`ns_ip6_target`, kernels 6.0 and
# later): the bond probes with neighbour solicitations instead of ARP
# requests. As bond-arp-monitor.pb: the bond is h1's own interface, its
# members go to two switches that both reach the target h2, and sw1's
# uplink fails while every carrier stays up. h1 has no IPv6 address, so
# the solicitations come from :: and h2 answers all nodes (RFC 4861
# 7.2.4); arp_validate active takes only those answers as life on the
# active member.
seed 16
link add ab type bond mode active-backup arp_interval 100 ns_ip6_target fd00::2 arp_validate active address 02:00:00:00:0b:01
link add sw1 type bridge
link add sw2 type bridge
link add core type bridge
wire a1 s1 delay 1ms
wire a2 s2 delay 1ms
wire u1 c1 delay 1ms
wire u2 c2 delay 1ms
link set a1 master ab
link set a2 master ab
link set s1 master sw1
link set u1 master sw1
link set s2 master sw2
link set u2 master sw2
link set c1 master core
link set c2 master core
host h1 mac 02:00:00:00:0b:01 ip 198.18.0.1
host h2 ip 198.18.0.2 ip6 fd00::2
wire h1 ab
wire h2 cp1
link set cp1 master core
link set sw1 up
link set sw2 up
link set core up
link set ab up
run 3s
expect bond ab active a1
expect bond ab slave a1 link up
expect bond ab slave a2 link up
traffic h1 h2 rate 100 for 6s
at 4s wire u1 c1 down
run 2s
expect bond ab active a2
expect link ab up
run 5s
expect delivered h1 h2 >= 560
