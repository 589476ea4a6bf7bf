# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure what the fabric NAT rules buy on a live two-node podman cluster.

Two links of 200 Mbit/s each (tbf), rules computed by nat_rules and applied by nat_apply
(the code the fabric_nat module runs), in the same run:

  P1  iperf3 -P 8 for 5 s to the peer's primary fabric address, port 3001: aggregate with the
      rules / without (goal >= 1.97x, the limit is 2x);
  P2  the busiest link's share of the bytes sent, from the kernel's tx counters (goal <= 51 %);
  P3  new connections per second to the peer (connect, close) with the rules of a 1000-peer
      cluster loaded / with no rules, nftables and iptables, median of 3 runs, each run
      alternating short slices between three client nodes (one per configuration)
      (goal >= 0.97x for nftables; iptables reported).

Prints the figures and writes build/reports/nat.json. Run with `make bench` or
`python benchmarks/nat_split.py` as root (podman, the node image). tests/integration/
test_nat_split.py runs the same measurement and checks loose bounds.

Only the test subnets 198.18.48.0/21 and 198.18.56.0/21 (containers cfm-nat-bench-*) are used.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from collection_path import ensure_importable  # noqa: E402  pylint: disable=wrong-import-position

ensure_importable()
from podman_cluster import PodmanCluster, podman_env  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import (  # noqa: E402  pylint: disable=wrong-import-position
    address_plan, nat_rules)

PROBE = os.path.join(ROOT, "benchmarks", "nat_probe.py")
PROBE_IN_NODE = "/usr/local/bin/nat_probe.py"
# Room for 1001 planned nodes per link. tests/integration/test_nat_split.py uses others.
LINKS = [
    {"name": "fab0", "subnet": "198.18.48.0/21"},
    {"name": "fab1", "subnet": "198.18.56.0/21"},
]
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


class PodmanHost(object):
    """A container as nat_apply's host: commands through podman exec."""

    found = {}  # (container, command) -> path: the node image does not change

    def __init__(self, container):
        self.container = container

    def _exec(self, argv, data=None):
        result = subprocess.run(["podman", "exec", "-i", self.container] + list(argv),
                                input=data if data is not None else "", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True,
                                env=podman_env(), check=False)
        return result.returncode, result.stdout, result.stderr

    def which(self, name):
        key = (self.container, name)
        if key not in self.found:
            rc, out, dummy = self._exec(["sh", "-c", 'command -v "$0" || true', name])
            out = out.strip()
            self.found[key] = out if rc == 0 and out.startswith("/") else None
        return self.found[key]

    def run(self, argv, data=None):
        return self._exec(argv, data)

    def read(self, path):
        rc, out, dummy = self._exec(["sh", "-c", 'test -f "$0" && cat "$0"', path])
        return out if rc == 0 else None

    def write(self, path, text, mode):
        script = 'mkdir -p "$(dirname "$0")" && cat > "$0.tmp" && chmod %o "$0.tmp" && mv "$0.tmp" "$0"' % mode
        rc, dummy, err = self._exec(["sh", "-c", script, path], data=text)
        if rc != 0:
            raise RuntimeError("write %s: %s" % (path, err))

    def remove(self, path):
        self._exec(["rm", "-f", path])

    def exists(self, path):
        return self._exec(["test", "-e", path])[0] == 0


def cluster(prefix="cfm-nat-bench", links=None, sysctls=None, configs=None):
    """The bed: n1, n2 and one client node per P3 configuration (all of CLIENTS by default)."""
    nodes = dict((host, node) for host, node in NODES.items()
                 if host in (NODE, PEER) or configs is None
                 or any(CLIENTS[name] == host for name in configs))
    return PodmanCluster(prefix, links or LINKS, nodes, rate_mbit=200, sysctls=sysctls)


def install_probe(bed, hosts=None):
    for host in hosts or bed.hosts:
        subprocess.run(["podman", "cp", PROBE, "%s:%s" % (bed.container(host), PROBE_IN_NODE)],
                       env=podman_env(), check=True)


