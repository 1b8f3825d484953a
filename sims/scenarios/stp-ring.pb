# 802.1D as the kernel runs it: a ring of four bridges. s1 gets the lowest
# priority and becomes the root; the ring blocks exactly one port, on the
# segment farthest from the root; ports reach forwarding after
# listening + learning = 2 x forward_delay = 30 s.
seed 1
topology ring 4 stp 1 hosts 2 delay 1ms
link set s1 type bridge priority 4096
run 29s
expect stp s2 root s1
expect stp s3 root s1
expect stp s1 root is-root
expect ports forwarding == 0
expect port s2p1 state learning
run 2s
expect port s2p1 state forwarding
expect ports blocking == 1
expect spanning-tree
ping h1 h2 count 5 interval 1s
run 10s
expect replies h1 h2 == 5
