# A random mesh of 12 bridges with lossy, jittery wires: every loss and
# every jitter comes from the seed, so a seed names one outcome exactly.
# A meshed topology loops without spanning tree, so this uses a random
# tree (degree 1: N-1 wires) and puts loss and jitter on the host wires.
seed 5
topology random 12 degree 1 hosts 4 delay 200us
host h9
wire h9 s1p9 delay 1ms jitter 500us loss 5%
link set s1p9 master s1
traffic h9 h1 rate 200 for 5s
traffic h1 h9 rate 200 for 5s
ping h2 h3 count 5 interval 200ms
run 6s
expect delivered h9 h1 >= 85%
expect delivered h1 h9 >= 85%
expect duplicates h9 h1 == 0
expect replies h2 h3 == 5
