# teamd's lacp runner (teamd's lacp_1 example) against a patchbay bond in
# 802.3ad mode (pair x) and against another team (pair y), two links each,
# a host on a bridge behind each side. The team runs the same LACP machines
# as the bond (one implementation); the bond cannot tell it from another
# bond. Then the ports' lacp_key: a team whose ports have different keys
# puts them in separate aggregators (pair z); with min_ports 2 the team
# has no carrier then.
seed 23
link add x1 type team config '{"runner": {"name": "lacp", "active": true, "fast_rate": true, "tx_hash": ["eth", "ipv4", "ipv6"]}, "link_watch": {"name": "ethtool"}}'
link add x2 type bond mode 802.3ad lacp_rate fast
link add y1 type team config '{"runner": {"name": "lacp"}}'
link add y2 type team config '{"runner": {"name": "lacp", "active": false}}'
link add z1 type team config '{"runner": {"name": "lacp", "fast_rate": true, "min_ports": 2}, "ports": {"zp1": {"lacp_key": 1}, "zp2": {"lacp_key": 2}}}'
link add z2 type bond mode 802.3ad lacp_rate fast
link add xa type bridge
link add xb type bridge
link add ya type bridge
link add yb type bridge
wire xp1 xq1 delay 1ms
wire xp2 xq2 delay 1ms
wire yp1 yq1 delay 1ms
wire yp2 yq2 delay 1ms
wire zp1 zq1 delay 1ms
wire zp2 zq2 delay 1ms
teamctl x1 port add xp1
teamctl x1 port add xp2
link set xq1 master x2
link set xq2 master x2
teamctl y1 port add yp1
teamctl y1 port add yp2
teamctl y2 port add yq1
teamctl y2 port add yq2
teamctl z1 port add zp1
teamctl z1 port add zp2
link set zq1 master z2
link set zq2 master z2
link set x1 master xa
link set x2 master xb
link set y1 master ya
link set y2 master yb
host h1
host h2
host h3
host h4
wire h1 xap1
wire h2 xbp1
wire h3 yap1
wire h4 ybp1
link set xap1 master xa
link set xbp1 master xb
link set yap1 master ya
link set ybp1 master yb
link set xa up
link set xb up
link set ya up
link set yb up
link set x1 up
link set x2 up
link set y1 up
link set y2 up
link set z1 up
link set z2 up
run 5s
# Team against bond: both ports enabled on the team, both members
# collecting and distributing on the bond, one aggregator each side.
expect team x1 port xp1 enabled yes
expect team x1 port xp2 enabled yes
expect bond x2 slave xq1 distributing yes
expect bond x2 slave xq2 distributing yes
expect bond x2 slave xq1 aggregator same-as xq2
expect teamctl x1 ports.xp1.runner.selected true
expect teamctl x1 ports.xp1.runner.state current
# Team against team, one side passive (slow rate): within 5 s.
expect team y1 port yp1 enabled yes
expect team y1 port yp2 enabled yes
expect team y2 port yq1 enabled yes
expect team y2 port yq2 enabled yes
# Different lacp_key: two aggregators; one is selected, its port alone
# carries traffic, on both sides.
expect team z1 port zp1 enabled yes
expect team z1 port zp2 enabled no
expect bond z2 slave zq1 aggregator differs-from zq2
expect link z1 down
expect link x1 up
teamctl x1 state
bond show x2
traffic h1 h2 rate 100 for 2s
traffic h2 h1 rate 100 for 2s
traffic h3 h4 rate 100 for 2s
run 3s
expect delivered h1 h2 == 200
expect delivered h2 h1 == 200
expect delivered h3 h4 == 200
expect duplicates h1 h2 == 0
# A link lost: the team stops using the port at once (carrier), the bond
# within 3 s at the fast rate.
at 10s wire xp2 xq2 down
run 3s
expect team x1 port xp2 enabled no
expect bond x2 slave xq2 distributing no
expect team x1 port xp1 enabled yes
