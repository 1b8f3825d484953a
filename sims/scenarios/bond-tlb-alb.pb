# balance-tlb and balance-alb: each bond is h1's (h5's) own interface, two
# members to a switch with three peers. TLB spreads what the host sends
# over the members by load, rebalancing every 10 s (at first every
# destination lands on the same member: no load is known yet); it receives
# on the active member only. ALB also spreads what it receives: each peer
# is answered, in ARP, with the address of the member it should use.
seed 16
link add tb type bond mode balance-tlb address 02:00:00:00:0c:01
link add sw type bridge
wire t1 s1 delay 1ms
wire t2 s2 delay 1ms
link set t1 master tb
link set t2 master tb
link set s1 master sw
link set s2 master sw
host h1 mac 02:00:00:00:0c:01 ip 198.18.1.1
host h2 ip 198.18.1.2
host h3 ip 198.18.1.3
host h4 ip 198.18.1.4
wire h1 tb
wire h2 sp2
wire h3 sp3
wire h4 sp4
link set sp2 master sw
link set sp3 master sw
link set sp4 master sw
link set sw up
link set tb up
link add ab type bond mode balance-alb address 02:00:00:00:0d:01
link add sw2 type bridge
wire a1 r1 delay 1ms
wire a2 r2 delay 1ms
link set a1 master ab
link set a2 master ab
link set r1 master sw2
link set r2 master sw2
host h5 mac 02:00:00:00:0d:01 ip 198.18.2.1
host h6 ip 198.18.2.2
host h7 ip 198.18.2.3
host h8 ip 198.18.2.4
wire h5 ab
wire h6 rp6
wire h7 rp7
wire h8 rp8
link set rp6 master sw2
link set rp7 master sw2
link set rp8 master sw2
link set sw2 up
link set ab up
run 1s
ping h1 h2 count 30 interval 1s
ping h1 h3 count 30 interval 1s
ping h1 h4 count 30 interval 1s
ping h6 h5 count 30 interval 1s
ping h7 h5 count 30 interval 1s
ping h8 h5 count 30 interval 1s
run 32s
expect replies h1 h2 == 30
expect replies h1 h3 == 30
expect replies h1 h4 == 30
expect replies h6 h5 == 30
expect replies h7 h5 == 30
expect replies h8 h5 == 30
# TLB: both members sent (after the first rebalance), one received.
expect counter t1 tx >= 20
expect counter t2 tx >= 20
expect counter t2 rx <= 5
# ALB: both members received the peers' requests.
expect counter a1 rx >= 20
expect counter a2 rx >= 20
