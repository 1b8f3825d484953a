# netdevsim-style ports: speed and duplex come from the wire, and the
# bridge takes the kernel's path cost for the speed (10G: 2, 100M: 19).
# Faults are injected on a live wire: heavy loss for 2 s, then a repair.
seed 9
link add s1 type bridge
link set s1 up
host h1
host h2
wire h1 s1p1 speed 10000
wire h2 s1p2 speed 100 duplex half
link set s1p1 master s1
link set s1p2 master s1
expect port s1p1 cost 2
expect port s1p2 cost 19
traffic h1 h2 rate 1000 for 6s
at 2s wire h2 s1p2 set loss 100%
at 4s wire h2 s1p2 set loss 0%
run 7s
expect delivered h1 h2 >= 3900
expect lost h1 h2 >= 1900
expect duplicates h1 h2 == 0
