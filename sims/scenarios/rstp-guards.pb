# Protection on an RSTP bridge (mstpctl's per-port switches), around s2:
#  - s2p2 has restricted role (root guard): s3 claims a better root, but
#    s2p2 may not become s2's root port, so it is Alternate and s2 keeps s1;
#  - s2p3 has BPDU guard: the first BPDU from s4 disables the port;
#  - s2p4 has BPDU filter: s2 neither sends nor takes BPDUs there, so s5
#    never hears of s1 and stays its own root;
#  - s2p5 has restricted TCN: a topology change s6 reports is not passed
#    on to s1.
seed 6
link add s1 type bridge stp_state 1 address 02:00:00:00:00:01
link add s2 type bridge stp_state 1 address 02:00:00:00:00:02
link add s3 type bridge stp_state 1 address 02:00:00:00:00:03
link add s4 type bridge stp_state 1 address 02:00:00:00:00:04
link add s5 type bridge stp_state 1 address 02:00:00:00:00:05
link add s6 type bridge stp_state 1 address 02:00:00:00:00:06
link add s7 type bridge stp_state 1 address 02:00:00:00:00:07
mstpctl addbridge s1 s2 s3 s4 s5 s6 s7
mstpctl settreeprio s1 0 4
mstpctl settreeprio s3 0 0
link set s1 up
link set s2 up
link set s3 up
link set s4 up
link set s5 up
link set s6 up
link set s7 up
wire s1p1 s2p1 delay 1ms
wire s2p2 s3p1 delay 1ms
wire s2p3 s4p1 delay 1ms
wire s2p4 s5p1 delay 1ms
# The filter is set while the link is down, so not even the first BPDU
# goes out (as when ifupdown configures mstpd before the port comes up).
wire s2p4 s5p1 down
wire s2p5 s6p1 delay 1ms
link set s1p1 master s1
link set s2p1 master s2
link set s2p2 master s2
link set s2p3 master s2
link set s2p4 master s2
link set s2p5 master s2
link set s3p1 master s3
link set s4p1 master s4
link set s5p1 master s5
link set s6p1 master s6
mstpctl setportrestrrole s2 s2p2 yes
mstpctl setbpduguard s2 s2p3 yes
mstpctl setportbpdufilter s2 s2p4 yes
mstpctl setportrestrtcn s2 s2p5 yes
wire s2p4 s5p1 up
run 5s
expect stp s2 root s1
expect port s2p2 role alternate
expect port s2p2 state blocking
expect stp s3 root is-root
expect port s2p3 state disabled
expect mstpctl s2 s2p3 bpdu-guard-error yes
expect stp s5 root is-root
expect mstpctl s2 s2p4 num-tx-bpdu 0
expect stp s6 root s1
mstpctl showbridge s1 topology-change-count
# s6 gains a link to s7: a non-edge port starts forwarding, a topology
# change. s6 reports it to s2 on its root port; s2 does not pass it on.
wire s6p2 s7p1 delay 1ms
link set s6p2 master s6
link set s7p1 master s7
run 5s
expect mstpctl s6 topology-change-count 2
expect mstpctl s1 topology-change-count 1
