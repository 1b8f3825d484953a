# Each runner's distribution, as bond-modes.pb does for bonding: pairs of
# teams back to back over two wires, each team a port of a bridge with
# hosts behind it. 200 frames of one flow per pair (four flows of 100 for
# loadbalance). Last, VLANs on teams: a VLAN device on each of two
# roundrobin teams, bridged: tagged frames on both team links.
seed 22
link add t1 type team config '{"runner": {"name": "roundrobin"}}'
link add t2 type team config '{"runner": {"name": "roundrobin"}}'
link add b1 type team config '{"runner": {"name": "broadcast"}}'
link add b2 type team config '{"runner": {"name": "broadcast"}}'
link add n1 type team config '{"runner": {"name": "random"}}'
link add n2 type team config '{"runner": {"name": "random"}}'
link add l1 type team config '{"runner": {"name": "loadbalance", "tx_hash": ["eth"]}}'
link add l2 type team config '{"runner": {"name": "loadbalance", "tx_hash": ["eth"]}}'
link add ta type bridge
link add tb type bridge
link add ba type bridge
link add bb type bridge
link add na type bridge
link add nb type bridge
link add la type bridge
link add lb type bridge
wire tp1 tp3 delay 1ms
wire tp2 tp4 delay 1ms
wire bp1 bp3 delay 1ms
wire bp2 bp4 delay 1ms
wire np1 np3 delay 1ms
wire np2 np4 delay 1ms
wire lp1 lp3 delay 1ms
wire lp2 lp4 delay 1ms
teamctl t1 port add tp1
teamctl t1 port add tp2
link set tp3 master t2
link set tp4 master t2
teamctl b1 port add bp1
teamctl b1 port add bp2
teamctl b2 port add bp3
teamctl b2 port add bp4
teamctl n1 port add np1
teamctl n1 port add np2
teamctl n2 port add np3
teamctl n2 port add np4
teamctl l1 port add lp1
teamctl l1 port add lp2
teamctl l2 port add lp3
teamctl l2 port add lp4
link set t1 master ta
link set t2 master tb
link set b1 master ba
link set b2 master bb
link set n1 master na
link set n2 master nb
link set l1 master la
link set l2 master lb
host h1
host h2
host h3
host h4
host h5
host h6
host h7
host h8
host h9
host h10
host h11
wire h1 tap1
wire h2 tbp1
wire h3 bap1
wire h4 bbp1
wire h5 nap1
wire h6 nbp1
wire h7 lap1
wire h8 lbp1
wire h9 lbp2
wire h10 lbp3
wire h11 lbp4
link set tap1 master ta
link set tbp1 master tb
link set bap1 master ba
link set bbp1 master bb
link set nap1 master na
link set nbp1 master nb
link set lap1 master la
link set lbp1 master lb
link set lbp2 master lb
link set lbp3 master lb
link set lbp4 master lb
link set t1 up
link set t2 up
link set b1 up
link set b2 up
link set n1 up
link set n2 up
link set l1 up
link set l2 up
link set ta up
link set tb up
link set ba up
link set bb up
link set na up
link set nb up
link set la up
link set lb up
run 1s
expect team t1 port tp1 enabled yes
expect team t1 port tp2 enabled yes
teamctl t1 state
# The far side learns h1..h11 first (one frame each way), then counts.
traffic h2 h1 rate 10 for 100ms
traffic h4 h3 rate 10 for 100ms
traffic h6 h5 rate 10 for 100ms
traffic h8 h7 rate 10 for 100ms
traffic h9 h7 rate 10 for 100ms
traffic h10 h7 rate 10 for 100ms
traffic h11 h7 rate 10 for 100ms
run 1s
traffic h1 h2 rate 100 for 2s
traffic h3 h4 rate 100 for 2s
traffic h5 h6 rate 100 for 2s
traffic h7 h8 rate 50 for 2s
traffic h7 h9 rate 50 for 2s
traffic h7 h10 rate 50 for 2s
traffic h7 h11 rate 50 for 2s
run 3s
# roundrobin: one frame each in turn.
expect counter tp1 tx == 100
expect counter tp2 tx == 100
expect delivered h1 h2 == 200
# broadcast: a copy on every port; the far bridge delivers both.
expect counter bp1 tx == 200
expect counter bp2 tx == 200
expect duplicates h3 h4 == 200
# random: both ports, every frame once.
expect counter np1 tx >= 70
expect counter np2 tx >= 70
expect delivered h5 h6 == 200
expect duplicates h5 h6 == 0
# loadbalance over eth: each flow keeps one port, two flows on each (the
# destination MACs of h8..h11 alternate in the bit the hash byte keeps).
expect counter lp1 tx == 200
expect counter lp2 tx == 200
expect delivered h7 h8 == 100
expect delivered h7 h11 == 100
# VLAN 5 on a pair of teams: the bridges' ports are the VLAN devices.
link add u1 type team config '{"runner": {"name": "roundrobin"}}'
link add u2 type team config '{"runner": {"name": "roundrobin"}}'
link add ua type bridge
link add ub type bridge
wire up1 up3 delay 1ms
wire up2 up4 delay 1ms
teamctl u1 port add up1
teamctl u1 port add up2
teamctl u2 port add up3
teamctl u2 port add up4
link add link u1 name u1.5 type vlan id 5
link add link u2 name u2.5 type vlan id 5
link set u1.5 master ua
link set u2.5 master ub
host h12
host h13
wire h12 uap1
wire h13 ubp1
link set uap1 master ua
link set ubp1 master ub
link set u1 up
link set u2 up
link set u1.5 up
link set u2.5 up
link set ua up
link set ub up
run 1s
traffic h12 h13 rate 100 for 1s
run 2s
expect delivered h12 h13 == 100
expect counter up1 tx == 50
expect counter up2 tx == 50
