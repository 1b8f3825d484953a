# The root bridge dies: its device goes down, its wires stay up, so nobody
# loses carrier. Its neighbours just stop hearing BPDUs and keep the stale
# root information until max_age (20 s) expires; then a new root is elected
# (the next lowest priority, s2) and ports go through listening and
# learning again: 20 s + 2 x 15 s.
seed 4
topology ring 4 stp 1 hosts 2 delay 1ms
link set s1 type bridge priority 4096
link set s2 type bridge priority 8192
run 40s
expect stp s3 root s1
expect spanning-tree
at 45s link set s1 down
run 10s
# 10 s later: still the stale root information, through the dead bridge.
expect stp s4 root s1
expect stp s4 root-port s4p2
run 60s
expect stp s3 root s2
expect stp s4 root s2
expect stp s2 root is-root
expect spanning-tree
ping h2 h1 count 3 interval 1s
run 5s
expect replies h2 h1 == 0
