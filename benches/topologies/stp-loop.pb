# Two bridges joined by two links (a loop) with 802.1D, a host on each:
# spanning tree blocks one link. br0 is the root by priority, so both
# backends block the same port (l2p, br1's second port).
link add br0 type bridge stp_state 1 priority 4096 forward_delay 200
link add br1 type bridge stp_state 1 priority 8192 forward_delay 200
link add l1 type veth peer name l1p
link add l2 type veth peer name l2p
link set l1 master br0
link set l2 master br0
link set l1p master br1
link set l2p master br1
link set h1 master br0
link set h2 master br1
link set l1 up
link set l1p up
link set l2 up
link set l2p up
link set br0 up
link set br1 up
