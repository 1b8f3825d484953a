# Two bridges, both configured as querier, on one link. For MLD they
# elect the querier with the lowest address: each queries from the
# link-local address of its MAC, s1's is lower, so s2 falls silent and
# hears s1 on s2p1. For IGMP both query from 0.0.0.0 (no address on the
# bridge, the kernel's default), and 0.0.0.0 always yields to what it
# hears: each takes the other for the querier, as two kernel bridges do.
seed 2
link add s1 address 02:00:00:00:00:01 type bridge mcast_querier 1
link add s2 address 02:00:00:00:00:02 type bridge mcast_querier 1
link set s1 up
link set s2 up
host h1 ip6 fd00::1
host h2 ip6 fd00::2
wire h1 s1p1
wire s1p2 s2p1 delay 1ms
wire s2p2 h2
link set s1p1 master s1
link set s1p2 master s1
link set s2p1 master s2
link set s2p2 master s2

run 1s
expect querier s1 ipv6 self
expect querier s2 ipv6 s2p1
expect mdb s2 router s2p1 yes
expect querier s1 ipv4 s1p2
expect querier s2 ipv4 s2p1

# h2 joins behind s2: s2's report goes to its router port, so s1 learns
# the group on s1p2, and h1's data crosses both bridges to h2 only.
join h2 ff0e::42
run 12s
expect mdb s2 has ff0e::42 on s2p2
expect mdb s1 has ff0e::42 on s1p2
mcast h1 ff0e::42 count 8
run 100ms
expect received h2 ff0e::42 == 8

# s1 goes away: s2 hears no querier for querier_interval (255 s), then
# takes over.
wire s1p2 s2p1 down
run 256s
expect querier s2 ipv6 self
