# Two VLAN-filtering bridges joined by a trunk carrying VLANs 10 and 20.
# h1, h3 are in VLAN 10; h2, h4 in VLAN 20. Pings stay within a VLAN.
seed 3
link add sw1 type bridge vlan_filtering 1
link add sw2 type bridge vlan_filtering 1
link set sw1 up
link set sw2 up
host h1 ip 198.18.0.1
host h2 ip 198.18.0.2
host h3 ip 198.18.0.3
host h4 ip 198.18.0.4
wire h1 sw1p1
wire h2 sw1p2
wire h3 sw2p1
wire h4 sw2p2
wire sw1p9 sw2p9 delay 1ms
link set sw1p1 master sw1
link set sw1p2 master sw1
link set sw1p9 master sw1
link set sw2p1 master sw2
link set sw2p2 master sw2
link set sw2p9 master sw2
bridge vlan add dev sw1p1 vid 10 pvid untagged
bridge vlan add dev sw1p2 vid 20 pvid untagged
bridge vlan add dev sw2p1 vid 10 pvid untagged
bridge vlan add dev sw2p2 vid 20 pvid untagged
bridge vlan del dev sw1p9 vid 1
bridge vlan del dev sw2p9 vid 1
bridge vlan add dev sw1p9 vid 10
bridge vlan add dev sw1p9 vid 20
bridge vlan add dev sw2p9 vid 10
bridge vlan add dev sw2p9 vid 20

ping h1 h3 count 3
ping h2 h4 count 3
ping h1 h2 count 3
ping h1 h4 count 3
run 5s
expect replies h1 h3 == 3
expect replies h2 h4 == 3
expect replies h1 h2 == 0
expect replies h1 h4 == 0
expect fdb sw1 has h3 on sw1p9 vlan 10
expect fdb sw1 has h4 on sw1p9 vlan 20
expect fdb sw1 lacks h3 vlan 20
