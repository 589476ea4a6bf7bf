# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real Aerospike server in a test bed cluster: control, what it says, and client workloads.

The server is the node image's /usr/bin/asd (hack/node-image.sh; ``Image.aerospike`` tells
whether the image has one) run by its aerospike.service unit with the aerospike.conf the role
wrote. The controller talks to it over the cluster's management network: the info protocol
with the collection's own aerospike_info code, and writes with the ``aerospike`` client from
PyPI. Nothing here sends to a fabric link: what the fabric links carry is the servers' own
fabric traffic.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import threading
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info, link_sample

from testbed import podman as pm
from testbed.podman import TestbedError

SERVICE = "aerospike"
SERVICE_PORT = 3000
NO_SERVER = "no Aerospike server in the node image (hack/node-image.sh: set AEROSPIKE_ASD or provide ../shared/aerospike-server/asd)"


def available(image=None):
    """(True, build) when the node image carries the server, else (False, reason)."""
    image = image or pm.node_image()
    return (True, image.aerospike) if image.aerospike else (False, NO_SERVER)


# Run inside a node (python3 -) after the text of aerospike_info: one info request to the
# node's own service port on loopback, answered as JSON.
_LOCAL_REQUEST = """
import json as _json
try:
    _out = {"answer": request("127.0.0.1", %d, %r, %r)}
except InfoError as _exc:
    _out = {"error": str(_exc)}
print(_json.dumps(_out))
"""


