# RSTP next to an STP-only bridge (802.1D-2004 17.24, Port Protocol
# Migration). s1 and s3 run RSTP (mstpd), s2 runs the kernel's 802.1D.
# The s1-s3 link converges at once by proposal and agreement. On the links
# to s2, RSTP hears config BPDUs and, once the migration delay (3 s) has
# passed, stops sending RST BPDUs (send-rstp no) and talks 802.1D to s2,
# which then learns the root. Those ports get no agreement, so they take
# the slow path: a designated port waits fdWhile = max age (20 s) in
# discarding, then forward delay (15 s) in learning; s2's own ports go
# through listening and learning (30 s).
seed 3
link add s1 type bridge stp_state 1 address 02:00:00:00:00:01
link add s2 type bridge stp_state 1 address 02:00:00:00:00:02
link add s3 type bridge stp_state 1 address 02:00:00:00:00:03
mstpctl addbridge s1 s3
link set s1 up
link set s2 up
link set s3 up
wire s1p1 s2p1 delay 1ms
wire s1p2 s3p1 delay 1ms
wire s2p2 s3p2 delay 1ms
link set s1p1 master s1
link set s1p2 master s1
link set s2p1 master s2
link set s2p2 master s2
link set s3p1 master s3
link set s3p2 master s3
run 1s
expect stp s3 root s1
expect port s1p2 state forwarding
expect port s3p1 state forwarding
expect port s3p1 role root
expect mstpctl s1 s1p2 send-rstp yes
expect port s1p1 state blocking
run 7s
expect mstpctl s1 s1p1 send-rstp no
expect mstpctl s3 s3p2 send-rstp no
expect mstpctl s1 s1p2 send-rstp yes
expect stp s2 root s1
expect port s1p1 role designated
run 13s
expect port s1p1 state learning
run 10s
expect port s2p1 state forwarding
expect port s1p1 state learning
run 5s
expect port s1p1 state forwarding
expect ports blocking == 1
expect spanning-tree
