# Spanning tree at scale: a random mesh of 1,000 bridges (about 1,500
# links, seeded) running 802.1D converges to one loop-free tree, stays
# stable, and a broadcast then reaches every host exactly once.
seed 3
topology random 1000 degree 3 stp 1 hosts 8
link set s1 type bridge priority 4096
run 60s
expect spanning-tree
expect stp s999 root s1
run 120s
expect spanning-tree
expect stp s500 root s1
expect settled before 70s
traffic h1 broadcast rate 10 for 2s
traffic h5 broadcast rate 10 for 2s
run 3s
expect broadcast h1 once
expect broadcast h5 once