class Server(object):
    """The servers of one cluster (testbed.cluster.Cluster).

    With a management network the controller asks each node's service port there; without
    one, the info protocol runs inside the node (python3 with the collection's aerospike_info
    code, to 127.0.0.1, which the server always binds), so a cluster of fabric links only can
    be checked too."""

    def __init__(self, cluster, port=SERVICE_PORT):
        self.cluster = cluster
        self.port = port
        self.local = not cluster.topo.mgmt

    # ------------------------------------------------------------------ control
    def systemctl(self, action, hosts=None):
        for host in hosts or self.cluster.hosts:
            self.cluster.run(host, "systemctl %s %s" % (action, SERVICE))

    def start(self, hosts=None):
        self.systemctl("start", hosts)

    def stop(self, hosts=None):
        self.systemctl("stop", hosts)

    def restart(self, hosts=None):
        self.systemctl("restart", hosts)

    def log(self, host, lines=200):
        return self.cluster.run(host, "journalctl -u %s --no-pager -n %d" % (SERVICE, lines), check=False).stdout

    # ------------------------------------------------------------------ what it says
    def info(self, host, names, timeout=5.0):
        """{name: value} for the info ``names``; aerospike_info.InfoError when the node does not answer."""
        if not self.local:
            return aerospike_info.request(self.cluster.mgmt_address(host), self.port, names, timeout)
        with open(aerospike_info.__file__) as handle:
            script = handle.read() + _LOCAL_REQUEST % (self.port, list(names), float(timeout))
        result = self.cluster.run(host, "python3 -", check=False, timeout=timeout + 30, stdin=script)
        try:
            out = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise aerospike_info.InfoError("%s: the info request in the node failed (%d): %s"
                                           % (host, result.returncode, result.stderr[-1000:]))
        if "error" in out:
            raise aerospike_info.InfoError("%s: %s" % (host, out["error"]))
        return out["answer"]

    def statistics(self, host, timeout=5.0):
        return aerospike_info.pairs(self.info(host, ["statistics"], timeout).get("statistics", ""))

    def wait(self, wanted, hosts=None, timeout=120):
        """Until every host shows ``wanted`` statistics; {host: statistics}. TestbedError naming
        the host, what it showed and the end of its log on timeout."""
        out = {}
        deadline = time.monotonic() + timeout
        for host in hosts or self.cluster.hosts:
            left = max(1.0, deadline - time.monotonic())
            if self.local:
                stats, missing, error = self._wait_local(host, wanted, left)
            else:
                stats, dummy, missing, error = aerospike_info.wait_for(
                    self.cluster.mgmt_address(host), self.port, wanted, left, interval=0.25)
            if missing:
                raise TestbedError("%s: Aerospike did not show %s within %d s (%s%s); its log ends:\n%s" % (
                    host, wanted, timeout, ", ".join("%s=%s" % (k, v[1]) for k, v in sorted(missing.items())),
                    "; " + error if error else "", self.log(host, 30)))
            out[host] = stats
        return out

    def _wait_local(self, host, wanted, timeout, interval=0.25):
        """aerospike_info.wait_for through the node: (statistics, unmet, last error)."""
        deadline = time.monotonic() + timeout
        while True:
            error = None
            try:
                stats = self.statistics(host, timeout=max(1.0, min(5.0, timeout)))
                missing = aerospike_info.unmet(stats, wanted)
            except aerospike_info.InfoError as exc:
                stats, error = {}, str(exc)
                missing = dict((name, (str(value), None)) for name, value in wanted.items())
            if not missing or time.monotonic() >= deadline:
                return stats, missing, error
            time.sleep(interval)

    def wait_cluster(self, hosts=None, timeout=120):
        """Every host sees a cluster of all of ``hosts`` (default: every host) with integrity."""
        hosts = hosts or self.cluster.hosts
        return self.wait({"cluster_size": len(hosts), "cluster_integrity": True}, hosts, timeout)

    def migrations_remaining(self, hosts=None):
        return dict((host, int(self.statistics(host).get("migrate_partitions_remaining", -1)))
                    for host in hosts or self.cluster.hosts)

    def fabric_connections(self, host):
        """Established fabric sockets of ``host`` per link: {link: {'out': n, 'in': n}}
        (``ss`` in the node; out = opened by this node, to the peer's fabric port).

        The collection's own counting (link_sample, as playbooks/verify.yml does it): a socket
        this node opened and its NAT rules moved to another link keeps its original addresses in
        ss, so it is put on the link of the peer address the connection tracking table says it
        really goes to."""
        port = self.cluster.topo.port
        text = self.cluster.run(host, " ".join(link_sample.ss_command(port)[:-1]) + " '%s'"
                                % link_sample.ss_command(port)[-1]).stdout
        table = self.cluster.run(host, "cat %s" % link_sample.CONNTRACK_FILE, check=False)
        conntrack = link_sample.parse_conntrack(table.stdout.splitlines(), port) if table.returncode == 0 else None
        return link_sample.fabric_sockets(self.cluster.topo.links, port, link_sample.parse_ss(text), conntrack)["links"]

    def fabric_sockets(self, host):
        """Every established fabric socket of ``host``, per lane: [{'direction': 'in'|'out',
        'local': address, 'local_port': n, 'remote': address, 'remote_port': n, 'link': link name
        or None}] (``ss`` in the node). One snapshot: it may hold a short-lived connection such
        as a link watchdog probe; sockets seen in two snapshots are the lasting ones.

        The addresses are the socket's own: for a connection this node opened and its NAT rules
        steered, 'remote' is the address the server dialed, not the lane it was sent to; the
        peer's 'in' sockets show the lane."""
        topo = self.cluster.topo
        port = str(topo.port)
        text = self.cluster.run(host, "ss -Htn state established '( sport = :%s or dport = :%s )'"
                                % (port, port)).stdout
        networks = [(link["name"], ipaddress.ip_network(link["subnet"])) for link in topo.links]
        sockets = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            ends = []
            for field in fields[2:4]:
                address, dummy, end_port = field.rpartition(":")
                ends.append((address.strip("[]").split("%")[0], end_port))
            try:
                local = ipaddress.ip_address(ends[0][0])
            except ValueError:
                continue
            link = [name for name, network in networks if local.version == network.version and local in network]
            try:
                remote = str(ipaddress.ip_address(ends[1][0]))
            except ValueError:
                remote = ends[1][0]
            sockets.append({"direction": "in" if ends[0][1] == port else "out", "local": str(local),
                            "local_port": int(ends[0][1]), "remote": remote, "remote_port": int(ends[1][1]),
                            "link": link[0] if link else None})
        return sockets


