# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aerospike role end to end: real ansible-playbook runs (connection local) into a tmp dir.

Golden files live in tests/golden/aerospike/<case>/<host>.conf; regenerate them with
UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import pwd
import re
import sys

import pytest

from ansible_cli import run_ansible

from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import parse
from aerospike_schema import load_schema, schema_errors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "aerospike")
SCHEMAS = os.path.join(os.path.dirname(ROOT), "shared", "aerospike-schemas")

PLAY = """\
- name: Aerospike configuration
  hosts: all
  gather_facts: false
  roles:
    - clusterfabric.multilink.aerospike
"""

NAMESPACE_7 = {"name": "test", "replication-factor": 2, "storage-engine": {"type": "memory", "data-size": "4G"}}

# case -> (hosts {name: node id}, group vars); every case writes one file per host.
CASES = {
    "two-links-7.2": ({"db1": 1, "db2": 2, "db3": 3, "db5": 5}, {
        "aerospike_version": "7.2",
        "fabric_links": [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"}],
        "aerospike_service": {"proto-fd-max": 15000},
        "aerospike_namespaces": [NAMESPACE_7],
    }),
    # IPv6 fabric addresses need Enterprise: Community Edition binds IPv4 only.
    "four-links-ipv6-8.1": ({"db1": 1, "db2": 2, "db3": 3, "db4": 4}, {
        "aerospike_version": "8.1",
        "aerospike_edition": "enterprise",
        "fabric_strategy": "native",
        "fabric_links": [
            {"name": "fab0", "subnet": "198.18.10.0/24"},
            {"name": "fab1", "subnet": "198.18.11.0/24"},
            {"name": "fab6", "subnet": "2001:db8:20::/64"},
            {"name": "bond0", "subnet": "198.18.20.0/24", "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}},
        ],
        "aerospike_service_access_addresses": ["203.0.113.10"],
        "aerospike_heartbeat_connect_timeout_ms": 500,
        "aerospike_network": {"fabric": {"channel-rw-fds": 16, "send-threads": 8}},
        "aerospike_logging": {"file": [{"name": "/var/log/aerospike/aerospike.log",
                                        "context": ["any info", "fabric debug"]}]},
        "aerospike_namespaces": [
            NAMESPACE_7,
            {"name": "disk", "replication-factor": 2,
             "storage-engine": {"type": "device", "file": ["/opt/aerospike/disk0.dat", "/opt/aerospike/disk1.dat"],
                                "filesize": "16G"},
             "set": [{"name": "users", "enable-index": True}, {"name": "events", "default-ttl": "30d"}]},
        ],
        "aerospike_mod_lua": {"user-path": "/opt/aerospike/usr/udf/lua"},
    }),
    # Community Edition, what tests/integration/test_golden_server.py starts: three links with four
    # lanes (two addresses on fab1, a hashing bond), so balanced gives the bulk channel one socket per lane.
    "three-links-8.1": ({"db1": 1, "db2": 2, "db3": 3}, {
        "aerospike_version": "8.1",
        "fabric_links": [
            {"name": "fab0", "subnet": "198.18.12.0/24"},
            {"name": "fab1", "subnet": "198.18.13.0/24", "addresses_per_node": 2},
            {"name": "bond0", "subnet": "198.18.21.0/24", "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}},
        ],
        "aerospike_heartbeat_connect_timeout_ms": 500,
        "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                                  "storage-engine": {"type": "memory", "data-size": "1G"}}],
        "aerospike_mod_lua": {"user-path": "/opt/aerospike/usr/udf/lua"},
    }),
    # fabric_strategy mptcp: every address published, and a fabric keepalive-time long enough that an
    # idle subflow on a lost link outlives the loss (aerospike_network.MPTCP_KEEPALIVE_TIME).
    "mptcp-8.1": ({"db1": 1, "db2": 2}, {
        "aerospike_version": "8.1",
        "fabric_strategy": "mptcp",
        "fabric_links": [{"name": "fab0", "subnet": "198.18.14.0/24"}, {"name": "fab1", "subnet": "198.18.15.0/24"}],
        "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                                  "storage-engine": {"type": "memory", "data-size": "1G"}}],
    }),
    "single-6.4": ({"db1": 1, "db2": 2}, {
        "aerospike_version": "6.4",
        "fabric_strategy": "single",
        "fabric_links": [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"}],
        "aerospike_namespaces": [{"name": "test", "replication-factor": 2, "memory-size": "4G",
                                  "storage-engine": "memory"}],
    }),
    "ipv6-8.0": ({"db1": 1, "db2": 2}, {
        "aerospike_version": "8.0",
        "aerospike_edition": "enterprise",
        "fabric_ports": [3101],
        "fabric_links": [{"name": "v6a", "subnet": "2001:db8:30::/64"}, {"name": "v6b", "subnet": "2001:db8:31::/64"}],
        "aerospike_service": {"advertise-ipv6": True},
        "aerospike_namespaces": [NAMESPACE_7],
    }),
}


def ansible(tool, *args):
    return run_ansible(tool, *args)


def make_inventory(tmp_path, case, **overrides):
    hosts, group_vars = CASES[case]
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    variables = dict(group_vars, fabric_cluster_group="c1",
                     aerospike_config_path=str(out) + "/{{ inventory_hostname }}.conf",
                     ansible_connection="local", ansible_python_interpreter=sys.executable)
    variables.update(overrides)
    inventory = {"all": {"children": {"c1": {
        "hosts": {name: {"fabric_node_id": node} for name, node in hosts.items()},
        "vars": variables}}}}
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    (tmp_path / "site.yml").write_text(PLAY)
    return out


def run_play(tmp_path, *args):
    return ansible("ansible-playbook", "-i", str(tmp_path / "hosts.json"), str(tmp_path / "site.yml"), *args)


def changed_counts(output):
    return {host: int(count) for host, count in re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)", output, re.M)}


def files(out):
    return {name: (out / name).read_text() for name in sorted(os.listdir(str(out)))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files_then_nothing_changes(tmp_path, case):
    out = make_inventory(tmp_path, case)
    first = run_play(tmp_path)
    assert first.returncode == 0, first.stdout
    assert set(changed_counts(first.stdout).values()) == {1}, first.stdout
    written = files(out)
    golden_dir = os.path.join(GOLDEN, case)
    if os.environ.get("UPDATE_GOLDEN"):
        os.makedirs(golden_dir, exist_ok=True)
        for name, text in written.items():
            with open(os.path.join(golden_dir, name), "w") as handle:
                handle.write(text)
    expected = {name: open(os.path.join(golden_dir, name)).read() for name in sorted(os.listdir(golden_dir))}
    assert written == expected
    for name in written:
        info = os.stat(str(out / name))
        assert info.st_mode & 0o7777 == 0o644
        try:
            owner = pwd.getpwnam("aerospike").pw_uid
        except KeyError:
            owner = 0
        assert info.st_uid == owner
    second = run_play(tmp_path)
    assert second.returncode == 0, second.stdout
    assert set(changed_counts(second.stdout).values()) == {0}, second.stdout
    assert files(out) == written


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_files_match_the_aerospike_schema(case):
    if not os.path.isdir(SCHEMAS):
        reason = "Aerospike schemas not found at %s" % SCHEMAS
        print("SKIP: " + reason)
        pytest.skip(reason)
    version = CASES[case][1]["aerospike_version"]
    schema = load_schema(SCHEMAS, version)
    golden_dir = os.path.join(GOLDEN, case)
    names = sorted(os.listdir(golden_dir))
    assert len(names) == len(CASES[case][0])
    for name in names:
        with open(os.path.join(golden_dir, name)) as handle:
            assert schema_errors(parse(handle.read()), schema) == [], name


def test_check_mode_and_diff_show_the_change_without_writing(tmp_path):
    out = make_inventory(tmp_path, "two-links-7.2")
    assert run_play(tmp_path).returncode == 0
    before = files(out)
    result = run_play(tmp_path, "--check", "--diff", "-e", "aerospike_heartbeat_interval=200", "-l", "db1")
    assert result.returncode == 0, result.stdout
    assert changed_counts(result.stdout) == {"db1": 1}
    assert "-        interval 150\n+        interval 200" in result.stdout
    assert files(out) == before


def test_check_mode_on_a_fresh_host_writes_nothing(tmp_path):
    out = make_inventory(tmp_path, "single-6.4")
    result = run_play(tmp_path, "--check")
    assert result.returncode == 0, result.stdout
    assert set(changed_counts(result.stdout).values()) == {1}
    assert os.listdir(str(out)) == []


REFUSALS = [
    ({"aerospike_namespaces": [{"name": "test", "replication-factor": "2 # two"}]},
     "aerospike_namespaces (namespace[test].replication-factor)", "'#'"),
    ({"aerospike_service": {"cluster-name": "a{b"}}, "aerospike_service (service.cluster-name)", "'{'"),
    ({"aerospike_logging": {"console": {"context": "any\ninfo"}}}, "aerospike_logging (logging.console.context)",
     "newline"),
    ({"aerospike_namespaces": [{"name": "test", "storage-engine": {"type": "device", "file": "/" + "d" * 1100}}]},
     "aerospike_namespaces (namespace[test].storage-engine[device].file[0])", "1023 bytes"),
    ({"aerospike_heartbeat_connect_timeout_ms": 600}, "aerospike_heartbeat_connect_timeout_ms", "interval"),
    ({"aerospike_network": {"heartbeat": {"connect-timeout-ms": 600}}},
     "network.heartbeat.connect-timeout-ms", "interval * timeout / 3"),
    ({"aerospike_service_port": 80}, "aerospike_service_port", "1024 to 65535"),
    ({"aerospike_network": {"fabric": {"port": 70000}}}, "network.fabric.port", "1024 to 65535"),
    ({"aerospike_heartbeat_max_seeds": 9}, "aerospike_heartbeat_max_seeds", "Community Edition"),
    ({"aerospike_network": {"heartbeat": {"tls-mesh-seed-address-port": ["198.18.10.99 3012"] * 3}}},
     "network.heartbeat.mesh-seed-address-port", "more than the limit of 8"),
    ({"aerospike_version": "8.1", "aerospike_network": {"info": {"port": 3003}}}, "aerospike_network.info", "obsolete"),
    ({"aerospike_namespaces": []}, "aerospike_namespaces", "at least one namespace"),
]


@pytest.mark.parametrize("overrides, variable, message", REFUSALS, ids=[r[1] + "-" + r[2] for r in REFUSALS])
def test_refuses_before_writing_naming_host_and_variable(tmp_path, overrides, variable, message):
    out = make_inventory(tmp_path, "two-links-7.2", **overrides)
    # an existing file must survive a refusal untouched
    (out / "db1.conf").write_text("# keep me\n")
    result = run_play(tmp_path, "-l", "db1")
    assert result.returncode != 0, result.stdout
    assert "host db1" in result.stdout and variable in result.stdout and message in result.stdout, result.stdout
    assert files(out) == {"db1.conf": "# keep me\n"}


EXISTING = (
    "# Owned by another tool; only the network block is ours.\n"
    "service {\n"
    "\tproto-fd-max 15000   # tuned by hand\n"
    "\tcluster-name c1\n"
    "}\n"
    "\n"
    "logging {\n\tconsole {\n\t\tcontext any info\n\t}\n}\n"
    "\n"
    "network {\n"
    "\tservice {\n\t\taddress any\n\t\tport 3000\n\t}\n"
    "\theartbeat {\n\t\tmode multicast\n\t\tmulticast-group 239.1.99.222\n\t\tport 9918\n\t}\n"
    "\tfabric {\n\t\tport 3001\n\t}\n"
    "}\n"
    "\n"
    "namespace bar {   # keep\n\treplication-factor 2\n\tstorage-engine memory {\n\t\tdata-size 4G\n\t}\n}\n"
)


def test_manage_network_replaces_only_the_network_block(tmp_path):
    out = make_inventory(tmp_path, "two-links-7.2", aerospike_manage="network", aerospike_namespaces=[])
    for host in ("db1", "db2", "db3", "db5"):
        (out / (host + ".conf")).write_text(EXISTING)
    result = run_play(tmp_path, "--diff")
    assert result.returncode == 0, result.stdout
    assert set(changed_counts(result.stdout).values()) == {1}
    text = (out / "db2.conf").read_text()
    head = EXISTING[:EXISTING.index("network {")]
    tail = EXISTING[EXISTING.index("namespace bar"):]
    assert text.startswith(head) and text.endswith("\n" + tail)
    golden_path = os.path.join(GOLDEN, "two-links-7.2", "db2.conf")
    with open(golden_path) as handle:
        golden = handle.read()
    network = golden[golden.index("network {"):golden.index("namespace test")]
    assert text == head + network + tail
    again = run_play(tmp_path)
    assert set(changed_counts(again.stdout).values()) == {0}, again.stdout


def test_manage_network_refuses_a_missing_file(tmp_path):
    make_inventory(tmp_path, "two-links-7.2", aerospike_manage="network")
    result = run_play(tmp_path, "-l", "db1")
    assert result.returncode != 0
    assert "host db1" in result.stdout and "does not exist" in result.stdout, result.stdout


def test_module_refuses_an_unknown_top_level_context(tmp_path):
    (tmp_path / "play.yml").write_text(
        "- name: Direct module call\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Write\n      clusterfabric.multilink.aerospike_config:\n"
        "        path: %s/a.conf\n        host: '{{ inventory_hostname }}'\n"
        "        sources: {cluster: aerospike_extra}\n"
        "        config: {service: {cluster-name: x}, cluster: {size: 3}}\n" % tmp_path)
    result = ansible("ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
                     str(tmp_path / "play.yml"))
    assert result.returncode != 0
    assert "host localhost" in result.stdout and "aerospike_extra (cluster): unknown top-level context" in result.stdout
    assert not (tmp_path / "a.conf").exists()


def test_restart_handlers_skip_a_host_without_the_server_unit(tmp_path):
    out = make_inventory(tmp_path, "single-6.4", aerospike_restart=True)
    result = run_play(tmp_path, "-l", "db1")
    assert result.returncode == 0, result.stdout
    assert os.path.exists("/lib/systemd/system/aerospike.service") is False, "this test wants a host without the unit"
    for handler in ("Restart aerospike", "Wait for aerospike"):
        text = result.stdout[result.stdout.index("RUNNING HANDLER [clusterfabric.multilink.aerospike : %s]" % handler):]
        assert text.split("\n")[1].startswith("skipping: [db1]"), text
    assert (out / "db1.conf").exists()


def sections(output):
    """{task name: [result lines]} of a run, in order."""
    out = {}
    name = None
    for line in output.splitlines():
        found = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if found:
            name = found.group(1)
            out[name] = []
        elif name and re.match(r"^(ok|changed|skipping|fatal): ", line):
            out[name].append(line.split(":", 1)[0] + ": " + line.split("[", 1)[1].split("]", 1)[0])
    return out


CONTRACT_TASK = "clusterfabric.multilink.aerospike : Check the inventory contract (when playbooks/site.yml has not)"
WRITE_TASK = "clusterfabric.multilink.aerospike : Write aerospike.conf"
RESTART_HANDLER = "clusterfabric.multilink.aerospike : Restart aerospike"
WAIT_HANDLER = "clusterfabric.multilink.aerospike : Wait for aerospike"


def test_on_its_own_the_role_checks_the_contract_once_then_runs_one_module_per_host(tmp_path):
    make_inventory(tmp_path, "two-links-7.2")
    result = run_play(tmp_path, "--check")
    assert result.returncode == 0, result.stdout
    tasks = sections(result.stdout)
    # Ansible's own argument-spec task (meta/argument_specs.yml) runs on the controller first.
    assert list(tasks)[0].startswith("clusterfabric.multilink.aerospike : Validating arguments against arg spec 'main'")
    assert list(tasks)[1:] == [CONTRACT_TASK, WRITE_TASK, RESTART_HANDLER, WAIT_HANDLER], result.stdout
    assert tasks[CONTRACT_TASK] == ["ok: db1"]
    assert sorted(tasks[WRITE_TASK]) == ["changed: db1", "changed: db2", "changed: db3", "changed: db5"]
    skipped = ["skipping: db1", "skipping: db2", "skipping: db3", "skipping: db5"]
    assert sorted(tasks[RESTART_HANDLER]) == sorted(tasks[WAIT_HANDLER]) == skipped


def test_after_the_contract_the_role_does_not_check_again(tmp_path):
    out = make_inventory(tmp_path, "ipv6-8.0")
    (tmp_path / "site.yml").write_text(
        "- name: Contract first, as playbooks/site.yml does\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Check the inventory contract\n      clusterfabric.multilink.fabric_contract:\n        roles: [aerospike]\n"
        "      run_once: true\n      register: fabric_fleet\n\n" + PLAY)
    result = run_play(tmp_path)
    assert result.returncode == 0, result.stdout
    tasks = sections(result.stdout)
    assert tasks[CONTRACT_TASK] == ["skipping: db1"], result.stdout  # run_once: decided once
    assert sorted(tasks[WRITE_TASK]) == ["changed: db1", "changed: db2"]
    assert files(out) == dict((name, open(os.path.join(GOLDEN, "ipv6-8.0", name)).read()) for name in ("db1.conf", "db2.conf"))


@pytest.mark.parametrize("kind, name", [("module", "aerospike_config"), ("module", "aerospike_info"), ("filter", "aerospike_network")])
def test_ansible_doc(kind, name):
    result = ansible("ansible-doc", "-t", kind, "clusterfabric.multilink." + name)
    assert result.returncode == 0, result.stdout
    assert "EXAMPLES" in result.stdout and "ERROR" not in result.stdout


def test_role_argument_spec_is_shown():
    result = ansible("ansible-doc", "-t", "role", "clusterfabric.multilink.aerospike")
    assert result.returncode == 0, result.stdout
    assert "aerospike_heartbeat_max_seeds" in result.stdout
