# The root bridge dies under RSTP: its device goes down, its wires stay
# up, so its neighbours keep carrier and just stop hearing BPDUs. Received
# information ages out after 3 x hello (6 s; 802.1D needed max_age, 20 s),
# the next best bridge (s2) becomes the root, and proposal/agreement
# rebuilds the tree at once.
seed 4
topology ring 4 stp rstp hosts 2 delay 1ms
mstpctl settreeprio s1 0 1
mstpctl settreeprio s2 0 2
run 10s
expect stp s3 root s1
expect spanning-tree
at 20s link set s1 down
run 15s
# 5 s after: still s1's information.
expect stp s4 root s1
run 2s
expect stp s3 root s2
expect stp s4 root s2
expect stp s2 root is-root
expect spanning-tree
# The two ports facing the dead bridge get no agreement. They learn after
# fdWhile (hello time, 2 s, towards an RSTP neighbour) and forward once
# they are taken for edge ports: 3 s (migrate time) after their proposal
# with no BPDU heard. Nothing moves after that.
run 3s
expect port s2p1 state forwarding
expect settled before 29500ms
ping h2 h1 count 3 interval 1s
run 5s
expect replies h2 h1 == 0
