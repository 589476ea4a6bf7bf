# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What playbooks/site.yml costs a fleet, against Ansible's floor on the same inventory.

Generates an inventory of ``ansible_connection: local`` hosts (CLUSTERS x NODES, two links per
cluster, every role's files under build/bench/fleet/root/<host>, NAT packages not installed) and
runs, side by side with the same forks:

  floor  one play, one ansible.builtin.ping per host: the least a run that touches every host costs
  site   ansible-playbook --check --diff playbooks/site.yml (both plays, all three roles)

The hosts all share this machine's kernel, so one fork is the default (the issue's measurement);
the nat module only reads the live ruleset in check mode. Reported per run: wall seconds, CPU
seconds of ansible-playbook and its workers, and the peak resident memory of the largest process
(the controller). Numbers only; writes build/reports/fleet.json. `make bench-fleet`; a 2,000-host
fleet: `python benchmarks/fleet.py --shape 200x10 --forks 10` (about half an hour).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "bench", "fleet")
REPORT = os.path.join(ROOT, "build", "reports", "fleet.json")
BIN = os.path.dirname(sys.executable)
FLOOR = """---
- name: Ansible's floor, one ping per host
  hosts: all
  gather_facts: false
  tasks:
    - name: Reach the host once
      ansible.builtin.ping:
"""
# Peak RSS of the largest descendant (Linux: ru_maxrss of RUSAGE_CHILDREN, in KiB) and its CPU.
MEASURE = ("import resource, subprocess, sys, json; r = subprocess.run(sys.argv[1:]); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "sys.stderr.write('\\nMEASURE ' + json.dumps([r.returncode, u.ru_maxrss, u.ru_utime + u.ru_stime]) + '\\n')")


def shape(text):
    clusters, dummy, nodes = text.partition("x")
    if not clusters.isdigit() or not nodes.isdigit() or int(clusters) < 1 or int(nodes) < 2:
        raise argparse.ArgumentTypeError("%s: want CLUSTERSxNODES such as 4x10" % text)
    return int(clusters), int(nodes)


def inventory(clusters, nodes, root):
    """Every role's files under root/<host>; group vars satisfy every role without a real server."""
    children = {}
    hostvars = {}
    for index in range(clusters):
        name = "c%03d" % (index + 1)
        links = [{"name": "fab0", "subnet": "198.18.%d.%d/25" % (index // 2, 128 * (index % 2)), "device": "eth1"},
                 {"name": "fab1", "subnet": "198.19.%d.%d/25" % (index // 2, 128 * (index % 2)), "device": "eth2"}]
        hosts = {}
        for node in range(1, nodes + 1):
            host = "%s-n%03d" % (name, node)
            hosts[host] = {"fabric_node_id": node}
            hostvars[host] = {"fabric_links_root": os.path.join(root, host),
                              "fabric_links_manifest": os.path.join(root, host, "manifest.json"),
                              "aerospike_config_path": os.path.join(root, host, "aerospike.conf")}
            os.makedirs(os.path.join(root, host), exist_ok=True)
        children[name] = {"hosts": hosts, "vars": {
            "fabric_cluster_group": name, "fabric_links": links, "fabric_ports": [3001],
            "fabric_strategy": "balanced", "fabric_links_backend": "networkd",
            "fabric_nat_install_packages": False, "aerospike_version": "8.1",
            "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                                      "storage-engine": {"type": "memory", "data-size": "1G"}}]}}
        for host in hosts:
            children[name]["hosts"][host].update(hostvars[host])
    return {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                    "children": children}}


def run(inventory_path, playbook, forks, *args):
    env = dict(os.environ, ANSIBLE_FORKS=str(forks), ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               ANSIBLE_DISPLAY_OK_HOSTS="0", ANSIBLE_DISPLAY_SKIPPED_HOSTS="0")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, os.path.join(BIN, "ansible-playbook"),
                             "-i", inventory_path, playbook] + list(args),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=6 * 3600, check=False)
    wall = time.perf_counter() - start
    line = [text for text in result.stderr.splitlines() if text.startswith("MEASURE ")][-1]
    returncode, maxrss_kib, cpu = json.loads(line[len("MEASURE "):])
    recap = [text for text in result.stdout.splitlines() if " : ok=" in text]
    bad = [text for text in recap if " failed=0 " not in text or " unreachable=0 " not in text]
    if returncode != 0 or bad:
        raise SystemExit("%s failed (rc %d): %s\n%s" % (playbook, returncode, bad[:3], result.stdout[-4000:]))
    changed = [text for text in recap if " changed=0 " not in text]
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": round(maxrss_kib / 1024.0, 1),
            "hosts_reporting": len(recap), "hosts_changed": len(changed)}


def measure(clusters, nodes, forks):
    hosts = clusters * nodes
    work = os.path.join(WORK, "%dx%d" % (clusters, nodes))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inventory_path = os.path.join(work, "inventory.json")
    with open(inventory_path, "w") as handle:
        json.dump(inventory(clusters, nodes, os.path.join(work, "root")), handle)
    floor_path = os.path.join(work, "floor.yml")
    with open(floor_path, "w") as handle:
        handle.write(FLOOR)
    plural = "" if forks == 1 else "s"
    print("%d hosts (%d clusters x %d), local connection, %d fork%s:" % (hosts, clusters, nodes, forks, plural), flush=True)
    floor = run(inventory_path, floor_path, forks)
    print("  floor (ping)            %8.1f s wall %8.1f s CPU %7.1f MiB" % (floor["wall_s"], floor["cpu_s"],
                                                                            floor["peak_rss_mib"]), flush=True)
    site = run(inventory_path, os.path.join(ROOT, "playbooks", "site.yml"), forks, "--check", "--diff")
    print("  site.yml --check --diff %8.1f s wall %8.1f s CPU %7.1f MiB" % (site["wall_s"], site["cpu_s"],
                                                                            site["peak_rss_mib"]), flush=True)
    ratio = round(site["wall_s"] / floor["wall_s"], 2)
    print("  ratio site / floor: %.2fx (goal: at most 5x)" % ratio, flush=True)
    return {"clusters": clusters, "nodes_per_cluster": nodes, "hosts": hosts, "forks": forks,
            "floor": floor, "site": site, "ratio": ratio}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=shape, action="append", help="CLUSTERSxNODES (repeatable; default 4x10)")
    parser.add_argument("--forks", type=int, default=1)
    options = parser.parse_args(argv)
    results = [measure(clusters, nodes, options.forks) for clusters, nodes in options.shape or [(4, 10)]]
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as handle:
        json.dump({"python": sys.version.split()[0], "load_average": list(os.getloadavg()), "results": results},
                  handle, indent=2)
    print("written: %s" % os.path.relpath(REPORT, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
