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
import threading
import time

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info

from testbed import podman as pm
from testbed.podman import TestbedError

SERVICE = "aerospike"
SERVICE_PORT = 3000
NO_SERVER = "no Aerospike server in the node image (hack/node-image.sh: set AEROSPIKE_ASD or provide ../shared/aerospike-server/asd)"


def available(image=None):
    """(True, build) when the node image carries the server, else (False, reason)."""
    image = image or pm.node_image()
    return (True, image.aerospike) if image.aerospike else (False, NO_SERVER)


class Server(object):
    """The servers of one cluster (testbed.cluster.Cluster with a management network)."""

    def __init__(self, cluster, port=SERVICE_PORT):
        if not cluster.topo.mgmt:
            raise TestbedError("cluster %s: the server needs a management network (testbed_mgmt_subnet)"
                               % cluster.topo.cluster)
        self.cluster = cluster
        self.port = port

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
        return aerospike_info.request(self.cluster.mgmt_address(host), self.port, names, timeout)

    def statistics(self, host, timeout=5.0):
        return aerospike_info.statistics(self.cluster.mgmt_address(host), self.port, timeout)

    def wait(self, wanted, hosts=None, timeout=120):
        """Until every host shows ``wanted`` statistics; {host: statistics}. TestbedError naming
        the host, what it showed and the end of its log on timeout."""
        out = {}
        deadline = time.monotonic() + timeout
        for host in hosts or self.cluster.hosts:
            left = max(1.0, deadline - time.monotonic())
            stats, dummy, missing, error = aerospike_info.wait_for(
                self.cluster.mgmt_address(host), self.port, wanted, left, interval=0.25)
            if missing:
                raise TestbedError("%s: Aerospike did not show %s within %d s (%s%s); its log ends:\n%s" % (
                    host, wanted, timeout, ", ".join("%s=%s" % (k, v[1]) for k, v in sorted(missing.items())),
                    "; " + error if error else "", self.log(host, 30)))
            out[host] = stats
        return out

    def wait_cluster(self, hosts=None, timeout=120):
        """Every host sees a cluster of all of ``hosts`` (default: every host) with integrity."""
        hosts = hosts or self.cluster.hosts
        return self.wait({"cluster_size": len(hosts), "cluster_integrity": True}, hosts, timeout)

    def migrations_remaining(self, hosts=None):
        return dict((host, int(self.statistics(host).get("migrate_partitions_remaining", -1)))
                    for host in hosts or self.cluster.hosts)

    def fabric_connections(self, host):
        """Established fabric sockets of ``host`` per link: {link: {'out': n, 'in': n}}
        (``ss`` in the node; out = opened by this node, to the peer's fabric port)."""
        topo = self.cluster.topo
        port = topo.port
        text = self.cluster.run(host, "ss -Htn state established '( sport = :%d or dport = :%d )'"
                                % (port, port)).stdout
        counts = dict((link["name"], {"out": 0, "in": 0}) for link in topo.links)
        networks = [(link["name"], ipaddress.ip_network(link["subnet"])) for link in topo.links]
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            local, remote = fields[2], fields[3]
            address, dummy, local_port = local.rpartition(":")
            address = address.strip("[]").split("%")[0]
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                continue
            for name, network in networks:
                if ip.version == network.version and ip in network:
                    counts[name]["in" if local_port == str(port) else "out"] += 1
                    break
        return counts


class Workload(object):
    """Writes through the ``aerospike`` client to the servers' management addresses.

    ``run(seconds)`` writes records of ``record_bytes`` from ``threads`` threads (at most
    ``rate`` writes/s in total when given) and returns what the client saw: writes, failures by
    error, the longest time without a successful write (stall) and per-interval counts. Replica
    writes (replication factor 2) are what the fabric links carry."""

    def __init__(self, cluster, namespace, record_bytes=50000, threads=8, set_name="cfm",
                 timeout_ms=1000, port=SERVICE_PORT):
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
        hosts = [(cluster.mgmt_address(h), port) for h in cluster.hosts]
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

    def run(self, seconds=None, count=None, rate=None, threads=None, interval=0.5):
        threads = int(threads or self.threads)
        payload = b"\x5a" * self.record_bytes
        start = time.monotonic()
        stop_at = start + seconds if seconds else None
        done = [0]
        failed = {}
        stamps = []
        state = {"last_ok": start, "stall": 0.0, "stall_at": None}

        def claim():
            with self.lock:
                if count is not None and self.next_key - base >= count:
                    return None
                if stop_at is not None and time.monotonic() >= stop_at:
                    return None
                self.next_key += 1
                return self.next_key

        def worker(index):
            sent = 0
            while True:
                if rate:
                    # paced: thread k sends its share of the writes on an even grid
                    due = start + (sent * threads + index) / float(rate)
                    delay = due - time.monotonic()
                    if delay > 0:
                        if stop_at is not None and due >= stop_at:
                            return
                        time.sleep(delay)
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
        return {"writes": done[0], "failed": sum(failed.values()), "failed_by_error": failed,
                "seconds": round(elapsed, 3), "writes_per_s": round(done[0] / elapsed, 1) if elapsed else 0.0,
                "payload_mbit": round(done[0] * self.record_bytes * 8 / 1e6 / elapsed, 1) if elapsed else 0.0,
                "record_bytes": self.record_bytes, "threads": threads, "rate": rate,
                "longest_stall_s": round(state["stall"], 3), "longest_stall_at_s": round(state["stall_at"] or 0, 3),
                "interval_s": interval, "writes_per_interval": buckets}
