# Three patchbay instances standing for three machines, one VXLAN segment by
# head-end replication (issue 7): at each site a bridge with two hosts and a
# VTEP (VNI 100, dstport 4789) whose all-zeros entry lists the two other
# sites. The simulated underlay joins the VTEPs by their local addresses.
seed 31
link add b1 type bridge
link add b2 type bridge
link add b3 type bridge
link add vx1 type vxlan id 100 local 198.18.1.1 dstport 4789
link add vx2 type vxlan id 100 local 198.18.1.2 dstport 4789
link add vx3 type vxlan id 100 local 198.18.1.3 dstport 4789
bridge fdb append 00:00:00:00:00:00 dev vx1 dst 198.18.1.2
bridge fdb append 00:00:00:00:00:00 dev vx1 dst 198.18.1.3
bridge fdb append 00:00:00:00:00:00 dev vx2 dst 198.18.1.1
bridge fdb append 00:00:00:00:00:00 dev vx2 dst 198.18.1.3
bridge fdb append 00:00:00:00:00:00 dev vx3 dst 198.18.1.1
bridge fdb append 00:00:00:00:00:00 dev vx3 dst 198.18.1.2
link set vx1 master b1
link set vx2 master b2
link set vx3 master b3
host h11 ip 198.18.0.11
host h12 ip 198.18.0.12
host h21 ip 198.18.0.21
host h22 ip 198.18.0.22
host h31 ip 198.18.0.31
host h32 ip 198.18.0.32
wire h11 p11 delay 1ms
wire h12 p12 delay 1ms
wire h21 p21 delay 1ms
wire h22 p22 delay 1ms
wire h31 p31 delay 1ms
wire h32 p32 delay 1ms
link set p11 master b1
link set p12 master b1
link set p21 master b2
link set p22 master b2
link set p31 master b3
link set p32 master b3
link set vx1 up
link set vx2 up
link set vx3 up
link set b1 up
link set b2 up
link set b3 up
# Every host reaches every other.
ping h11 h21 count 2 interval 200ms
ping h11 h32 count 2 interval 200ms
ping h22 h31 count 2 interval 200ms
ping h32 h12 count 2 interval 200ms
ping h21 h22 count 2 interval 200ms
run 2s
expect replies h11 h21 == 2
expect replies h11 h32 == 2
expect replies h22 h31 == 2
expect replies h32 h12 == 2
expect replies h21 h22 == 2
# Learning from the outer source: b1 knows h21 behind vx1, and vx1 knows
# which site h21 is at.
expect fdb b1 has h21 on vx1
bridge fdb show dev vx1
# A broadcast arrives once at each host.
traffic h11 broadcast rate 10 for 1s
traffic h31 broadcast rate 10 for 1s
run 2s
expect broadcast h11 once
expect broadcast h31 once
