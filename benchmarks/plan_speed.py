# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time the fabric_addresses filter on large clusters and show how it grows.

Reports numbers only (no pass/fail): the goal from the foundation issue is
5,000 nodes x 4 links in under 1 s in one call, growing linearly.
Run with `make bench`.
"""

import json
import os
import sys
import time

from ansible_collections.clusterfabric.multilink.plugins.filter.fabric_addresses import fabric_addresses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LINKS = [
    {"name": "fab0", "subnet": "198.18.0.0/16"},
    {"name": "fab1", "subnet": "198.19.0.0/17"},
    {"name": "fab2", "subnet": "2001:db8:0:2::/64"},
    {"name": "bond0", "subnet": "198.19.128.0/17",
     "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}},
]
REPEATS = 5


def best_of(nodes):
    timings = []
    for dummy in range(REPEATS):
        start = time.perf_counter()
        plan = fabric_addresses(nodes, LINKS)
        timings.append(time.perf_counter() - start)
    return min(timings), plan


def main():
    rows = []
    for count in (625, 1250, 2500, 5000, 10000):
        nodes = dict(("node%05d" % i, i) for i in range(1, count + 1))
        seconds, plan = best_of(nodes)
        addresses = sum(len(v) for lanes in plan.values() for v in lanes.values())
        rows.append({"nodes": count, "links": len(LINKS), "addresses": addresses,
                     "seconds": round(seconds, 4),
                     "us_per_node": round(seconds / count * 1e6, 1)})
    print("%7s %6s %10s %9s %12s" % ("nodes", "links", "addresses", "seconds", "us/node"))
    for row in rows:
        print("%7d %6d %10d %9.4f %12.1f" % (row["nodes"], row["links"], row["addresses"],
                                             row["seconds"], row["us_per_node"]))
    five = next(r for r in rows if r["nodes"] == 5000)
    print("5000 nodes x 4 links: %.3f s (goal < 1 s); 10000/5000 time ratio: %.2f (linear = 2)"
          % (five["seconds"], rows[-1]["seconds"] / five["seconds"]))
    out = os.path.join(ROOT, "build", "reports", "plan_speed.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as handle:
        json.dump({"best_of": REPEATS, "python": sys.version.split()[0], "rows": rows}, handle, indent=2)
    print("written: %s" % os.path.relpath(out, ROOT))


if __name__ == "__main__":
    main()
