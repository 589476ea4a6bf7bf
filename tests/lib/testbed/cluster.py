# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start, use and remove the podman containers of one test bed cluster.

One ``--internal`` podman network per fabric link (nothing is routed off the machine), each
container on every link at the planner's lane-0 address with its other lanes' addresses added
inside, systemd as PID 1, tbf on every fabric link (the link's speed). With a management network
(testbed_mgmt_subnet) the containers also sit on an unshaped network the controller reaches at
the subnet's first address, for clients and the database's service port, so that the fabric
links carry fabric traffic only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from testbed import podman as pm
from testbed.podman import TestbedError

LABEL = "clusterfabric.testbed"
# The failure kinds the link-loss tests and benchmarks use: carrier loss on a node's own link,
# and a silent drop on the peer's side of the link (carrier stays up).
DROP_TABLE = "cfm_testbed_drop"


class Cluster(object):
    def __init__(self, topo):
        self.topo = topo

    # ------------------------------------------------------------------ names
    @property
    def hosts(self):
        return list(self.topo.hosts)

    def container(self, host):
        return self.topo.containers[host]

    @property
    def inventory(self):
        """The inventory file the cluster was read from."""
        return self.topo.inventory

    @property
    def plan(self):
        """{host: {link: [addresses]}}: the collection's address plan."""
        return self.topo.plan

    def mgmt_address(self, host):
        return self.topo.mgmt["addresses"][host] if self.topo.mgmt else None

    # ------------------------------------------------------------------ lifecycle
    def networks(self):
        names = [self.topo.network(link["name"]) for link in self.topo.links]
        return names + ([self.topo.network("mgmt")] if self.topo.mgmt else [])

    def down(self):
        pm.podman("rm", "--force", "--ignore", "--time", "0", *[self.container(h) for h in self.hosts])
        for name in self.networks():
            pm.podman("network", "rm", "--force", name, check=False)

    def up(self, image=None):
        """A fresh cluster (whatever an earlier run left is removed first); returns self."""
        image = image or pm.node_image()
        self.down()
        for link in self.topo.links:
            args = ["network", "create", "--internal", "--label", "%s=%s" % (LABEL, self.topo.prefix)]
            if link["family"] == "ipv6":
                args.append("--ipv6")
            pm.podman(*(args + ["--subnet", link["subnet"], self.topo.network(link["name"])]))
        if self.topo.mgmt:
            pm.podman("network", "create", "--internal", "--label", "%s=%s" % (LABEL, self.topo.prefix),
                      "--subnet", self.topo.mgmt["subnet"], self.topo.network("mgmt"))
        for host in self.hosts:
            pm.podman(*self.run_args(host, image.ref))
        if self.topo.mgmt:
            self.attach_controller()
        # every container boots at once: settle them side by side
        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            for future in [pool.submit(self.settle, host) for host in self.hosts]:
                future.result()
        return self

    def settle(self, host):
        """After ``podman run``: systemd up, the other lanes' addresses, tbf, /etc/aerospike."""
        self.wait_for_systemd(host)
        self.add_lanes(host)
        self.shape(host)
        self.run(host, "mkdir -p /etc/aerospike")

    def run_args(self, host, image_ref):
        args = ["run", "--detach", "--name", self.container(host), "--hostname", host,
                "--label", "%s=%s" % (LABEL, self.topo.prefix), "--systemd", "always",
                "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--pull", "never"]
        sysctls = dict(self.topo.sysctls)
        if any(link["family"] == "ipv6" for link in self.topo.links):
            # Addresses added inside the container must be usable at once (no duplicate
            # address detection delay on a test network only we use).
            sysctls.setdefault("net.ipv6.conf.all.accept_dad", 0)
            sysctls.setdefault("net.ipv6.conf.default.accept_dad", 0)
        for name, value in sorted(sysctls.items()):
            args += ["--sysctl", "%s=%s" % (name, value)]
        for link in self.topo.links:
            # Name the interface explicitly: podman does not keep the order of --network.
            args += ["--network", "%s:ip=%s,interface_name=%s" % (
                self.topo.network(link["name"]), self.topo.address(host, link["name"]), link["device"])]
        if self.topo.mgmt:
            args += ["--network", "%s:ip=%s,interface_name=%s" % (
                self.topo.network("mgmt"), self.mgmt_address(host), self.topo.mgmt["device"])]
        return args + [image_ref]

    def attach_controller(self):
        """Give the controller the management subnet's first address on its bridge."""
        bridge = pm.podman("network", "inspect", "--format", "{{.NetworkInterface}}",
                           self.topo.network("mgmt")).stdout.strip()
        prefix = self.topo.mgmt["subnet"].split("/")[1]
        subprocess.run(["ip", "addr", "replace", "%s/%s" % (self.topo.mgmt["controller"], prefix), "dev", bridge],
                       check=True)

    def add_lanes(self, host):
        """The plan's other addresses of each link (podman gives one per network), and no IPv4
        on an IPv6 link (podman adds an IPv4 subnet of its own to every IPv6 network)."""
        commands = []
        for link in self.topo.links:
            device = link["device"]
            if link["family"] == "ipv6":
                commands.append("ip -4 addr flush dev %s" % device)
            length = link["subnet"].split("/")[1]
            for address in self.topo.plan[host][link["name"]][1:]:
                commands.append("ip addr add %s/%s dev %s" % (address, length, device))
        if commands:
            self.run(host, " && ".join(commands))

    def wait_for_systemd(self, host, timeout=60):
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            state = self.run(host, "systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.3)
        raise TestbedError("%s: systemd did not come up in %d s (state %r)" % (host, timeout, state))

    def shape(self, host, rates=None):
        """tbf on every fabric link of ``host`` at the link's rate (or ``rates`` {link: Mbit/s})."""
        commands = []
        for link in self.topo.links:
            rate = (rates or {}).get(link["name"], link["rate_mbit"])
            commands.append("tc qdisc replace dev %s root tbf rate %gmbit burst 64kb latency 50ms" % (link["device"], rate))
        self.run(host, " && ".join(commands))

    # ------------------------------------------------------------------ use
    def run(self, host, command, check=True, timeout=300, stdin=None):
        """A shell command in ``host``'s container (``stdin``: text fed to it); returns the CompletedProcess."""
        result = subprocess.run(["podman", "exec"] + (["-i"] if stdin is not None else []) + [self.container(host), "sh", "-c", command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                env=pm.env(), timeout=timeout, check=False, input=stdin)
        if check and result.returncode != 0:
            raise TestbedError("%s: %r failed (%d): %s%s"
                               % (host, command, result.returncode, result.stdout[-2000:], result.stderr[-2000:]))
        return result

    def background(self, host, command):
        """Start ``command`` in ``host`` detached from this process, in a process group of its
        own; returns its id (stop() ends that group, children included)."""
        out = self.run(host, "setsid sh -c %s >/dev/null 2>&1 </dev/null & echo $!" % _quote(command)).stdout
        return int(out.split()[-1])

    def stop(self, host, pid):
        """End the process group background() started (whatever is left of it)."""
        self.run(host, "kill -- -%d 2>/dev/null; true" % int(pid))

    def wait_listening(self, host, port, timeout=10):
        """Until something in ``host`` listens on TCP ``port``."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.run(host, "ss -Hltn 'sport = :%d'" % int(port)).stdout.strip():
                return
            time.sleep(0.1)
        raise TestbedError("%s: nothing listens on port %d after %d s" % (host, port, timeout))

    def node(self, host):
        """``host``'s container as the host object the collection's node code takes (nat_apply)."""
        return Node(self.container(host))

    def copy(self, host, source, dest):
        self.run(host, "mkdir -p %s" % _quote(dest.rsplit("/", 1)[0] or "/"))
        pm.podman("cp", source, "%s:%s" % (self.container(host), dest))

    def counters(self, host):
        """{link: {'tx': bytes, 'rx': bytes}} of ``host``'s fabric links, from the kernel through
        the collection's link_sample (testbed.traffic.counters, the node tool)."""
        from testbed import traffic  # pylint: disable=import-outside-toplevel
        return traffic.counters(self, host)

    # ------------------------------------------------------------------ link failures
    def failure(self, kind, host, peer, link_name):
        """(host to act on, break command, repair command) for a failure of ``link_name``.

        ``carrier``: the link goes down on ``host`` (ip link set DEV down: carrier lost, the
        kernel and a watchdog see it at once). ``silent``: ``peer`` drops every packet on its side
        of the link while the carrier stays up (only probes notice)."""
        device = self.topo.device(link_name)
        if kind == "carrier":
            return host, "ip link set %s down" % device, "ip link set %s up" % device
        if kind == "silent":
            table = ("add table inet {t}; add chain inet {t} pre {{ type filter hook prerouting priority -300; }}; "
                     "add rule inet {t} pre iifname \"{d}\" drop; "
                     "add chain inet {t} post {{ type filter hook postrouting priority 300; }}; "
                     "add rule inet {t} post oifname \"{d}\" drop").format(t=DROP_TABLE, d=device)
            return peer, "nft %s" % _quote(table), "nft delete table inet %s" % DROP_TABLE
        raise TestbedError("failure kind %r is not one of carrier, silent" % (kind,))


class Node(object):
    """A container as the host of the collection's node code (plugins/module_utils/nat_apply):
    which, run, read, write, remove, exists through podman exec."""

    found = {}  # (container, command) -> path: the node image does not change

    def __init__(self, container):
        self.container = container

    def run(self, argv, data=None):
        result = subprocess.run(["podman", "exec", "-i", self.container] + list(argv),
                                input=data if data is not None else "", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, env=pm.env(), check=False)
        return result.returncode, result.stdout, result.stderr

    def which(self, name):
        key = (self.container, name)
        if key not in self.found:
            rc, out, dummy = self.run(["sh", "-c", 'command -v "$0" || true', name])
            out = out.strip()
            self.found[key] = out if rc == 0 and out.startswith("/") else None
        return self.found[key]

    def read(self, path):
        rc, out, dummy = self.run(["sh", "-c", 'test -f "$0" && cat "$0"', path])
        return out if rc == 0 else None

    def write(self, path, text, mode):
        script = 'mkdir -p "$(dirname "$0")" && cat > "$0.tmp" && chmod %o "$0.tmp" && mv "$0.tmp" "$0"' % mode
        rc, dummy, err = self.run(["sh", "-c", script, path], data=text)
        if rc != 0:
            raise TestbedError("%s: write %s: %s" % (self.container, path, err))

    def remove(self, path):
        self.run(["rm", "-f", path])

    def exists(self, path):
        return self.run(["test", "-e", path])[0] == 0


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def clusters(inventory, cluster=None, extra_vars=()):
    from testbed.inventory import topologies  # pylint: disable=import-outside-toplevel
    return [Cluster(topo) for topo in topologies(inventory, cluster, extra_vars)]


def start(inventory, image=None, cluster=None):
    """The one cluster of ``inventory`` (or the one named), (re)created and up."""
    from testbed.inventory import topology  # pylint: disable=import-outside-toplevel
    return Cluster(topology(inventory, cluster)).up(image)
