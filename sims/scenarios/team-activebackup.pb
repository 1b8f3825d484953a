# teamd's activebackup runner with the arp_ping link watcher (teamd's
# activebackup_arp_ping_1 example, on 198.18.0.0/15): the team is h1's own
# interface, its ports reach two switches that both reach the target h2.
# a2 has the higher prio and becomes active; sw2's uplink to h2 fails while
# every carrier stays up, which only the ARP watcher sees: after missed_max
# intervals without a reply a2 is down. So is a1, which only heard a2's
# requests coming back (teamd probes from enabled ports only); with no port
# enabled every port probes (`forced_send`), a1 hears h2 again one interval
# later and takes over. a1 is sticky, so a2 coming back does not take the
# active role back; `teamctl ... state item set runner.active_port` does.
seed 21
link add t0 address 02:00:00:00:0c:01 type team config '{"device": "t0", "runner": {"name": "activebackup"}, "link_watch": {"name": "arp_ping", "interval": 100, "missed_max": 3, "source_host": "198.18.0.1", "target_host": "198.18.0.2"}, "ports": {"a1": {"prio": -10, "sticky": true}, "a2": {"prio": 100}}}'
link add sw1 type bridge
link add sw2 type bridge
link add core type bridge
wire a1 s1 delay 1ms
wire a2 s2 delay 1ms
wire u1 c1 delay 1ms
wire u2 c2 delay 1ms
teamctl t0 port add a1
teamctl t0 port add a2
link set s1 master sw1
link set u1 master sw1
link set s2 master sw2
link set u2 master sw2
link set c1 master core
link set c2 master core
host h1 mac 02:00:00:00:0c:01 ip 198.18.0.1
host h2 ip 198.18.0.2
wire h1 t0
wire h2 cp1
link set cp1 master core
link set sw1 up
link set sw2 up
link set core up
link set t0 up
run 1s
# Both ports hear replies (the backup hears the active port's broadcast
# requests come back through the switches): both up, a2 active by prio.
expect team t0 port a1 link up
expect team t0 port a2 link up
expect team t0 active a2
expect teamctl t0 runner.active_port a2
expect team t0 port a1 enabled no
ping h1 h2 count 3 interval 300ms
run 2s
expect replies h1 h2 == 3
traffic h1 h2 rate 100 for 6s
at 4s wire u2 c2 down
run 1300ms
expect team t0 active a2
run 200ms
# missed_max 3: the fourth interval without a reply takes both down (4.4 s).
expect team t0 port a2 link down
expect team t0 port a1 link down
expect team t0 active none
expect link a2 up
run 100ms
expect team t0 port a1 link up
expect team t0 active a1
at 7s wire u2 c2 up
run 3s
expect team t0 port a2 link up
# a1 is sticky: it stays active although a2 has the higher prio.
expect team t0 active a1
teamctl t0 state
teamctl t0 state item set runner.active_port a2
expect team t0 active a2
run 3s
# Lost: the 600 ms from the cut to a1 (60 frames at 100/s), nothing else.
expect lost h1 h2 <= 62
expect delivered h1 h2 >= 538
