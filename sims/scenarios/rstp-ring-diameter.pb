# How big a ring can be one tree? Message age grows one second per hop
# under RSTP (mstpd's whole-second times) and information whose age would
# pass max_age is dropped at once (updtRcvdInfoWhile), so a bridge more
# than max_age hops from the root never hears it. With the default max_age
# 20, a ring of 41 bridges (20 hops each way from the root) is one tree. A
# ring of 42 is not: b22, 21 hops from b1 either way, elects another root
# and the ring splits into two trees; it stays loop-free.
seed 1
topology ring 41 stp rstp hosts 2 delay 1ms
topology ring 42 prefix b stp rstp delay 1ms
mstpctl settreeprio s1 0 1
mstpctl settreeprio b1 0 1
run 30s
expect stp s21 root s1
expect stp s22 root s1
expect stp b21 root b1
expect stp b23 root b1
expect not stp b22 root b1
expect loop-free
traffic h1 broadcast rate 10 for 2s
run 3s
expect broadcast h1 once
