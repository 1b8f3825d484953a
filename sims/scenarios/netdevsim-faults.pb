# netdevsim ports with their knobs (issue 8): fault injection on the port
# itself, the code the daemon runs on its netdevsim TAPs. Three hosts on a
# bridge: p1 drops 20% of frames each way, p2 delays each frame 30 ms each
# way, p3 starts without carrier.
seed 5
link add br0 type bridge
link add dev p1 type netdevsim drop 20%
link add dev p2 type netdevsim delay 30ms
link add dev p3 type netdevsim carrier off speed 100 duplex half
host h1 ip 198.18.0.1
host h2 ip 198.18.0.2
host h3 ip 198.18.0.3
wire h1 p1 delay 1ms
wire h2 p2 delay 1ms
wire h3 p3 delay 1ms
link set p1 master br0
link set p2 master br0
link set p3 master br0
link set p1 up
link set p2 up
link set p3 up
link set br0 up
# Loss: a request and its reply both cross p1, so about 0.8 x 0.8 of 200.
ping h1 h2 count 200 interval 10ms
run 3s
expect replies h1 h2 >= 110
expect replies h1 h2 <= 145
expect drops p1 injected >= 60
expect drops p1 injected <= 110
# No carrier on p3: the link is down, its bridge port disabled.
expect link p3 down
expect port p3 state disabled
# Delay: a round trip crosses p2 once each way (30 ms each) and four
# 1 ms wires: not answered 60 ms later, answered by 70 ms.
link set p3 type netdevsim carrier on
expect link p3 up
# The first ping also resolves addresses; the second measures the delay.
ping h3 h2 count 1
run 1s
expect replies h3 h2 == 1
ping h3 h2 count 1
run 60ms
expect replies h3 h2 == 1
run 10ms
expect replies h3 h2 == 2
