# A line of three bridges, h1 on s1 and h2 on s3. The wire between s1 and
# s2 goes down for 5 s and comes back: the ports lose carrier, are disabled
# and flush what they learned, and forward again when it returns.
seed 11
topology line 3 hosts 2 delay 1ms
traffic h1 h2 rate 100 for 20s
at 5s wire s1p1 s2p1 down
at 10s wire s1p1 s2p1 up
run 7s
expect port s2p1 state disabled
expect link s2p1 down
expect fdb s2 lacks h1
run 14s
expect port s2p1 state forwarding
expect delivered h1 h2 >= 70%
expect lost h1 h2 >= 400
expect duplicates h1 h2 == 0
