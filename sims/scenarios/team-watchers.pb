# teamd's link watchers. (1) ethtool with delay_down 200 and delay_up 500
# (teamd's activebackup_ethtool_3 example, shortened): e1 has the higher
# prio and is not sticky, so it is active whenever its delayed link is up.
# (2) link_watch_policy: ethtool plus an arp_ping nobody answers; `any`
# keeps the ports up, `all` takes them down. (3) nsna_ping: IPv6 neighbour
# solicitations, the target's uplink behind the active port fails while
# every carrier stays up. It runs with hwaddr_policy by_active, the ports
# keeping their own addresses: under same_all, while no port is enabled
# both probe from the team's one address, and with the two switches
# joined behind them each switch learns that address on its uplink from
# the other port's looped-back multicast: the answers never come back.
# (Linux does the same; it is the topology, not the watcher.)
seed 24
link add e0 address 02:00:00:00:0d:01 type team config '{"runner": {"name": "activebackup"}, "link_watch": {"name": "ethtool", "delay_up": 500, "delay_down": 200}, "ports": {"e1": {"prio": 10}, "e2": {"prio": 0}}}'
link add sw type bridge
wire e1 s1 delay 1ms
wire e2 s2 delay 1ms
teamctl e0 port add e1
teamctl e0 port add e2
link set s1 master sw
link set s2 master sw
host h1 mac 02:00:00:00:0d:01
host h2
wire h1 e0
wire h2 swp1
link set swp1 master sw
link set sw up
link set e0 up
link add p0 type team config '{"runner": {"name": "roundrobin"}, "link_watch_policy": "any", "link_watch": [{"name": "ethtool"}, {"name": "arp_ping", "interval": 100, "missed_max": 2, "source_host": "198.18.9.1", "target_host": "198.18.9.9"}]}'
link add p1 type team config '{"runner": {"name": "roundrobin"}, "link_watch_policy": "all", "link_watch": [{"name": "ethtool"}, {"name": "arp_ping", "interval": 100, "missed_max": 2, "source_host": "198.18.9.1", "target_host": "198.18.9.9"}]}'
wire q1 q2 delay 1ms
wire r1 r2 delay 1ms
teamctl p0 port add q1
teamctl p1 port add r1
link set p0 up
link set p1 up
link add v0 address 02:00:00:00:0d:02 type team config '{"runner": {"name": "activebackup", "hwaddr_policy": "by_active"}, "link_watch": {"name": "nsna_ping", "interval": 100, "missed_max": 3, "target_host": "fd00::2"}, "ports": {"v2": {"prio": 5}}}'
link add vs1 type bridge
link add vs2 type bridge
link add vcore type bridge
wire v1 t1 delay 1ms
wire v2 t2 delay 1ms
wire w1 c1 delay 1ms
wire w2 c2 delay 1ms
teamctl v0 port add v1
teamctl v0 port add v2
link set t1 master vs1
link set w1 master vs1
link set t2 master vs2
link set w2 master vs2
link set c1 master vcore
link set c2 master vcore
host h3 mac 02:00:00:00:0d:02
host h4 ip6 fd00::2
wire h3 v0
wire h4 vcp1
link set vcp1 master vcore
link set vs1 up
link set vs2 up
link set vcore up
link set v0 up
run 1s
expect team e0 active e1
expect team p0 port q1 link up
expect team p1 port r1 link down
expect link p1 down
expect link p0 up
teamctl p1 state dump
# v2 (higher prio) active; v1 is down: only enabled ports probe and
# solicitations are no answers (as teamd; ARP requests would count).
expect team v0 port v2 link up
expect team v0 active v2
expect team v0 port v1 link down
traffic h1 h2 rate 1000 for 5s
at 2s wire e1 s1 down
run 1150ms
expect team e0 active e1
run 100ms
# delay_down 200: e1 is down and e2 active 200 ms after the cut.
expect team e0 port e1 link down
expect team e0 active e2
at 4s wire e1 s1 up
run 2200ms
expect team e0 active e2
run 100ms
# delay_up 500: back 500 ms after its link; not sticky, higher prio: active.
expect team e0 active e1
at 5s wire w2 c2 down
run 400ms
expect team v0 active v2
run 800ms
# Four silent intervals take v2 down (5.4 s); with no port enabled both
# probe, and v1 hears fd00::2 answer one interval later.
expect team v0 port v2 link down
expect team v0 port v1 link up
expect team v0 active v1
run 1s
# What went to e1 in the 200 ms down delay is lost, nothing else.
expect lost h1 h2 <= 202
expect delivered h1 h2 >= 4798
