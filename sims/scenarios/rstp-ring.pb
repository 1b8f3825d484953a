# RSTP (802.1w) as mstpd runs it: a ring of four bridges on point-to-point
# links. s1 gets tree priority 1 (4096) and becomes the root. Proposal and
# agreement run hop by hop, so the ring converges within milliseconds, not
# 30 s: exactly one port, on the segment farthest from the root, is
# Alternate and discarding. Host ports set as admin edge forward at once.
seed 1
topology ring 4 stp rstp hosts 2 delay 1ms
mstpctl settreeprio s1 0 1
mstpctl setportadminedge s1 s1p3 yes
run 1s
expect stp s2 root s1
expect stp s3 root s1
expect stp s4 root s1
expect stp s1 root is-root
expect port s1p1 role designated
expect port s2p1 role root
expect port s3p1 role root
expect port s3p2 role alternate
expect port s4p2 role root
expect port s3p2 state blocking
expect port s1p3 edge yes
expect port s1p3 state forwarding
expect port s4p3 state blocking
expect ports blocking == 2
expect settled before 50ms
expect spanning-tree
# s4p3 has no admin edge: it is found to be an edge (no BPDU heard) when
# edgeDelayWhile (migrate time, 3 s on a p2p link) runs out.
run 3s
expect port s4p3 edge yes
expect port s4p3 state forwarding
ping h1 h2 count 3 interval 1s
run 5s
expect replies h1 h2 == 3
expect fdb s3 has h1 on s3p1
# The link between the root and s2 fails: s3's alternate port becomes its
# root port at once, s3p1 turns designated and hands s2 a proposal.
at 10s wire s1p1 s2p1 down
run 2s
expect port s3p2 role root
expect port s3p1 role designated
expect port s2p2 role root
expect settled before 10200ms
expect spanning-tree
# The topology change flushed what s3 had learned on its other ports.
expect fdb s3 lacks h1
ping h2 h1 count 3 interval 1s
run 5s
expect replies h2 h1 == 3
# Recovery: the link comes back, s2 takes it as root port again and the
# ring blocks at s3 as before.
at 20s wire s1p1 s2p1 up
run 5s
expect port s2p1 role root
expect port s3p2 role alternate
expect settled before 20500ms
expect spanning-tree
