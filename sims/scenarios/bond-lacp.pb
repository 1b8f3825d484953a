# 802.3ad between patchbay bonds. Pair p (slow rate, the default) and pair
# f (lacp_rate fast), each two members back to back, a host on a bridge
# behind each bond.
seed 13
link add p1 type bond mode 802.3ad
link add p2 type bond mode 802.3ad
link add f1 type bond mode 802.3ad lacp_rate fast min_links 2
link add f2 type bond mode 802.3ad lacp_rate fast
link add pa type bridge
link add pb type bridge
link add fa type bridge
link add fb type bridge
wire pp1 pq1 delay 1ms
wire pp2 pq2 delay 1ms
wire fp1 fq1 delay 1ms
wire fp2 fq2 delay 1ms
link set pp1 master p1
link set pp2 master p1
link set pq1 master p2
link set pq2 master p2
link set fp1 master f1
link set fp2 master f1
link set fq1 master f2
link set fq2 master f2
link set p1 master pa
link set p2 master pb
link set f1 master fa
link set f2 master fb
host h1
host h2
host h3
host h4
wire h1 pap1
wire h2 pbp1
wire h3 fap1
wire h4 fbp1
link set pap1 master pa
link set pbp1 master pb
link set fap1 master fa
link set fbp1 master fb
link set pa up
link set pb up
link set fa up
link set fb up
link set p1 up
link set p2 up
link set f1 up
link set f2 up
# Both sides Collecting+Distributing on both members, in one aggregator,
# within 5 s at the slow rate.
run 5s
expect bond p1 slave pp1 distributing yes
expect bond p1 slave pp2 distributing yes
expect bond p2 slave pq1 distributing yes
expect bond p2 slave pq2 distributing yes
expect bond p1 slave pp1 aggregator same-as pp2
expect bond f1 slave fp1 distributing yes
expect bond f1 slave fp2 distributing yes
ping h1 h2 count 3 interval 1s
ping h3 h4 count 3 interval 1s
run 4s
expect replies h1 h2 == 3
expect replies h3 h4 == 3
# One member of each pair goes silent with its carrier up (a blocked
# path): only LACP can notice. Fast rate: within 3 s of the last PDU.
at 10s wire pp2 pq2 set loss 100%
at 10s wire fp2 fq2 set loss 100%
run 4100ms
expect bond f1 slave fp2 distributing no
expect bond f1 slave fp1 distributing yes
# min_links 2 on f1: when the silent member's partner information is
# defaulted (3 s later) it leaves the aggregator, one member is left, and
# the bond loses its carrier.
expect link f1 up
run 3s
expect link f1 down
expect bond f1 slave fp2 aggregator differs-from fp1
# Slow rate: current_while is 90 s from the last PDU heard; still
# aggregated well after the fast pair noticed...
expect bond p1 slave pp2 distributing yes
# ... and out within 90 s of the silence.
run 84s
expect bond p1 slave pp2 distributing no
expect bond p1 slave pp1 distributing yes
expect link p1 up
