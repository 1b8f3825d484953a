# Three bridges in a line, a host at each end: flooding, learning, ageing.
seed 7
link add s1 type bridge
link add s2 type bridge
link add s3 type bridge
link set s1 up
link set s2 up
link set s3 up
host h1
host h2
wire h1 s1p1
wire s1p2 s2p1 delay 2ms
wire s2p2 s3p1 delay 2ms
wire s3p2 h2
link set s1p1 master s1
link set s1p2 master s1
link set s2p1 master s2
link set s2p2 master s2
link set s3p1 master s3
link set s3p2 master s3

ping h1 h2 count 3 interval 1s
run 5s
expect replies h1 h2 == 3
# Each bridge learned both hosts, each on the port towards it.
expect fdb s1 has h1 on s1p1
expect fdb s1 has h2 on s1p2
expect fdb s2 has h1 on s2p1
expect fdb s2 has h2 on s2p2
expect fdb s3 has h2 on s3p2

# Nothing talks for 300 s (ageing_time): the entries expire on the virtual clock.
run 300s
expect fdb s2 lacks h1
expect fdb s2 lacks h2
