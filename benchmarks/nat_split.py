# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure what the fabric NAT rules buy on a live test bed cluster (tests/lib/testbed).

Two links of 200 Mbit/s each (tbf), rules computed by nat_rules and applied by nat_apply
(the code the fabric_nat module runs), in the same run:

  P1  8 TCP streams (the test bed's node tool, as iperf3 -P 8) for 5 s to the peer's primary
      fabric address, port 3001: what the links carried (kernel counters) with the rules /
      without (goal >= 1.97x, the limit is 2x);
  P2  the busiest link's share of the bytes sent (goal <= 51 %);
  P3  new connections per second to the peer (connect, close) with the rules of a 1000-peer
      cluster loaded / with no rules, nftables and iptables, median of 3 runs, each run
      alternating short slices between client nodes (one per configuration)
      (goal >= 0.97x for nftables; iptables reported).

Prints the figures and writes build/reports/nat.json (--out). Run with `make bench-nat` or
`python benchmarks/nat_split.py` as root (podman, the node image). --quick is the short run
that tests/integration/test_nat_split.py checks with loose bounds on every `make test`.

Only the test subnets 198.18.48.0/21 and 198.18.56.0/21 (containers cfm-nat-bench-*) are used
unless --subnets and --prefix say otherwise.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import statistics
import sys
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import address_plan, nat_rules

from testbed import cluster as tb_cluster
from testbed import inventory as tb_inventory
from testbed import traffic
from testbed.podman import ROOT, TestbedError

# The benchmarks' in-node helper: connection probes (benchmarks/nat_probe.py).
PROBE = os.path.join(ROOT, "benchmarks", "nat_probe.py")
PROBE_IN_NODE = "/usr/local/bin/nat_probe.py"
PREFIX = "cfm-nat-bench"
# Room for 1001 planned nodes per link.
SUBNETS = ("198.18.48.0/21", "198.18.56.0/21")
PORT = 3001
STREAMS = 8
SECONDS = 5
PEERS = 1000
RATE_RUNS = 3
REPORT = os.path.join(ROOT, "build", "reports", "nat.json")
# n1 -> n2 carries P1/P2. P3 runs one client node per configuration, each with its rules
# loaded all along, and alternates short slices between them, so load from elsewhere on the
# machine hits all of them alike:
#   rnone  no rules at all (no conntrack, no NAT)
#   rct    conntrack on (one filter rule "ct state new accept"), no NAT: what any host with a
#          stateful firewall pays already; every NAT needs conntrack
#   rnft   nftables rules of the PEERS-peer plan      ript  iptables rules of that plan
#   rsmall nftables rules of the real nodes only (5 peers): the same NAT work per connection
#          as rnft, so rnft/rsmall is the cost of the cluster's size alone.
# The plan has PEERS + 1 nodes (fake ones in between); n2 has the highest id, so it is the
# last peer of the iptables rule list, the worst case for a linear list.
NODE, PEER = "n1", "n2"
CLIENTS = {"none": "rnone", "conntrack": "rct", "nftables": "rnft", "nftables_small": "rsmall",
           "iptables": "ript"}
NODES = {NODE: 1, "rnone": 2, "rct": 3, "rnft": 4, "rsmall": 5, "ript": 6, PEER: PEERS + 1}
CONNTRACK_ONLY = ("table ip cfm_nat_bench_ct {\n\tchain output {\n"
                  "\t\ttype filter hook output priority 0; policy accept;\n"
                  "\t\tct state new accept\n\t}\n}\n")
SLICE_SECONDS = 0.4
SLICES = 6
QUICK = {"seconds": 3, "runs": 3, "slices": 1}


def start(prefix=PREFIX, subnets=SUBNETS, configs=None, image=None):
    """The bed, up: n1, n2 and one client node per P3 configuration (all of CLIENTS by default)."""
    nodes = dict((host, node) for host, node in NODES.items()
                 if host in (NODE, PEER) or configs is None or any(CLIENTS[name] == host for name in configs))
    links = [{"name": "fab%d" % i, "subnet": subnet, "device": "eth%d" % i} for i, subnet in enumerate(subnets)]
    path = os.path.join(ROOT, "build", prefix, "inventory.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    inventory = tb_inventory.write_cluster(path, "natbench", prefix, nodes, {"fabric_links": links, "testbed_rate_mbit": 200})
    bed = tb_cluster.start(inventory, image)
    for host in bed.hosts:
        bed.copy(host, PROBE, PROBE_IN_NODE)
    traffic.install(bed)
    return bed


def node_links(bed):
    return [{"name": link["name"], "device": link["device"]} for link in bed.topo.links]


def big_plan(bed, peers=PEERS):
    """The real nodes' plan plus fake peers filling the ids up to peers + 1, same links."""
    real = bed.topo.node_ids
    nodes = dict(("fake%04d" % i, i) for i in range(1, peers + 2) if i not in real.values())
    assert max(real.values()) == peers + 1
    nodes.update(real)
    return address_plan.plan_addresses(nodes, bed.topo.vars["fabric_links"])


def apply_rules(bed, host, backend, plan=None, **options):
    """Compute the rules for ``host`` as the fabric_nat action does and converge the node to them (None: remove)."""
    rules = None
    if plan is not None:
        rules = nat_rules.node_rules(nat_rules.build(plan, host, node_links(bed), ports=[PORT], **options), backend)
    return nat_apply.converge(bed.node(host), rules, backend=backend, persist=False)


def remove_rules(bed, host):
    return nat_apply.converge(bed.node(host), None, persist=False)


def streams(bed, host, peer, seconds=SECONDS):
    """STREAMS streams for ``seconds`` to the peer's primary address: Mbit/s the links carried and
    each link's tx bytes meanwhile (kernel counters, link_sample)."""
    run = traffic.streams(bed, host, bed.plan[peer][bed.topo.links[0]["name"]][0], PORT, count=STREAMS, seconds=seconds)
    window = run["window"]
    sent = dict((name, window["after"][name][0] - window["before"][name][0]) for name in window["after"])
    return {"mbit": round(sum(sent.values()) * 8 / 1e6 / window["seconds"], 1), "tx_bytes": sent,
            "seconds": window["seconds"], "busiest_share": round(max(sent.values()) / float(sum(sent.values())), 4)}


def rate(bed, host, peer, seconds):
    """{'connections', 'seconds', ...}: connect/close loop from host to the peer's primary address."""
    target = "%s:%d" % (bed.plan[peer][bed.topo.links[0]["name"]][0], PORT)
    result = json.loads(bed.run(host, "python3 %s rate %s %s" % (PROBE_IN_NODE, seconds, target)).stdout)
    if result["failed"]:
        raise TestbedError("%s: %d of %d connections failed: %s"
                           % (host, result["failed"], result["failed"] + result["connections"], result["errors"]))
    return result


def start_rate_sink(bed, peer):
    """P3's listener on the peer: nat_probe's accept-and-close loop (the node tool's sink reads
    every connection in a thread of its own, too slow for some 20,000 new connections/s)."""
    pid = bed.background(peer, "python3 %s sink %d" % (PROBE_IN_NODE, PORT))
    bed.wait_listening(peer, PORT)
    return pid


def measure_split(bed, host=NODE, peer=PEER, seconds=SECONDS):
    """P1 and P2: NAT off, then on, in the same run."""
    remove_rules(bed, host)
    traffic.start_sink(bed, peer, PORT)
    off = streams(bed, host, peer, seconds)
    apply_rules(bed, host, "nftables", bed.plan)
    on = streams(bed, host, peer, seconds)
    remove_rules(bed, host)
    traffic.stop_sink(bed, peer, PORT)
    return {"seconds": seconds, "streams": STREAMS, "off": off, "on": on,
            "ratio": round(on["mbit"] / off["mbit"], 4), "busiest_share": on["busiest_share"]}


def measure_rate(bed, peer=PEER, runs=RATE_RUNS, slices=SLICES, seconds=SLICE_SECONDS, configs=None):
    """P3: connection rate with the rules of a PEERS-peer plan (nftables, iptables) vs none.

    Each client node gets its rules through nat_apply (the module's code); a run alternates
    ``slices`` slices of ``seconds`` between the client nodes (``configs``: which of CLIENTS),
    shifting the order each time; the figure is the median of the runs' rates."""
    clients = dict((name, host) for name, host in CLIENTS.items() if configs is None or name in configs)
    plan = big_plan(bed)
    loaded = {}
    for config in [name for name in ("nftables", "iptables", "nftables_small") if name in clients]:
        host = CLIENTS[config]
        started = time.time()
        apply_rules(bed, host, config.replace("_small", ""), bed.plan if config.endswith("_small") else plan)
        loaded[config] = round(time.time() - started, 2)
    if "conntrack" in clients:
        rc, dummy, err = bed.node(CLIENTS["conntrack"]).run(["nft", "-f", "/dev/stdin"], CONNTRACK_ONLY)
        if rc:
            raise TestbedError("conntrack-only rule: %s" % err)
    sink = start_rate_sink(bed, peer)
    samples = dict((name, []) for name in clients)
    for dummy in range(runs):
        count = dict((name, 0) for name in clients)
        spent = dict((name, 0.0) for name in clients)
        order = list(clients.items())
        for dummy_slice in range(slices):
            order = order[1:] + order[:1]  # no configuration always right after another one
            for name, host in order:
                result = rate(bed, host, peer, seconds)
                count[name] += result["connections"]
                spent[name] += result["seconds"]
        for name in clients:
            samples[name].append(count[name] / spent[name])
    for name, host in clients.items():
        remove_rules(bed, host)
    bed.stop(peer, sink)
    medians = dict((name, statistics.median(values)) for name, values in samples.items())
    ratio = dict((name, round(medians[name] / medians["none"], 4)) for name in medians)
    for name, base in (("nftables", "conntrack"), ("iptables", "conntrack"), ("nftables", "nftables_small")):
        if name in medians and base in medians:
            ratio["%s_vs_%s" % (name, base.replace("nftables_", ""))] = round(medians[name] / medians[base], 4)
    model = nat_rules.build(plan, NODE, node_links(bed), ports=[PORT])  # every node has the same rule count
    return {
        "peers": len(plan) - 1, "runs": runs, "slices_per_run": slices, "slice_seconds": seconds,
        "rules": {"nft_map_elements": sum(len(rule["match"]) for rule in model["peers"]),
                  "nft_peer_chains": len(model["peers"]),
                  "iptables_rules": sum(len(body) for body in nat_rules.iptables_chains(model, "ipv4").values())},
        "apply_seconds": loaded,
        "per_second": dict((name, round(value)) for name, value in medians.items()),
        "samples": dict((name, [round(v) for v in values]) for name, values in samples.items()),
        "ratio": ratio,
    }


def report(figures):
    lines = []
    split, conn = figures.get("split"), figures.get("rate")
    if split:
        lines += [
            "P1 aggregate, %d TCP streams for %d s to the peer's primary address, 2 x 200 Mbit/s:"
            % (STREAMS, split["seconds"]),
            "   NAT off %.1f Mbit/s, NAT on %.1f Mbit/s: %.3fx (goal >= 1.97x)"
            % (split["off"]["mbit"], split["on"]["mbit"], split["ratio"]),
            "P2 busiest link's share of bytes with NAT: %.2f %% (goal <= 51 %%); tx bytes %s"
            % (100 * split["busiest_share"], split["on"]["tx_bytes"]),
        ]
    if conn:
        per, ratio = conn["per_second"], conn["ratio"]
        lines.append("P3 new connections/s with the rules of a %d-peer plan, median of %d runs:" % (conn["peers"], conn["runs"]))
        lines.append("   no rules %d; " % per["none"] + "; ".join(
            "%s %d (%.3fx%s)" % (name, per[name], ratio[name], ", goal >= 0.97x" if name == "nftables" else "")
            for name in ("nftables", "iptables") if name in per))
        if "conntrack" in per:
            lines.append("   conntrack alone (no NAT) %d (%.3fx): " % (per["conntrack"], ratio["conntrack"]) + " and ".join(
                "%s %.3fx of it" % (name, ratio["%s_vs_conntrack" % name]) for name in ("nftables", "iptables") if name in per))
        if "nftables_small" in per:
            lines.append("   nftables with a %d-peer plan %d (%.3fx): the %d-peer rules run at %.3fx of it"
                         % (len(NODES) - 1, per["nftables_small"], ratio["nftables_small"], conn["peers"],
                            ratio["nftables_vs_small"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="P1/P2 for %(seconds)d s, P3 %(runs)d runs of %(slices)d slice"
                        % QUICK)
    parser.add_argument("--only", choices=("split", "rate"), help="P1/P2 (split) or P3 (rate) only")
    parser.add_argument("--configs", help="P3 configurations, comma-separated, of: %s (default: all)" % ", ".join(CLIENTS))
    parser.add_argument("--prefix", default=PREFIX, help="the containers' and networks' prefix (%(default)s)")
    parser.add_argument("--subnets", default=",".join(SUBNETS), help="the two links' subnets (%(default)s)")
    parser.add_argument("--out", default=REPORT)
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("nat_split.py needs root and podman (see docs/nat.md)")
    configs = args.configs.split(",") if args.configs else None
    if configs and ("none" not in configs or set(configs) - set(CLIENTS)):
        sys.exit("--configs: the configurations of %s, 'none' (the base) among them" % ", ".join(CLIENTS))
    if args.only == "split":
        configs = []
    bed = start(args.prefix, args.subnets.split(","), configs)
    figures = {}
    try:
        if args.only != "rate":
            figures["split"] = measure_split(bed, seconds=QUICK["seconds"] if args.quick else SECONDS)
        if args.only != "split":
            timing = {"runs": QUICK["runs"], "slices": QUICK["slices"]} if args.quick else {}
            figures["rate"] = measure_rate(bed, configs=configs, **timing)
    finally:
        if not args.keep:
            bed.down()
    figures.update(nproc=os.cpu_count(), loadavg=os.getloadavg(), quick=args.quick)
    print(report(figures))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(figures, handle, indent=2, sort_keys=True)
    print("written to %s" % os.path.relpath(args.out, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
