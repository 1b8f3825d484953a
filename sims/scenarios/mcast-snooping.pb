# IGMP and MLD snooping on one bridge that is its own querier, as the
# kernel's bridge does it: h2 joins (IGMPv3 and MLDv2 reports, as a Linux
# host sends them), h1 sends, h3 has joined nothing.
seed 1
link add s1 type bridge mcast_querier 1
link set s1 up
host h1 ip6 fd00::1
host h2 ip6 fd00::2
host h3 ip6 fd00::3
wire h1 s1p1
wire h2 s1p2
wire h3 s1p3
link set s1p1 master s1
link set s1p2 master s1
link set s1p3 master s1

join h2 239.1.2.3
join h2 ff0e::1234
run 1s
expect mdb s1 has 239.1.2.3 on s1p2
expect mdb s1 has ff0e::1234 on s1p2
expect querier s1 ipv4 self

# Within the querier's start-up delay (one response interval, 10 s) the
# bridge still floods group data.
mcast h1 239.1.2.3 count 10
run 100ms
expect received h2 239.1.2.3 == 10
expect received h3 239.1.2.3 == 10

# After it, only the member gets it.
run 10s
mcast h1 239.1.2.3 count 10
mcast h1 ff0e::1234 count 10
run 100ms
expect received h2 239.1.2.3 == 20
expect received h3 239.1.2.3 == 10
expect received h2 ff0e::1234 == 10
expect received h3 ff0e::1234 == 0

# A group nobody joined goes to router ports only; there are none.
mcast h1 239.9.9.9 count 5
run 100ms
expect received h2 239.9.9.9 == 0
expect received h3 239.9.9.9 == 0

# The querier's general queries (every 125 s) keep h2 a member well past
# the membership interval (260 s).
run 600s
expect mdb s1 has 239.1.2.3 on s1p2

# h2 leaves: the querier asks s1p2 for other members (a group-specific
# query) and drops the port after last_member_count x
# last_member_interval, 2 s.
leave h2 239.1.2.3
run 1s
expect mdb s1 has 239.1.2.3 on s1p2
run 1100ms
expect mdb s1 lacks 239.1.2.3
mcast h1 239.1.2.3 count 5
run 100ms
expect received h2 239.1.2.3 == 20

# Fast leave on s1p3: an IGMPv2 leave removes the port at once.
bridge link set dev s1p3 fastleave on
join h3 239.4.4.4 v2
run 100ms
expect mdb s1 has 239.4.4.4 on s1p3
leave h3 239.4.4.4
run 10ms
expect mdb s1 lacks 239.4.4.4
