# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two-node (or N-node) podman clusters for live tests, benchmarks and the demo.

One podman network per fabric link (an ``--internal`` bridge, so nothing is routed off the
machine), container addresses taken from a fabric plan, systemd as PID 1, and tbf on each
link inside every container to emulate the link's speed. Only addresses in the test subnets
(198.18.0.0/15) and loopback are ever sent to.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HACK = os.path.join(ROOT, "hack")
CONTAINERS_CONF = os.path.join(HACK, "containers.conf")

sys.path.insert(0, os.path.join(ROOT, "tests"))
from collection_path import ensure_importable  # noqa: E402  pylint: disable=wrong-import-position

ensure_importable()
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import (  # noqa: E402
    plan_addresses)  # pylint: disable=wrong-import-position


def podman_env():
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)
    return env


def podman(*args, **kwargs):
    """Run podman; raise with its output on failure unless check=False."""
    check = kwargs.pop("check", True)
    result = subprocess.run(("podman",) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=podman_env(), check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError("podman %s failed (%d): %s%s"
                           % (" ".join(args), result.returncode, result.stdout, result.stderr))
    return result


def node_image():
    """Build the node image if needed (hack/node-image.sh) and return its reference."""
    result = subprocess.run(["bash", os.path.join(HACK, "node-image.sh")], stdout=subprocess.PIPE,
                            universal_newlines=True, env=podman_env(), check=True)
    return result.stdout.strip().splitlines()[-1]


class PodmanCluster(object):
    """Containers named PREFIX-HOST on networks named PREFIX-LINK.

    ``links``: the fabric_links entries (``name``, ``subnet``, optional ``rate_mbit``);
    ``nodes``: {host: fabric_node_id}. The planner places the containers: lane 0 of each
    host's plan is its address on that link. Interface ethN is link N in ``links`` order.
    ``sysctls``: extra ``--sysctl`` settings (e.g. strict rp_filter), as {name: value}.
    """

    def __init__(self, prefix, links, nodes, rate_mbit=200, sysctls=None):
        self.prefix = prefix
        self.links = list(links)
        self.nodes = dict(nodes)
        self.plan = plan_addresses(self.nodes, self.links)
        self.rate_mbit = rate_mbit
        self.sysctls = dict(sysctls or {})

    # ------------------------------------------------------------------ names
    def container(self, host):
        return "%s-%s" % (self.prefix, host)

    def network(self, link_name):
        return "%s-%s" % (self.prefix, link_name)

    def device(self, link_name):
        names = [link["name"] for link in self.links]
        return "eth%d" % names.index(link_name)

    @property
    def hosts(self):
        return list(self.plan)

    # ------------------------------------------------------------------ lifecycle
    def down(self):
        for host in self.hosts:
            podman("rm", "--force", "--time", "0", self.container(host), check=False)
        for link in self.links:
            podman("network", "rm", "--force", self.network(link["name"]), check=False)

    def up(self, image=None):
        image = image or node_image()
        self.down()
        for link in self.links:
            podman("network", "create", "--internal", "--subnet", link["subnet"],
                   self.network(link["name"]))
        for host in self.hosts:
            args = ["run", "--detach", "--name", self.container(host), "--hostname", host,
                    "--systemd", "always", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW"]
            for name, value in sorted(self.sysctls.items()):
                args += ["--sysctl", "%s=%s" % (name, value)]
            for link in self.links:
                # Name the interface explicitly: podman does not keep --network order.
                args += ["--network", "%s:ip=%s,interface_name=%s" % (
                    self.network(link["name"]), self.plan[host][link["name"]][0],
                    self.device(link["name"]))]
            podman(*(args + [image]))
        for host in self.hosts:
            self.wait_for_systemd(host)
            self.shape(host)
        return self

    def wait_for_systemd(self, host, timeout=60):
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            state = self.run(host, "systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.5)
        raise RuntimeError("%s: systemd did not come up in %ds (state %r)" % (host, timeout, state))

    def shape(self, host):
        """Limit every link's egress to rate_mbit with tbf (the emulated link speed)."""
        for link in self.links:
            rate = link.get("rate_mbit", self.rate_mbit)
            self.run(host, "tc qdisc replace dev %s root tbf rate %dmbit burst 64kb latency 50ms"
                     % (self.device(link["name"]), rate))

    # ------------------------------------------------------------------ use
    def run(self, host, command, check=True, timeout=300):
        """Run a shell command in a node; returns CompletedProcess."""
        result = subprocess.run(["podman", "exec", self.container(host), "sh", "-c", command],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, env=podman_env(), timeout=timeout,
                                check=False)
        if check and result.returncode != 0:
            raise RuntimeError("%s: %r failed (%d): %s%s"
                               % (host, command, result.returncode, result.stdout, result.stderr))
        return result

    def counters(self, host):
        """{link name: {'tx': bytes, 'rx': bytes}} from the kernel's interface counters."""
        out = {}
        for link in self.links:
            dev = self.device(link["name"])
            text = self.run(host, "cat /sys/class/net/%s/statistics/tx_bytes "
                                  "/sys/class/net/%s/statistics/rx_bytes" % (dev, dev)).stdout
            tx_bytes, rx_bytes = (int(v) for v in text.split())
            out[link["name"]] = {"tx": tx_bytes, "rx": rx_bytes}
        return out

    def write_inventory(self, path, group="cluster", group_vars=None):
        """A JSON inventory reaching the containers with containers.podman.podman.

        fabric_links in it carry each link's container device (ethN)."""
        hosts = {}
        for host in self.hosts:
            hosts[host] = {
                "ansible_connection": "containers.podman.podman",
                "ansible_host": self.container(host),
                "ansible_python_interpreter": "/usr/bin/python3",
                "fabric_node_id": self.nodes[host],
            }
        links = [dict(link, device=self.device(link["name"])) for link in self.links]
        for link in links:
            link.pop("rate_mbit", None)
        variables = {"fabric_cluster_group": group, "fabric_links": links}
        variables.update(group_vars or {})
        inventory = {"all": {"children": {group: {"hosts": hosts, "vars": variables}}}}
        with open(path, "w") as handle:
            json.dump(inventory, handle, indent=2)
        return path
