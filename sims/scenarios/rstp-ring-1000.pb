# A ring of 1,000 bridges under RSTP. It cannot be one tree: with max_age
# at its largest (40) the root's information still reaches only 40 hops
# each way (see rstp-ring-diameter.pb), and 802.1D fares no better
# (ARCHITECTURE.md). What must hold is safety: the ring settles into a
# forest of trees, one root every ~2 x max_age bridges, with no loop, and a
# broadcast is never delivered twice.
seed 1
topology ring 1000 stp rstp hosts 4 delay 1ms
mstpctl settreeprio s1 0 1
mstpctl setfdelay s1 21
mstpctl setmaxage s1 40
run 60s
expect stp s41 root s1
expect stp s961 root s1
expect not stp s42 root s1
expect loop-free
expect settled before 50s
traffic h1 broadcast rate 10 for 2s
traffic h3 broadcast rate 10 for 2s
run 3s
expect broadcast h1 at-most-once
expect broadcast h3 at-most-once
