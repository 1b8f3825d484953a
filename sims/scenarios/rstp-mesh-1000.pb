# RSTP at scale: a random mesh of 1,000 bridges (about 1,500 links,
# seeded), all starting at once, converges by proposal and agreement to one
# loop-free tree, stays stable, and a broadcast then reaches every host
# exactly once. What bounds the cold start is the transmit hold count (6
# BPDUs per port per second) while every bridge's first claims to be root
# are overtaken.
seed 3
topology random 1000 degree 3 stp rstp hosts 8 delay 1ms
mstpctl settreeprio s1 0 1
run 10s
expect spanning-tree
expect stp s999 root s1
expect stp s500 root s1
run 50s
expect spanning-tree
expect settled before 10s
traffic h1 broadcast rate 10 for 2s
traffic h5 broadcast rate 10 for 2s
run 3s
expect broadcast h1 once
expect broadcast h5 once
# A link of the tree, at the root, fails: a thousand role and state
# changes in 10 ms rebuild the tree; one straggler waits a second for its
# transmit hold count.
at 70s wire s1p1 s2p1 down
run 10s
expect spanning-tree
expect settled before 72s
