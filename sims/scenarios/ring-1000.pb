# The scaling scenario: a ring of 1000 bridges, 60 virtual seconds.
# Without spanning tree a ring loops broadcasts forever, so one wire is
# down (where STP would block a port); hosts spread around the ring ping
# and send traffic across it.
seed 1
topology ring 1000 hosts 4
wire s1000p2 s1p2 down
ping h1 h3 count 60 interval 1s
ping h2 h4 count 60 interval 1s
traffic h1 h4 rate 50
traffic h3 h2 rate 50
run 60s
expect replies h1 h3 >= 59
expect replies h2 h4 >= 59
expect delivered h1 h4 >= 99%
