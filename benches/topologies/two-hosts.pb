# Two hosts on a bridge: the comparison harness's basic topology.
link add br0 type bridge
link set h1 master br0
link set h2 master br0
link set br0 up
