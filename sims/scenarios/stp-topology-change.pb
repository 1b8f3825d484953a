# A topology change makes FDB entries age after forward_delay (15 s)
# instead of ageing_time (300 s), so stale locations go quickly.
seed 5
topology line 3 stp 1 hosts 2 delay 1ms
run 35s
ping h1 h2 count 2 interval 1s
run 3s
expect replies h1 h2 == 2
expect fdb s2 has h1 on s2p1
# Nothing talks; after 40 s the entry would still be there with 300 s ageing.
# A new port coming up (h3 on s2) triggers a topology change.
host h3
wire h3 s2p9
link set s2p9 master s2
run 40s
expect fdb s2 lacks h1
