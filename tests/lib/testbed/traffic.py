# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic, sockets and byte counters inside the nodes of a test bed cluster: the host side of
the node tool (testbed/node_tool.py, standard library only; counters through the collection's
link_sample, the product's one counter reader).

Every function takes a testbed.cluster.Cluster and a host name; links are the cluster's own
(name, device, subnet from the inventory). The tool is copied into a node the first time a
function needs it there (install() does it up front). Only the addresses given, those of the
cluster's test networks, are sent to.

    from testbed import traffic
    traffic.counters(cluster, "n1")                              # {link: {'tx': bytes, 'rx': bytes}}
    traffic.start_sink(cluster, "n2", 3001)                      # a TCP sink on every address
    run = traffic.streams(cluster, "n1", address, 3001, count=8, seconds=5)
    run["window"]                                                # epoch start/end, counters before/after
    run = traffic.emulate(cluster, "n1", [a, b], 3001, seed=1, seconds=4, offered_mbit=320)
    pid = traffic.start_streams(cluster, "n1", address, 3001, 8) # until traffic.stop(cluster, "n1", pid)
    traffic.stop_sink(cluster, "n2", 3001)
    traffic.sockets(cluster, "n1", [3001])                       # lasting sockets per lane/link/port
    pid = traffic.start_sampler(cluster, "n1", "/tmp/s.jsonl", 0.1, 60, [3001, 3002])
    traffic.read_samples(cluster, "n1", "/tmp/s.jsonl")          # [{t, bytes, sockets}] by time
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import tempfile

from ansible_collections.clusterfabric.multilink.plugins.module_utils import errors, link_sample

from testbed import podman as pm
from testbed.podman import TestbedError

NODE_DIR = "/usr/local/lib/clusterfabric-test"
NODE_TOOL = NODE_DIR + "/node_tool.py"
_MODULE_UTILS = "ansible_collections/clusterfabric/multilink/plugins/module_utils"
_MISSING = 97  # exit code of the command line when the tool is not in the node yet


def links_arg(cluster):
    """The node tool's --links value for the cluster's links: name=device=subnet,..."""
    return ",".join("%s=%s=%s" % (link["name"], link["device"], link["subnet"]) for link in cluster.topo.links)


def install(cluster, hosts=None):
    """Copy the node tool and link_sample (with errors.py) into every host (or ``hosts``):
    one ``podman cp`` of a directory per node."""
    staging = tempfile.mkdtemp(prefix="cfm-node-tool-")
    try:
        tree = os.path.join(staging, "clusterfabric-test")
        os.makedirs(os.path.join(tree, _MODULE_UTILS))
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_tool.py"), tree)
        for module in (link_sample, errors):
            shutil.copy(os.path.abspath(module.__file__), os.path.join(tree, _MODULE_UTILS))
        for host in hosts or cluster.hosts:
            pm.podman("cp", tree + "/.", "%s:%s" % (cluster.container(host), NODE_DIR))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def command(args):
    """The shell command that runs the node tool with ``args`` (a list) in a node."""
    quoted = " ".join(_quote(str(arg)) for arg in args)
    return "[ -f %s ] || exit %d; PYTHONPATH=%s exec python3 %s %s" % (NODE_TOOL, _MISSING, NODE_DIR, NODE_TOOL, quoted)


def tool(cluster, host, args, timeout=300):
    """Run the node tool with ``args`` in ``host`` (installing it first when needed); its JSON
    output. TestbedError with its output when it fails."""
    result = cluster.run(host, command(args), check=False, timeout=timeout)
    if result.returncode == _MISSING:
        install(cluster, [host])
        result = cluster.run(host, command(args), check=False, timeout=timeout)
    if result.returncode != 0:
        raise TestbedError("%s: node tool %s failed (%d): %s%s" % (
            host, " ".join(str(arg) for arg in args), result.returncode, result.stdout[-1500:], result.stderr[-1500:]))
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise TestbedError("%s: node tool %s printed no JSON: %r" % (host, args[0], result.stdout[-500:]))


# ---------------------------------------------------------------------------- counters, sockets, status
def counters(cluster, host):
    """{link: {'tx': bytes, 'rx': bytes}} of ``host``'s fabric links, from the kernel (link_sample)."""
    raw = tool(cluster, host, ["counters", "--links", links_arg(cluster)])["bytes"]
    return dict((name, {"tx": values[0], "rx": values[1]}) for name, values in raw.items())


def sockets(cluster, host, ports=None, lasting=0.3):
    """``host``'s established TCP sockets with either end on ``ports`` (default: the fabric
    ports), in two snapshots ``lasting`` s apart (only sockets in both count: no watchdog probes).

    Returns {time, sockets: [{direction 'in'|'out', local, local_port, remote, remote_port,
    port, peer, link, queued, retrans, probing}], links: {link: {port: {out, in, retrans,
    queued, probing}}}, other (sockets on no link), nat_view, watchdog (watchdog_status())}.
    ``peer`` is the address an opened socket really reaches (after the NAT rules: conntrack),
    ``link`` the link it rides; ``remote`` stays the address the application dialed."""
    ports = ports or cluster.topo.ports
    return tool(cluster, host, ["sockets", "--links", links_arg(cluster), "--ports", ",".join(str(p) for p in ports),
                                "--lasting", lasting])


def watchdog_status(cluster, host):
    """The link watchdog's status file of ``host`` as data (None without a watchdog); a
    status file that cannot be read gives {'unreadable': why}."""
    return tool(cluster, host, ["status"])["watchdog"]


# ---------------------------------------------------------------------------- sink and traffic
def start_sink(cluster, host, port, mptcp=False):
    """A TCP sink on ``port`` of every address of ``host`` (IPv4 and IPv6): it accepts every
    connection and reads it to its end (``mptcp``: a Multipath TCP listener, which takes plain
    TCP peers too). Listening when this returns; returns its pid."""
    stop_sink(cluster, host, port)
    return tool(cluster, host, ["sink", "--port", port, "--daemon"] + (["--mptcp"] if mptcp else []))["pid"]


def stop_sink(cluster, host, port):
    """Stop the sink on ``port`` of ``host`` (if any); returns once nothing listens there."""
    cluster.run(host, "pkill -f 'node_tool[.]py sink --port %d ' ; "
                      "for i in $(seq 100); do ss -Hltn 'sport = :%d' | grep -q . || exit 0; sleep 0.1; done; exit 1"
                % (int(port), int(port)))


def streams(cluster, host, address, port, count=8, seconds=5, stream_mbit=0, mptcp=False):
    """``count`` bulk TCP streams from ``host`` to ``address``:``port`` (as iperf3 -P), each
    paced to ``stream_mbit`` (0: unpaced), for ``seconds`` (``mptcp``: Multipath TCP
    connections). Returns {label, address, port, seconds, stream_mbit, mptcp, bytes_claimed (the
    generator's own counts, for the record), errors (per stream: None, or why its connection
    broke), window: {start, end (epoch: first byte, last byte read by the peer), seconds, before,
    after ({link: [tx, rx]} of ``host``, link_sample), cpu_before, cpu_after ([busy, total] clock
    ticks of the machine), process_cpu_before, process_cpu_after (the sender's CPU seconds),
    cgroup_cpu_before, cgroup_cpu_after (the sender container's CPU seconds, or None)},
    watchdog: {before, after} (watchdog_status() right before and after the traffic)}."""
    return tool(cluster, host, ["streams", "--address", address, "--port", port, "--count", count,
                                "--seconds", seconds, "--stream-mbit", stream_mbit, "--links", links_arg(cluster)]
                + (["--mptcp"] if mptcp else []), timeout=float(seconds) + 120)


def emulate(cluster, host, addresses, port, seed, seconds=5, offered_mbit=0, channels="rw=8,bulk=2,ctrl=1,meta=1"):
    """The EMULATION of the fabric connection pattern of Aerospike >= 3.14 from ``host`` to a peer
    publishing ``addresses`` (not a server: node_tool.emulate). Like streams(), plus ``seed``
    and ``sockets`` [{kind, peer (the address picked), local, bytes_claimed}]."""
    return tool(cluster, host, ["emulate", "--addresses", ",".join(addresses), "--port", port, "--seed", seed,
                                "--seconds", seconds, "--offered-mbit", offered_mbit, "--channels", channels,
                                "--links", links_arg(cluster)], timeout=float(seconds) + 120)


def start_streams(cluster, host, address, port, count=8, stream_mbit=0, mptcp=False):
    """``count`` bulk TCP streams (``mptcp``: Multipath TCP) from ``host`` to ``address``:``port``
    until stop(); their pid."""
    return tool(cluster, host, ["streams", "--address", address, "--port", port, "--count", count,
                                "--seconds", 0, "--stream-mbit", stream_mbit, "--daemon"]
                + (["--mptcp"] if mptcp else []))["pid"]


def run_sampled(cluster, host, argv, interval=0.5, timeout=300):
    """Run ``argv`` (a list) in ``host`` while sampling its links' counters every ``interval`` s:
    {elapsed, interval, samples [[seconds, {link: [tx, rx]}]], returncode, stdout, stderr}."""
    return tool(cluster, host, ["run", "--links", links_arg(cluster), "--interval", interval, "--"] + list(argv),
                timeout=timeout)


def stop(cluster, host, pid):
    """End a process the node tool started in ``host`` (start_streams, start_sampler)."""
    cluster.run(host, "kill %d 2>/dev/null; true" % int(pid))


# ---------------------------------------------------------------------------- long recordings
def start_sampler(cluster, host, path, interval, seconds, ports=None):
    """Every ``interval`` s for ``seconds``, append one JSON line to ``path`` in ``host``:
    {t, bytes: {link: [tx, rx]}, sockets: {link: {port: {out, in, retrans, queued, probing}}}}
    (sockets as in sockets(), one snapshot each). Returns the sampler's pid."""
    ports = ports or cluster.topo.ports
    return tool(cluster, host, ["sample", "--links", links_arg(cluster), "--ports", ",".join(str(p) for p in ports),
                                "--out", path, "--interval", interval, "--seconds", seconds, "--daemon"])["pid"]


def read_samples(cluster, host, path):
    """The sampler's lines in ``host``'s ``path``, sorted by time (a cut last line is left out)."""
    out = []
    for line in cluster.run(host, "cat %s 2>/dev/null; true" % _quote(path)).stdout.splitlines():
        try:
            sample = json.loads(line)
        except ValueError:
            continue
        if isinstance(sample, dict) and "t" in sample:
            out.append(sample)
    return sorted(out, key=lambda sample: sample["t"])


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"
