# Root election by MAC (equal priorities: the lowest address wins) and the
# root port by path cost. s2 reaches the root s1 directly over a 10 Mbit/s
# link (cost 100) or through s3 over two 1 Gbit/s links (cost 5 + 5): the
# cheaper path wins, and the direct link is blocked at s2.
seed 2
link add s1 type bridge stp_state 1 address 02:00:00:00:00:01
link add s2 type bridge stp_state 1 address 02:00:00:00:00:02
link add s3 type bridge stp_state 1 address 02:00:00:00:00:03
link set s1 up
link set s2 up
link set s3 up
wire s1p1 s2p1 speed 10
wire s1p2 s3p1 speed 1000
wire s3p2 s2p2 speed 1000
link set s1p1 master s1
link set s1p2 master s1
link set s2p1 master s2
link set s2p2 master s2
link set s3p1 master s3
link set s3p2 master s3
run 35s
expect stp s2 root s1
expect stp s3 root s1
expect stp s1 root is-root
expect port s2p1 cost 100
expect stp s2 root-port s2p2
expect stp s3 root-port s3p1
expect port s2p1 state blocking
expect ports blocking == 1
expect spanning-tree
