# active-backup with miimon 100, downdelay 200, updelay 300 and a primary:
# a host-side bond (port of bridge sa, h1 behind it) on two links to a
# switch (bridge sw, h2 behind it). Failover comes within miimon +
# downdelay of the cut; the primary returns updelay after its link does;
# primary_reselect failure keeps the current slave.
seed 12
link add ab1 type bond mode active-backup miimon 100 downdelay 200 updelay 300 primary a1
link add sa type bridge
link add sw type bridge
wire a1 s1 delay 1ms
wire a2 s2 delay 1ms
link set a1 master ab1
link set a2 master ab1
link set s1 master sw
link set s2 master sw
link set ab1 master sa
host h1
host h2
wire h1 sap1
wire h2 swp1
link set sap1 master sa
link set swp1 master sw
link set ab1 up
link set sa up
link set sw up
run 1s
expect bond ab1 active a1
expect bond ab1 slave a2 link up
traffic h1 h2 rate 1000 for 18s
at 5s wire a1 s1 down
run 4200ms
expect bond ab1 slave a1 link going-down
run 200ms
expect bond ab1 active a2
expect bond ab1 slave a1 link down
at 10s wire a1 s1 up
run 4700ms
expect bond ab1 slave a1 link going-back
expect bond ab1 active a2
run 400ms
expect bond ab1 slave a1 link up
expect bond ab1 active a1
link set ab1 type bond primary_reselect failure
at 12s wire a1 s1 down
at 14s wire a1 s1 up
run 4500ms
expect bond ab1 active a2
expect bond ab1 slave a1 link up
run 5s
# Lost: what went to a1 between its cut and the failover, twice: at most
# miimon + downdelay = 300 ms at 1000 frames/s each, and frames in flight.
expect lost h1 h2 <= 610
expect delivered h1 h2 >= 17390

