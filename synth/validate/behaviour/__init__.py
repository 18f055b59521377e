"""What GKE does with the objects: who reaches which pod, which metric feeds which policy, which pod lands on
which node, what an upgrade leaves serving, and GKE's limits. One module per question."""