def devices(bed, host):
    """{link: interface} read from the node: the interface holding its planned address.

    (podman does not always attach a container's networks in the order given, so ethN is
    not necessarily link N.)"""
    shown = json.loads(bed.run(host, "ip -j addr show").stdout)
    where = dict((a["local"], i["ifname"]) for i in shown for a in i.get("addr_info", []))
    return dict((link["name"], where[bed.plan[host][link["name"]][0]]) for link in bed.links)


def links_with_devices(bed, host):
    found = devices(bed, host)
    return [{"name": link["name"], "device": found[link["name"]]} for link in bed.links]


def counters(bed, host):
    """{link: tx bytes} from the kernel's interface counters."""
    out = {}
    for link, dev in devices(bed, host).items():
        out[link] = int(bed.run(host, "cat /sys/class/net/%s/statistics/tx_bytes" % dev).stdout)
    return out


def big_plan(bed, peers=PEERS):
    """The real nodes' plan plus fake peers filling the ids up to peers + 1, same links."""
    nodes = dict(("fake%04d" % i, i) for i in range(1, peers + 2) if i not in bed.nodes.values())
    assert max(bed.nodes.values()) == peers + 1
    nodes.update(bed.nodes)
    return address_plan.plan_addresses(nodes, bed.links)


def apply_rules(bed, host, backend, plan=None, **options):
    """Compute the rules for ``host`` as the fabric_nat action does and converge the node to them (None: remove)."""
    rules = None
    if plan is not None:
        rules = nat_rules.node_rules(nat_rules.build(plan, host, links_with_devices(bed, host), ports=[PORT], **options),
                                     backend)
    return nat_apply.converge(PodmanHost(bed.container(host)), rules, backend=backend, persist=False)


def remove_rules(bed, host):
    return nat_apply.converge(PodmanHost(bed.container(host)), None, persist=False)


def iperf(bed, host, peer, seconds=SECONDS):
    """Aggregate Mbit/s of STREAMS streams for ``seconds`` and each link's tx bytes meanwhile."""
    target = bed.plan[peer][bed.links[0]["name"]][0]
    before = counters(bed, host)
    out = bed.run(host, "iperf3 -J -c %s -p %d -P %d -t %d" % (target, PORT, STREAMS, seconds),
                  timeout=seconds + 60).stdout
    after = counters(bed, host)
    sent = dict((name, after[name] - before[name]) for name in after)
    mbit = json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    return {"mbit": round(mbit, 1), "tx_bytes": sent,
            "busiest_share": round(max(sent.values()) / float(sum(sent.values())), 4)}


