# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What planning costs a play at fleet size: per host per task, or once per run.

Generates a 200-host inventory of ``ansible_connection: local`` hosts (4 clusters of 50, see
SHAPES) and runs ``ansible-playbook --check`` on it, side by side:

  baseline   3 tasks per host with a trivial expression: Ansible's own cost per task
  per_host   3 tasks per host each evaluating the plan expression of the roles (links, nat,
             aerospike each planned the host's whole cluster): hosts x 3 planner calls
  filter_load  3 tasks per host calling the planner on a one-node cluster: the part of
             per_host that is not planning (each forked worker loads the filter plugin and
             netaddr anew)
  plan_once  one run_once set_fact planning every cluster (one planner call per cluster),
             then the same 3 tasks reading ``fabric_plan``
  fleet      the same with the fabric_fleet filter site.yml uses (checks the whole inventory,
             then plans each cluster once)
  site       playbooks/site.yml --check --tags validate: its first play (inventory checks,
             plan once, the roles' validate.yml with fabric_plan); the roles' tasks are tagged
             links/nat/aerospike, so nothing touches this machine
  roles      (--roles, slow) the same roles' validate.yml without fabric_plan: each role plans
             per host again, the pattern before site.yml

Task times come from the ansible.posix.json callback (first host start to last host result);
CPU times are those of ansible-playbook and its workers. Plan time: per_host, its 3 tasks minus
the baseline's 3 tasks; plan_once and fleet, their one planning task (their 3 reading tasks cost
what the baseline's do: reported as a check). Absolute times depend on the load of the machine;
compare the ratios, measured in the same run.
Reports numbers only; writes build/reports/fleet_plan.json. Run with `make bench-fleet`.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from collection_path import ensure_importable  # noqa: E402  pylint: disable=wrong-import-position

COLLECTIONS = ensure_importable()
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import (  # noqa: E402
    plan_addresses)  # pylint: disable=wrong-import-position

WORK = os.path.join(ROOT, "build", "bench", "fleet_plan")
REPORT = os.path.join(ROOT, "build", "reports", "fleet_plan.json")
BIN = os.path.dirname(sys.executable)
# 4 x 50 by default: per-host planning costs hosts x cluster size per task, so 50-node
# clusters show the quadratic term that 10-node clusters hide; 4 clusters still exercise
# several clusters in one inventory. 20 x 10 is the many-small-clusters fleet.
SHAPES = {"4x50": (4, 50), "20x10": (20, 10)}
PLAN = ("dict(groups[fabric_cluster_group] | zip(groups[fabric_cluster_group] | map('extract', hostvars, "
        "'fabric_node_id'))) | clusterfabric.multilink.fabric_addresses(fabric_links)")
ROLES = ("links", "nat", "aerospike")
# The planner on a one-node cluster: what remains of per_host when planning costs nothing.
LOAD_ONLY = "{'h': 1} | clusterfabric.multilink.fabric_addresses([{'name': 'fab0', 'subnet': '198.18.0.0/24'}])"
PLAN_ONCE = ("{% set ns = namespace(out={}) %}{% for c in groups['all'] | map('extract', hostvars) "
             "| selectattr('fabric_cluster_group', 'defined') | map(attribute='fabric_cluster_group') | unique %}"
             "{% set ns.out = ns.out | combine({c: dict(groups[c] | zip(groups[c] | map('extract', hostvars, "
             "'fabric_node_id'))) | clusterfabric.multilink.fabric_addresses(hostvars[groups[c][0]].fabric_links)}) %}"
             "{% endfor %}{{ ns.out }}")


def inventory(clusters, size):
    """All hosts local; group vars satisfy every role's validate.yml without touching the host."""
    children = {}
    for index in range(clusters):
        name = "c%02d" % (index + 1)
        links = [{"name": "fab0", "subnet": "198.18.%d.0/24" % (2 * index), "device": "eth1"},
                 {"name": "fab1", "subnet": "198.18.%d.0/24" % (2 * index + 1), "device": "eth2"}]
        hosts = dict(("%s-n%03d" % (name, node), {"fabric_node_id": node}) for node in range(1, size + 1))
        children[name] = {"hosts": hosts, "vars": {
            "fabric_cluster_group": name, "fabric_links": links, "fabric_ports": [3001],
            "fabric_strategy": "balanced", "fabric_links_backend": "networkd",
            "fabric_nat_install_packages": False, "aerospike_version": "8.1",
            "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                                      "storage-engine": "memory"}]}}
    return {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                    "children": children}}


def play(name, tasks, variables=None):
    text = "- name: %s\n  hosts: all\n  gather_facts: false\n" % name
    if variables:
        text += "  vars:\n" + "".join("    %s: %s\n" % (key, json.dumps(value)) for key, value in variables.items())
    return text + "  tasks:\n" + "".join(tasks)


def set_fact(name, expression, run_once=False):
    return ("    - name: %s\n      ansible.builtin.set_fact:\n        bench_%s: %s\n%s"
            % (name, name.split()[0], json.dumps(expression if expression.startswith("{%") else "{{ %s }}" % expression),
               "      run_once: true\n" if run_once else ""))


def playbooks():
    reading = [set_fact("%s reads the plan" % role, "fabric_plan[inventory_hostname] | length") for role in ROLES]
    include = "".join(
        "    - name: %s validate.yml\n      ansible.builtin.include_role:\n        name: clusterfabric.multilink.%s\n"
        "        tasks_from: validate.yml\n" % (role, role) for role in ROLES)
    return {
        "baseline": play("baseline", [set_fact("%s trivial" % role, "groups[fabric_cluster_group] | length")
                                      for role in ROLES]),
        "per_host": play("per_host", [set_fact("%s plans" % role, "(%s)[inventory_hostname] | length" % PLAN)
                                      for role in ROLES]),
        "filter_load": play("filter_load", [set_fact("%s loads the filter" % role, LOAD_ONLY) for role in ROLES]),
        "plan_once": play("plan_once", [set_fact("fleet plan once", PLAN_ONCE, run_once=True)] + reading,
                          {"fabric_plan": "{{ bench_fleet[fabric_cluster_group] }}"}),
        "fleet": play("fleet", [set_fact("fleet fabric_fleet", "groups | clusterfabric.multilink.fabric_fleet(hostvars)",
                                         run_once=True)] + reading,
                      {"fabric_plan": "{{ bench_fleet[fabric_cluster_group].plan }}"}),
        "roles": play("roles", [include]),
    }


def _stamp(text):
    return datetime.datetime.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def run(inventory_path, playbook, *args):
    """ansible-playbook --check with the JSON callback: {wall, cpu, plays: [{name, seconds, tasks}]}.

    cpu is the CPU time of ansible-playbook and its workers, less disturbed by other load on
    the machine than wall-clock times."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_JSON_INDENT="0")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--check", "-i", inventory_path, playbook]
                            + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=1800, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise SystemExit("%s: output is not JSON (rc %d):\n%s\n%s"
                         % (playbook, result.returncode, result.stdout[-3000:], result.stderr[-3000:]))
    failed = dict((host, stats) for host, stats in document["stats"].items()
                  if stats.get("failures") or stats.get("unreachable"))
    if result.returncode != 0 or failed:
        first = next((dict(task=task["task"]["name"], host=host, msg=outcome.get("msg"))
                      for entry in document["plays"] for task in entry["tasks"]
                      for host, outcome in task["hosts"].items() if outcome.get("failed")), None)
        raise SystemExit("%s failed (rc %d): %s" % (playbook, result.returncode, first))
    plays = []
    for entry in document["plays"]:
        tasks = []
        for task in entry["tasks"]:
            span = task["task"]["duration"]
            if span.get("end"):
                tasks.append({"name": task["task"]["name"], "hosts": len(task["hosts"]),
                              "seconds": round(_stamp(span["end"]) - _stamp(span["start"]), 3)})
        span = entry["play"]["duration"]
        plays.append({"name": entry["play"]["name"], "tasks": tasks,
                      "seconds": round(_stamp(span["end"]) - _stamp(span["start"]), 3)})
    return {"wall": round(wall, 2), "cpu": round(cpu, 2), "plays": plays}


def tasks_time(outcome, prefix=None):
    return sum(task["seconds"] for entry in outcome["plays"] for task in entry["tasks"]
               if prefix is None or task["name"].startswith(prefix))


def planner_call_seconds(size, repeats=20):
    """One planner call on one cluster of `size` nodes, outside Ansible: the reference unit."""
    links = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
    nodes = dict(("n%03d" % i, i) for i in range(1, size + 1))
    best = None
    for dummy in range(repeats):
        start = time.perf_counter()
        plan_addresses(nodes, links)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def measure(shape, with_site, with_roles):
    clusters, size = SHAPES[shape]
    hosts = clusters * size
    os.makedirs(WORK, exist_ok=True)
    inventory_path = os.path.join(WORK, "inventory-%s.json" % shape)
    with open(inventory_path, "w") as handle:
        json.dump(inventory(clusters, size), handle, indent=1)
    outcomes = {}
    for name, text in playbooks().items():
        if name == "roles" and not with_roles:
            continue
        path = os.path.join(WORK, "%s.yml" % name)
        with open(path, "w") as handle:
            handle.write("---\n" + text)
        outcomes[name] = run(inventory_path, path)
        print("  %-10s %7.2f s play, %7.2f s wall" % (name, outcomes[name]["plays"][0]["seconds"],
                                                      outcomes[name]["wall"]), flush=True)
    site = os.path.join(ROOT, "playbooks", "site.yml")
    if with_site and os.path.exists(site):
        outcomes["site"] = run(inventory_path, site, "--tags", "validate")
        print("  %-10s %7.2f s first play, %7.2f s wall"
              % ("site", outcomes["site"]["plays"][0]["seconds"], outcomes["site"]["wall"]), flush=True)
    base = tasks_time(outcomes["baseline"])
    base_cpu = outcomes["baseline"]["cpu"]
    call = planner_call_seconds(size)
    variants = {"per_host": {"planner_calls": hosts * len(ROLES),
                             "plan_seconds": tasks_time(outcomes["per_host"]) - base,
                             "plan_cpu_seconds": outcomes["per_host"]["cpu"] - base_cpu}}
    variants["filter_load"] = {"planner_calls": hosts * len(ROLES),
                               "plan_seconds": tasks_time(outcomes["filter_load"]) - base,
                               "plan_cpu_seconds": outcomes["filter_load"]["cpu"] - base_cpu}
    for name in ("plan_once", "fleet"):
        planning = tasks_time(outcomes[name], "fleet")
        variants[name] = {"planner_calls": clusters, "plan_seconds": planning,
                          "reading_minus_baseline_seconds": tasks_time(outcomes[name]) - planning - base,
                          "plan_cpu_seconds": outcomes[name]["cpu"] - base_cpu}
    for variant in variants.values():
        for key, value in variant.items():
            if isinstance(value, float):
                variant[key] = round(value, 3)
    result = {"shape": shape, "clusters": clusters, "nodes_per_cluster": size, "hosts": hosts,
              "baseline_seconds": round(base, 3), "baseline_cpu_seconds": base_cpu,
              "planner_call_seconds": round(call, 6), "variants": variants, "runs": outcomes}
    for name in ("plan_once", "fleet"):
        result["ratio_per_host_to_%s" % name] = round(
            variants["per_host"]["plan_seconds"] / max(variants[name]["plan_seconds"], 0.001), 1)
    if "site" in outcomes:
        first = outcomes["site"]["plays"][0]
        result["site"] = {
            "validate_play_seconds": first["seconds"], "cpu_seconds": outcomes["site"]["cpu"],
            "plan_task_seconds": sum(task["seconds"] for task in first["tasks"]
                                     if "plan every cluster once" in task["name"]),
            "planner_calls": clusters,
            "slowest_tasks": sorted(first["tasks"], key=lambda task: -task["seconds"])[:5],
        }
    if "roles" in outcomes:
        result["roles"] = {"validate_play_seconds": outcomes["roles"]["plays"][0]["seconds"],
                           "cpu_seconds": outcomes["roles"]["cpu"], "planner_calls": hosts * len(ROLES)}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES),
                        help="clusters x nodes (repeatable; default 4x50)")
    parser.add_argument("--no-site", action="store_true", help="skip playbooks/site.yml")
    parser.add_argument("--roles", action="store_true",
                        help="also run the roles' validate.yml without fabric_plan (slow: several minutes)")
    options = parser.parse_args()
    results = []
    for shape in options.shape or ["4x50"]:
        print("shape %s (%d clusters x %d hosts), ansible-playbook --check, local connection:" % (
            shape, SHAPES[shape][0], SHAPES[shape][1]), flush=True)
        results.append(measure(shape, not options.no_site, options.roles))
    for result in results:
        print("\n%s: %d hosts; baseline (3 trivial tasks) %.2f s, %.1f s CPU; one planner call on a %d-node "
              "cluster outside Ansible: %.2f ms"
              % (result["shape"], result["hosts"], result["baseline_seconds"], result["baseline_cpu_seconds"],
                 result["nodes_per_cluster"], result["planner_call_seconds"] * 1000))
        print("%-10s %14s %14s %14s" % ("variant", "planner calls", "plan time (s)", "plan CPU (s)"))
        for name, variant in result["variants"].items():
            print("%-10s %14d %14.2f %14.1f" % (name, variant["planner_calls"], variant["plan_seconds"],
                                                variant["plan_cpu_seconds"]))
        print("plan time per_host / plan_once: %.0fx, per_host / fleet: %.0fx"
              % (result["ratio_per_host_to_plan_once"], result["ratio_per_host_to_fleet"]))
        if "site" in result:
            site = result["site"]
            print("site.yml --check --tags validate: first play %.2f s, %.1f s CPU; its plan task %.2f s (%d planner "
                  "calls)" % (site["validate_play_seconds"], site["cpu_seconds"], site["plan_task_seconds"],
                              site["planner_calls"]))
            slowest = ["%s %.1f s" % (task["name"], task["seconds"]) for task in site["slowest_tasks"]]
            print("  slowest tasks: %s" % "; ".join(slowest))
        if "roles" in result:
            print("the roles' validate.yml planning per host (%d planner calls): %.2f s, %.1f s CPU"
                  % (result["roles"]["planner_calls"], result["roles"]["validate_play_seconds"],
                     result["roles"]["cpu_seconds"]))
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as handle:
        json.dump({"python": sys.version.split()[0], "results": results}, handle, indent=2)
    print("written: %s" % os.path.relpath(REPORT, ROOT))


if __name__ == "__main__":
    main()