class Workload(object):
    """Writes through the ``aerospike`` client to the servers' management addresses.

    ``run(seconds)`` writes records of ``record_bytes`` from ``threads`` threads (at most
    ``rate`` writes/s in total when given) and returns what the client saw: writes, failures by
    error (``failures``: [seconds from the start, error] of each), the longest time without a
    successful write (stall), per-interval counts of writes and failures and the wall-clock time
    the run started (``started_at``, to line them up with other records). Replica
    writes (replication factor 2) are what the fabric links carry."""

    def __init__(self, cluster, namespace, record_bytes=50000, threads=8, set_name="cfm",
                 timeout_ms=1000, port=SERVICE_PORT, hosts=None):
        # hosts: the nodes to seed the client with (default: every node); a node that is down
        # must not be a seed, or connect() fails ("Peers not reachable").
        try:
            import aerospike  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise TestbedError("the aerospike client is missing: make venv installs it (requirements-dev.txt)")
        self.module = aerospike
        self.namespace = namespace
        self.set_name = set_name
        self.record_bytes = int(record_bytes)
        self.threads = int(threads)
        self.timeout_ms = int(timeout_ms)
        hosts = [(cluster.mgmt_address(h), port) for h in hosts or cluster.hosts]
        policy = {"total_timeout": self.timeout_ms, "socket_timeout": self.timeout_ms, "max_retries": 0}
        self.client = aerospike.client({"hosts": hosts, "policies": {"write": policy},
                                        "max_conns_per_node": max(300, 4 * self.threads)}).connect()
        self.next_key = 0
        self.lock = threading.Lock()

    def close(self):
        self.client.close()

    def load(self, total_bytes, threads=None):
        """Write ``total_bytes`` of new records as fast as possible; returns the run's figures."""
        count = int(total_bytes) // self.record_bytes
        return self.run(seconds=None, count=count, threads=threads)

    def run(self, seconds=None, count=None, rate=None, threads=None, interval=0.5, stop=None, catch_up=True):
        """Write until ``seconds`` pass, ``count`` writes are done or ``stop`` (a threading.Event) is set.

        With ``rate`` the threads share an even schedule; a thread held up (a slow or failed write)
        sends the writes it missed at once (``catch_up``) or skips them (``catch_up=False``: the
        offered rate never exceeds ``rate``, like a client with a fixed request rate)."""
        threads = int(threads or self.threads)
        payload = b"\x5a" * self.record_bytes
        start = time.monotonic()
        stop_at = start + seconds if seconds else None
        done = [0]
        failed = {}
        stamps = []
        fail_stamps = []
        started_at = time.time()
        state = {"last_ok": start, "stall": 0.0, "stall_at": None}

        def claim():
            with self.lock:
                if count is not None and self.next_key - base >= count:
                    return None
                if stop_at is not None and time.monotonic() >= stop_at or stop is not None and stop.is_set():
                    return None
                self.next_key += 1
                return self.next_key

        def worker(index):
            sent = 0
            while True:
                if rate:
                    # paced: thread k sends its share of the writes on an even grid
                    due = start + (sent * threads + index) / float(rate)
                    late = time.monotonic() - due
                    if late > 0 and not catch_up:
                        sent += int(late * rate / threads)
                        due = start + (sent * threads + index) / float(rate)
                    delay = due - time.monotonic()
                    if delay > 0:
                        if stop_at is not None and due >= stop_at:
                            return
                        if stop is None:
                            time.sleep(delay)
                        elif stop.wait(delay):
                            return  # stopped: no idle wait that would count as a stall at the end
                key = claim()
                if key is None:
                    return
                sent += 1
                try:
                    self.client.put((self.namespace, self.set_name, key), {"b": payload})
                    now = time.monotonic()
                    with self.lock:
                        done[0] += 1
                        stamps.append(now)
                        gap = now - state["last_ok"]
                        if gap > state["stall"]:
                            state["stall"], state["stall_at"] = gap, state["last_ok"] - start
                        state["last_ok"] = max(state["last_ok"], now)
                except self.module.exception.AerospikeError as exc:
                    name = type(exc).__name__
                    with self.lock:
                        failed[name] = failed.get(name, 0) + 1
                        fail_stamps.append((time.monotonic(), name))

        base = self.next_key
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.daemon = True
            thread.start()
        for thread in workers:
            thread.join()
        elapsed = time.monotonic() - start
        end_gap = (start + elapsed) - state["last_ok"]
        if end_gap > state["stall"]:
            state["stall"], state["stall_at"] = end_gap, state["last_ok"] - start
        buckets = [0] * (int(elapsed / interval) + 1)
        for stamp in stamps:
            buckets[min(len(buckets) - 1, int((stamp - start) / interval))] += 1
        failed_buckets = [0] * len(buckets)
        for stamp, dummy in fail_stamps:
            failed_buckets[min(len(buckets) - 1, int((stamp - start) / interval))] += 1
        return {"writes": done[0], "failed": sum(failed.values()), "failed_by_error": failed,
                "seconds": round(elapsed, 3), "writes_per_s": round(done[0] / elapsed, 1) if elapsed else 0.0,
                "payload_mbit": round(done[0] * self.record_bytes * 8 / 1e6 / elapsed, 1) if elapsed else 0.0,
                "record_bytes": self.record_bytes, "threads": threads, "rate": rate,
                "longest_stall_s": round(state["stall"], 3), "longest_stall_at_s": round(state["stall_at"] or 0, 3),
                "interval_s": interval, "writes_per_interval": buckets, "failed_per_interval": failed_buckets,
                "started_at": round(started_at, 4),
                "failures": [[round(stamp - start, 3), name] for stamp, name in sorted(fail_stamps)[:2000]]}