def _wait_listening(bed, host, port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if bed.run(host, "ss -Hltn 'sport = :%d'" % port).stdout.strip():
            return
        time.sleep(0.1)
    raise RuntimeError("%s: nothing listens on port %d" % (host, port))


def stop_servers(bed, peer):
    bed.run(peer, "pkill -x iperf3; pkill -f 'nat_probe[.]py sink'; "
                  "while ss -Hltn 'sport = :%d' | grep -q .; do sleep 0.1; done" % PORT)


def start_iperf_server(bed, peer):
    stop_servers(bed, peer)
    bed.run(peer, "iperf3 -s -D -p %d" % PORT)
    _wait_listening(bed, peer, PORT)


def start_sink(bed, peer):
    stop_servers(bed, peer)
    bed.run(peer, "setsid python3 %s sink %d >/dev/null 2>&1 < /dev/null &" % (PROBE_IN_NODE, PORT))
    _wait_listening(bed, peer, PORT)


def rate(bed, host, peer, seconds):
    """{'connections', 'seconds', ...}: connect/close loop from host to the peer's primary address."""
    target = "%s:%d" % (bed.plan[peer][bed.links[0]["name"]][0], PORT)
    result = json.loads(bed.run(host, "python3 %s rate %s %s" % (PROBE_IN_NODE, seconds, target)).stdout)
    if result["failed"]:
        raise RuntimeError("%s: %d of %d connections failed: %s"
                           % (host, result["failed"], result["failed"] + result["connections"],
                              result["errors"]))
    return result


def measure_split(bed, host=NODE, peer=PEER, seconds=SECONDS):
    """P1 and P2: NAT off, then on, in the same run."""
    remove_rules(bed, host)
    start_iperf_server(bed, peer)
    off = iperf(bed, host, peer, seconds)
    apply_rules(bed, host, "nftables", bed.plan)
    start_iperf_server(bed, peer)
    on = iperf(bed, host, peer, seconds)
    remove_rules(bed, host)
    stop_servers(bed, peer)
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
        apply_rules(bed, host, config.replace("_small", ""),
                    bed.plan if config.endswith("_small") else plan)
        loaded[config] = round(time.time() - started, 2)
    if "conntrack" in clients:
        node = PodmanHost(bed.container(CLIENTS["conntrack"]))
        rc, dummy, err = node.run(["nft", "-f", "/dev/stdin"], CONNTRACK_ONLY)
        if rc:
            raise RuntimeError("conntrack-only rule: %s" % err)
    start_sink(bed, peer)
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
    stop_servers(bed, peer)
    medians = dict((name, statistics.median(values)) for name, values in samples.items())
    ratio = dict((name, round(medians[name] / medians["none"], 4)) for name in medians)
    for name, base in (("nftables", "conntrack"), ("iptables", "conntrack"), ("nftables", "nftables_small")):
        if name in medians and base in medians:
            ratio["%s_vs_%s" % (name, base.replace("nftables_", ""))] = round(medians[name] / medians[base], 4)
    model = nat_rules.build(plan, CLIENTS["iptables"], links_with_devices(bed, CLIENTS["iptables"]),
                            ports=[PORT])
    return {
        "peers": len(plan) - 1, "runs": runs, "slices_per_run": slices, "slice_seconds": seconds,
        "rules": {"nft_map_elements": sum(len(rule["match"]) for rule in model["peers"]),
                  "nft_peer_chains": len(model["peers"]),
                  "iptables_rules": sum(len(body) for body in
                                        nat_rules.iptables_chains(model, "ipv4").values())},
        "apply_seconds": loaded,
        "per_second": dict((name, round(value)) for name, value in medians.items()),
        "samples": dict((name, [round(v) for v in values]) for name, values in samples.items()),
        "ratio": ratio,
    }


def measure(bed):
    install_probe(bed)
    return {"split": measure_split(bed), "rate": measure_rate(bed)}


def report(figures):
    split, conn = figures["split"], figures["rate"]
    lines = [
        "P1 aggregate, iperf3 -P %d for %d s to the peer's primary address, 2 x 200 Mbit/s:"
        % (STREAMS, SECONDS),
        "   NAT off %.1f Mbit/s, NAT on %.1f Mbit/s: %.3fx (goal >= 1.97x)"
        % (split["off"]["mbit"], split["on"]["mbit"], split["ratio"]),
        "P2 busiest link's share of bytes with NAT: %.2f %% (goal <= 51 %%); tx bytes %s"
        % (100 * split["busiest_share"], split["on"]["tx_bytes"]),
        "P3 new connections/s with the rules of a %d-peer plan, median of %d runs:"
        % (conn["peers"], conn["runs"]),
        "   no rules %d; nftables %d (%.3fx, goal >= 0.97x); iptables %d (%.3fx)"
        % (conn["per_second"]["none"], conn["per_second"]["nftables"], conn["ratio"]["nftables"],
           conn["per_second"]["iptables"], conn["ratio"]["iptables"]),
        "   conntrack alone (no NAT) %d (%.3fx): nftables %.3fx and iptables %.3fx of it"
        % (conn["per_second"]["conntrack"], conn["ratio"]["conntrack"],
           conn["ratio"]["nftables_vs_conntrack"], conn["ratio"]["iptables_vs_conntrack"]),
        "   nftables with a %d-peer plan %d (%.3fx): the %d-peer rules run at %.3fx of it"
        % (len(NODES) - 1, conn["per_second"]["nftables_small"], conn["ratio"]["nftables_small"],
           conn["peers"], conn["ratio"]["nftables_vs_small"]),
    ]
    return "\n".join(lines)


def main():
    if os.geteuid() != 0:
        sys.exit("nat_split.py needs root and podman (see docs/nat.md)")
    bed = cluster()
    bed.up()
    try:
        figures = measure(bed)
    finally:
        bed.down()
    figures["nproc"] = os.cpu_count()
    print(report(figures))
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as handle:
        json.dump(figures, handle, indent=2, sort_keys=True)
    print("written to %s" % os.path.relpath(REPORT, ROOT))


if __name__ == "__main__":
    main()
