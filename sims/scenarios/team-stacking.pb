# Stacking (GUIDE.md: "multiple device stacking"): an activebackup team
# whose preferred port is a balance-rr bond of two links, the other a
# plain link. Frames from h1 go round-robin over the bond's members; when
# both bond members lose their links the bond loses carrier, the team's
# ethtool watcher sees its port down and moves to the plain link.
seed 25
link add sb type bond mode balance-rr miimon 100
link add s0 address 02:00:00:00:0e:01 type team config '{"runner": {"name": "activebackup"}, "ports": {"sb": {"prio": 10}}}'
link add sw type bridge
wire sb1 x1 delay 1ms
wire sb2 x2 delay 1ms
wire sp3 x3 delay 1ms
link set sb1 master sb
link set sb2 master sb
link set sb up
teamctl s0 port add sb
teamctl s0 port add sp3
link set x1 master sw
link set x2 master sw
link set x3 master sw
host h1 mac 02:00:00:00:0e:01
host h2
wire h1 s0
wire h2 swp1
link set swp1 master sw
link set sw up
link set s0 up
run 1s
expect team s0 active sb
traffic h2 h1 rate 10 for 100ms
run 1s
traffic h1 h2 rate 100 for 4s
run 2s
expect counter sb1 tx == 100
expect counter sb2 tx == 100
at 4s wire sb1 x1 down
at 4s wire sb2 x2 down
run 1s
expect link sb down
expect team s0 port sb link down
expect team s0 active sp3
run 2s
# Lost: what the bond took in its 100 ms MII interval.
expect lost h1 h2 <= 11
expect delivered h1 h2 >= 389
