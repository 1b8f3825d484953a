# BPDU guard: a BPDU on a guarded port disables it (an edge port where a
# switch was plugged in). Root guard (root_block): a port that would become
# the root port is kept from it and stays listening.
seed 6
link add s1 type bridge stp_state 1 priority 4096
link add s2 type bridge stp_state 1 priority 8192
link add s3 type bridge stp_state 1
link set s1 up
link set s2 up
link set s3 up
wire s1p1 s2p1
wire s2p2 s3p1
link set s1p1 master s1
link set s2p1 master s2
link set s2p2 master s2
link set s3p1 master s3
# s2p2 faces s3, which should never be a path to the root: guard it.
bridge link set dev s2p2 root_block on
run 35s
expect stp s3 root s1
expect port s2p2 state forwarding
# s3 suddenly claims to be the best root: s2 refuses to make s2p2 its root port.
link set s3 type bridge priority 0
run 5s
expect stp s2 root-port s2p1
expect port s2p2 state listening
# BPDU guard on s2p1, which hears s1's BPDUs every hello_time: the next one
# disables the port.
bridge link set dev s2p1 guard on
run 5s
expect port s2p1 state disabled
