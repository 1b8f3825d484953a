# 802.3ad corner cases.
# lb: a bond whose two members are wired to each other. Each member hears
# its own system in the PDUs (a loop); the kernel ignores such PDUs, so no
# partner is recorded, the members stay in aggregators of their own, and
# only one (the active aggregator's) carries traffic: no loop forms.
# k1/k2: two links of different speeds (1000 and 100 Mbit/s) give
# different keys, so they cannot aggregate together: two aggregators, one
# active, on both sides.
seed 14
link add lb type bond mode 802.3ad
wire l1 l2 delay 1ms
link set l1 master lb
link set l2 master lb
link set lb up
link add k1 type bond mode 802.3ad
link add k2 type bond mode 802.3ad
wire k11 k21 delay 1ms speed 1000
wire k12 k22 delay 1ms speed 100
link set k11 master k1
link set k12 master k1
link set k21 master k2
link set k22 master k2
link set k1 up
link set k2 up
run 10s
expect bond lb slave l1 aggregator differs-from l2
expect bond lb slave l1 distributing yes
expect bond lb slave l2 distributing no
expect bond k1 slave k11 aggregator differs-from k12
expect bond k2 slave k21 aggregator differs-from k22
expect bond k1 slave k11 distributing yes
expect bond k1 slave k12 distributing no
expect bond k2 slave k21 distributing yes
expect bond k2 slave k22 distributing no

