# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/nat_split.py's P3, shortened (--quick), with loose bounds.

The benchmark (`make bench-nat`: 3 runs of 6 slices per configuration) prints the real figures
and writes build/reports/nat.json; this test runs it as a user would, with the connection-rate
part only, so `make test` catches a rule set whose connection rate collapses and a benchmark
that no longer runs. Its figures go to build/reports/nat-integration.json.

P1/P2 (twice the traffic over two links, evenly split) are measured on every `make test` by the
Molecule scenario `balanced` (8 streams, rules off then on: ratio >= 1.9, busiest link <= 52 %).

Containers and networks: cfm-nat-split-*, links 198.18.16.0/20 and 198.18.32.0/20 (room for
the 1001 planned nodes of the P3 plan).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

from testbed.podman import ROOT

REPORT = os.path.join(ROOT, "build", "reports", "nat-integration.json")
CONFIGS = ("none", "nftables", "iptables")


def test_p3_connection_rate_with_the_rules_of_a_1000_peer_plan(image):  # image: root, podman and the node image
    assert image
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "nat_split.py"), "--quick", "--only", "rate",
                             "--configs", ",".join(CONFIGS), "--prefix", "cfm-nat-split",
                             "--subnets", "198.18.16.0/20,198.18.32.0/20", "--out", REPORT],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=900, check=False)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:]
    with open(REPORT) as handle:
        rate = json.load(handle)["rate"]
    assert rate["peers"] == 1000 and rate["rules"]["nft_peer_chains"] == 1000
    # Loose: the machine is shared. The benchmark reports the real figures.
    assert rate["ratio"]["nftables"] >= 0.6, rate
    assert rate["per_second"]["nftables"] >= 1.15 * rate["per_second"]["iptables"], rate
