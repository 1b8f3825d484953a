# Each mode's distribution: a pair of bonds back to back over two wires,
# each bond a port of a bridge with a host behind it. h1 sends 200 frames
# of one flow to h2 (and 200 broadcasts for the broadcast pair).
seed 11
link add rr1 type bond mode balance-rr
link add rr2 type bond mode balance-rr
link add xo1 type bond mode balance-xor xmit_hash_policy layer3+4
link add xo2 type bond mode balance-xor xmit_hash_policy layer3+4
link add bc1 type bond mode broadcast
link add bc2 type bond mode broadcast
link add ra type bridge
link add rb type bridge
link add xa type bridge
link add xb type bridge
link add ba type bridge
link add bb type bridge
wire r1 r3 delay 1ms
wire r2 r4 delay 1ms
wire x1 x3 delay 1ms
wire x2 x4 delay 1ms
wire c1 c3 delay 1ms
wire c2 c4 delay 1ms
link set r1 master rr1
link set r2 master rr1
link set r3 master rr2
link set r4 master rr2
link set x1 master xo1
link set x2 master xo1
link set x3 master xo2
link set x4 master xo2
link set c1 master bc1
link set c2 master bc1
link set c3 master bc2
link set c4 master bc2
link set rr1 master ra
link set rr2 master rb
link set xo1 master xa
link set xo2 master xb
link set bc1 master ba
link set bc2 master bb
host h1
host h2
host h3
host h4
host h5
host h6
wire h1 rap1
wire h2 rbp1
wire h3 xap1
wire h4 xbp1
wire h5 bap1
wire h6 bbp1
link set rap1 master ra
link set rbp1 master rb
link set xap1 master xa
link set xbp1 master xb
link set bap1 master ba
link set bbp1 master bb
link set rr1 up
link set rr2 up
link set xo1 up
link set xo2 up
link set bc1 up
link set bc2 up
link set ra up
link set rb up
link set xa up
link set xb up
link set ba up
link set bb up
run 1s
traffic h1 h2 rate 200 for 1s
traffic h3 h4 rate 200 for 1s
traffic h5 broadcast rate 200 for 1s
run 2s
expect delivered h1 h2 == 100%
expect delivered h3 h4 == 100%
# round-robin: alternate members, 100 each
expect counter r1 tx == 100
expect counter r2 tx == 100
# xor: one flow, one member
expect counter x1 tx >= 200
expect counter x2 tx <= 2
# broadcast: every frame on both members, so h6 gets each twice
expect counter c1 tx >= 200
expect counter c2 tx >= 200
expect counter bbp1 tx >= 400
expect counter bbp1 tx <= 404
# Failover in the load-balancing modes: a member's wire goes down as new
# flows start. Round-robin skips a member without carrier at once (the
# kernel's bond_slave_can_tx looks at the device); balance-xor keeps
# hashing onto it until the MII monitor takes it out of the usable set
# (within miimon, 100 ms: at most 20 frames at 200 frames/s).
at 4s wire r1 r3 down
at 4s wire x1 x3 down
run 1s
traffic h1 h2 rate 200 for 1s
traffic h3 h4 rate 200 for 1s
run 2s
expect delivered h1 h2 == 400
expect bond rr1 slave r1 link down
expect counter r2 tx == 300
expect delivered h3 h4 >= 380
expect counter x2 tx >= 180
expect drops x1 no_carrier <= 20
