# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every golden 8.x aerospike.conf is started by the real server, as it is.

The golden files (tests/golden/aerospike/<case>/<host>.conf) are what the aerospike role writes
for the cases of tests/functional/test_aerospike_role.py (its CASES: hosts with node ids and
group vars). Every case whose ``aerospike_version`` is 8.x is found here from that dict, so a
new 8.x golden is covered without a change to this file.

Per case, a test bed cluster whose containers hold the addresses the collection's planner
gives for the case's ``fabric_links`` (the addresses the golden files use: lane 0 from podman,
the other lanes and IPv6 links set up by testbed), one ``--internal`` podman network per link
(devices eth0..ethN), no management network: the info protocol runs inside each node on
127.0.0.1. Each host's golden file, byte for byte, becomes /etc/aerospike/aerospike.conf and
aerospike.service starts it. Accepted means: the unit is active, no CRITICAL line in its
journal or in the log files the conf names, the info protocol answers; a multi-node case must
also form one cluster (cluster_size = hosts, cluster_integrity true on every node). A negative
control starts one golden with an unknown setting added through the same checks: the server must
refuse it, so these checks can fail.

The node image's server is Aerospike Community Edition 8.1.2.0, the only build at hand: it
judges every community 8.x golden (an 8.0 one too; 8.1 ignores 8.0's ``info {}`` with a
warning); an Enterprise golden is skipped with that reason. Cases whose links overlap run one
after the other; the others start side by side. Storage files are created by the server; when
their full size would not fit on the machine's disk, one node per case starts first and must
show them sparse before the others start.
Containers and networks: cfm-gold-*, on the golden files' own subnets (internal networks only).
Skips, with the reason, when the node image has no Aerospike server; fails without root/podman.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import hashlib
import ipaddress
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import parse

from testbed import aerospike as tb_aerospike
from testbed import inventory as tb_inventory
from testbed import podman as tb_podman
from testbed.cluster import Cluster

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "aerospike")
ROLE_TEST = os.path.join(ROOT, "tests", "functional", "test_aerospike_role.py")
CONF = "/etc/aerospike/aerospike.conf"
START_TIMEOUT = 60
REFUSE_TIMEOUT = 20
# Inserted into the service context for the negative control: not a setting of any version.
UNKNOWN_SETTING = "cfm-no-such-setting true"


# ---------------------------------------------------------------------------- the cases

def _literal(node, names):
    """A literal expression of the role test (dicts, lists, constants, earlier UPPER_CASE names)."""
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Dict):
        return dict((_literal(k, names), _literal(v, names)) for k, v in zip(node.keys, node.values))
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, names) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    return ast.literal_eval(node)


def role_cases(path=ROLE_TEST):
    """CASES of the role's functional test, read as data (its module imports test helpers that
    are only on the path while tests/functional runs): {case: (hosts {name: id}, group vars)}."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    names = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()):
            try:
                names[node.targets[0].id] = _literal(node.value, names)
            except ValueError:
                continue  # not a literal (paths, templates): CASES does not use it
    return names["CASES"]


def server_cases():
    """The 8.x cases (the major version the node image's server belongs to)."""
    return dict((case, spec) for case, spec in sorted(role_cases().items())
                if str(spec[1].get("aerospike_version", "")).split(".", 1)[0] == "8")


def edition(case):
    return CASES[case][1].get("aerospike_edition", "community")


def subnets(spec):
    return [ipaddress.ip_network(link["subnet"], strict=False) for link in spec[1]["fabric_links"]]


def waves(cases):
    """Groups of cases without overlapping links (podman refuses a second network on a subnet)."""
    out = []
    for case in sorted(cases):
        mine = subnets(cases[case])
        for wave in out:
            if not any(a.version == b.version and a.overlaps(b)
                       for other in wave for a in mine for b in subnets(cases[other])):
                wave.append(case)
                break
        else:
            out.append([case])
    return out


CASES = server_cases()
# The node image's server is Community Edition: it can judge community goldens only.
WAVES = waves(dict((case, spec) for case, spec in CASES.items() if edition(case) == "community"))
ORDER = [case for wave in WAVES for case in wave] + sorted(case for case in CASES if edition(case) != "community")
SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
DISK_MARGIN = 8 << 30
MAX_ALLOCATED = 256 << 20


def prefix(case):
    """cfm-gold-<case> within the test bed's 20 characters after cfm-."""
    slug = re.sub(r"[^a-z0-9]+", "", case.lower())
    if len(slug) > 15:
        slug = slug[:10] + hashlib.sha1(case.encode("utf-8")).hexdigest()[:5]
    return "cfm-gold-" + slug


def golden(case):
    """{host: golden text}; one file per host of the case."""
    hosts = CASES[case][0]
    directory = os.path.join(GOLDEN, case)
    found = sorted(os.listdir(directory))
    assert found == sorted(h + ".conf" for h in hosts), "%s: golden files %s, hosts %s" % (case, found, sorted(hosts))
    out = {}
    for host in hosts:
        with open(os.path.join(directory, host + ".conf")) as handle:
            out[host] = handle.read()
    return out


def bind_addresses(text):
    """The IP addresses the conf binds (address lines of service, heartbeat, fabric, admin, info)."""
    network = parse(text).get("network", {})
    out = set()
    for name in ("service", "heartbeat", "fabric", "admin", "info"):
        for value in network.get(name, {}).get("address", []):
            try:
                out.add(str(ipaddress.ip_address(value)))
            except ValueError:
                pass  # any, an interface name: nothing a container must hold
    return out


def log_files(text):
    return [entry["name"] for entry in parse(text).get("logging", {}).get("file", [])]


def device_files(text):
    """[(path, filesize in bytes)] of the conf's storage files."""
    out = []
    for namespace in parse(text).get("namespace", []):
        engine = namespace.get("storage-engine", {})
        if isinstance(engine, dict) and engine.get("type") == "device":
            match = re.match(r"^([0-9]+)([KMGT]?)$", str(engine.get("filesize", "0")).upper())
            size = int(match.group(1)) * SIZE_UNITS[match.group(2)] if match else 0
            out += [(path, size) for path in engine.get("file", [])]
    return out


def _each(function, items):
    """function(item) for every item at once; [result] in order."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(function, items))


# ---------------------------------------------------------------------------- one served case

class Served(object):
    """One case's cluster with its golden files in place; ``start`` runs the servers."""

    def __init__(self, case, directory, image):
        hosts, group_vars = CASES[case]
        self.case = case
        self.confs = golden(case)
        self.prefix = prefix(case)
        links = [dict(link, device="eth%d" % index) for index, link in enumerate(group_vars["fabric_links"])]
        variables = dict((k, v) for k, v in group_vars.items() if k.startswith("fabric_"))
        variables.update(fabric_links=links, testbed_prefix=self.prefix,
                         ansible_connection="containers.podman.podman", ansible_python_interpreter="/usr/bin/python3")
        path = tb_inventory.write(os.path.join(directory, "%s.json" % self.prefix), "gold",
                                  dict((h, {"fabric_node_id": n, "ansible_host": "%s-%s" % (self.prefix, h)})
                                       for h, n in hosts.items()), variables)
        self.cluster = Cluster(tb_inventory.topology(path))
        self.server = tb_aerospike.Server(self.cluster)
        self.image = image
        self.cursors = {}
        self.timings = {}
        self.answered = {}

    @property
    def hosts(self):
        return self.cluster.hosts

    def up(self):
        began = time.monotonic()
        self.cluster.up(self.image)
        self.timings["bed_up_s"] = round(time.monotonic() - began, 1)

    def down(self):
        self.cluster.down()

    def put(self, host, text):
        """``text`` as the node's aerospike.conf; the log files it names start empty."""
        command = "cat > %s && chmod 644 %s" % (CONF, CONF)
        for name in log_files(text):
            command += " && { [ ! -e %s ] || : > %s; }" % (name, name)
        self.cluster.run(host, command, stdin=text)

    def holds(self, host):
        """({addresses on the node's interfaces}, whether its aerospike.conf is the golden file)."""
        out = self.cluster.run(host, "ip -o addr show | awk '{print $4}' | cut -d/ -f1; cmp -s %s - && echo same-conf" % CONF,
                               stdin=self.confs[host], check=False).stdout.split()
        return set(out) - {"same-conf"}, "same-conf" in out

    def start(self, hosts=None):
        """Start aerospike.service on ``hosts`` at once; remembers where each start's journal begins."""
        hosts = self.hosts if hosts is None else hosts

        def one(host):
            # the journal's position before the start: what follows is this start's
            text = self.cluster.run(host, "journalctl -q -n 1 --show-cursor -o cat; systemctl start aerospike",
                                    check=False).stdout
            return ([line[len("-- cursor: "):] for line in text.splitlines() if line.startswith("-- cursor: ")] or [""])[-1]

        began = time.monotonic()
        self.cursors.update(zip(hosts, _each(one, hosts)))
        return began

    def state(self, host):
        return self.cluster.run(host, "systemctl is-active aerospike", check=False).stdout.strip()

    def log_text(self, host, text):
        """This start's journal lines of the unit and the log files ``text`` names."""
        # by unit, not by invocation id: journald cannot tell the invocation of a process that
        # already exited, such as a server that stopped at once
        cursor = self.cursors.get(host)
        journal = self.cluster.run(host, "journalctl --sync; journalctl -o cat --no-pager -u aerospike%s"
                                   % (" --after-cursor '%s'" % cursor if cursor else ""), check=False).stdout
        files = [self.cluster.run(host, "cat %s" % f, check=False).stdout for f in log_files(text)]
        return "\n".join([journal] + files)

    def answer(self, host, timeout=START_TIMEOUT):
        """(statistics, None) once the node answers the info protocol, or (None, why) when its
        unit stops or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        why = "no answer"
        while time.monotonic() < deadline:
            try:
                stats = self.server.statistics(host, timeout=2.0)
                self.answered.setdefault(host, time.monotonic())
                return stats, None
            except aerospike_info.InfoError as exc:
                why = str(exc)
            state = self.state(host)
            if state not in ("active", "activating"):
                return None, "aerospike.service is %s" % state
            time.sleep(0.25)
        return None, "no info answer within %d s: %s" % (timeout, why)

    def verdict(self, host, text, timeout=START_TIMEOUT):
        """What says the server did not accept ``text`` on ``host``: [problem]; [] = accepted."""
        stats, why = self.answer(host, timeout)
        problems = []
        if stats is None:
            problems.append("info protocol: %s" % why)
        state = self.state(host)
        if state != "active":
            problems.append("aerospike.service is %s" % state)
        for dummy in range(10):
            critical = ["log: %s" % line.strip() for line in self.log_text(host, text).splitlines() if " CRITICAL " in line]
            if critical or not problems:
                break
            time.sleep(0.3)  # a server that just stopped: its last lines may not be in the journal yet
        return problems + critical

    def warnings(self, host):
        """This start's WARNING lines by where the server wrote them: {'(file.c:line)': (count, first message)}."""
        out = {}
        for line in self.log_text(host, self.confs[host]).splitlines():
            match = re.search(r" WARNING \(\w+\): (\([\w.]+:\d+\)) (?:\(repeated:\d+\) )?(.*)$", line)
            if match:
                count, first = out.get(match.group(1), (0, match.group(2)))
                out[match.group(1)] = (count + 1, first)
        return out

    def disk(self, host):
        """{file: (apparent bytes, allocated bytes)} of the conf's device files in the node."""
        files = [path for path, dummy in device_files(self.confs[host])]
        if not files:
            return {}
        text = self.cluster.run(host, "stat -c '%%n %%s %%b %%B' %s" % " ".join(files), check=False).stdout
        out = {}
        for line in text.splitlines():
            name, size, blocks, block = line.split()
            out[name] = (int(size), int(blocks) * int(block))
        return out

    def disk_safe(self, host, timeout=START_TIMEOUT):
        """Once ``host``'s server answers (or stops): its storage files must be sparse."""
        self.answer(host, timeout)
        for name, (size, allocated) in self.disk(host).items():
            assert allocated <= MAX_ALLOCATED, "%s %s: %s allocates %d of its %d bytes: the other nodes were not started" % (
                self.case, host, name, allocated, size)

    def rss_mb(self, host):
        text = self.cluster.run(host, "ps -C asd -o rss=", check=False).stdout.split()
        return round(sum(int(v) for v in text) / 1024.0, 1)


class Bed(object):
    """The cases of one wave up at once; a case of another wave replaces the wave."""

    def __init__(self, image, directory):
        self.image = image
        self.directory = directory
        self.wave = []
        self.served = {}

    def get(self, case):
        if case not in self.served:
            self.down()
            self.wave = [wave for wave in WAVES if case in wave][0]
            began = time.monotonic()
            self.served = dict(zip(self.wave, _each(lambda c: Served(c, self.directory, self.image), self.wave)))
            _each(lambda s: s.up(), self.served.values())
            items = [(s, h) for s in self.served.values() for h in s.hosts]
            _each(lambda item: item[0].put(item[1], item[0].confs[item[1]]), items)
            ready = time.monotonic()
            for served in self.served.values():
                served.timings.update(wave_bed_up_s=round(ready - began, 1), started_at=ready)
            first = self.canaries()
            _each(lambda item: item[0].start([item[1]]), first)
            _each(lambda item: item[0].disk_safe(item[1]), first)
            _each(lambda s: s.start([h for h in s.hosts if (s, h) not in first]), self.served.values())
        return self.served[case]

    def canaries(self):
        """(served, host) to start and check first, when the storage files of the wave could not
        all be allocated on the machine's disk: one host per case with storage files. Measured:
        asd 8.1.2.0 creates them sparse (16 GiB files take 8 MiB each), so this only guards."""
        worst = sum(size for s in self.served.values() for h in s.hosts for dummy, size in device_files(s.confs[h]))
        root = tb_podman.podman("info", "--format", "{{.Store.GraphRoot}}").stdout.strip()
        stat = os.statvfs(root)
        if worst <= stat.f_bavail * stat.f_frsize - DISK_MARGIN:
            return []
        return [(s, s.hosts[0]) for s in self.served.values() if device_files(s.confs[s.hosts[0]])]

    def down(self):
        _each(lambda s: s.down(), self.served.values())
        self.served = {}


@pytest.fixture(scope="module")
def bed(image, tmp_path_factory):  # image: conftest's fixture fails without root/podman
    assert image
    node = tb_podman.node_image()
    ok, why = tb_aerospike.available(node)
    if not ok:
        print("SKIP: " + why)
        pytest.skip(why)
    beds = Bed(node, str(tmp_path_factory.mktemp("golden-server")))
    yield beds
    beds.down()
    left = tb_podman.podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [name for name in left if name.startswith("cfm-gold-")], left


# ---------------------------------------------------------------------------- tests

def test_there_are_8x_goldens():
    assert WAVES, "no case of %s has aerospike_version 8.x for Community Edition" % ROLE_TEST
    for case in ORDER:
        golden(case)


@pytest.mark.parametrize("case", ORDER)
def test_golden_conf_is_accepted_and_forms_a_cluster(bed, case):
    if edition(case) != "community":
        reason = "%s is an Enterprise golden; the node image's server is Community Edition" % case
        print("SKIP: " + reason)
        pytest.skip(reason)
    served = bed.get(case)
    hosts = served.hosts
    # What the server is judged on is the golden file, byte for byte, on containers holding every address it binds.
    for host, (held, same) in zip(hosts, _each(served.holds, hosts)):
        wanted = bind_addresses(served.confs[host])
        assert wanted and wanted <= held, "%s %s: the container lacks %s" % (case, host, sorted(wanted - held))
        assert same, "%s %s: %s is not the golden file" % (case, host, CONF)
    verdicts = dict(zip(hosts, _each(lambda h: served.verdict(h, served.confs[h]), hosts)))
    refused = ["%s: %s" % (h, "; ".join(verdicts[h])) for h in hosts if verdicts[h]]
    assert not refused, "%s: the server did not accept the golden files (test bed up in %.1f s):\n%s" % (
        case, served.timings["wave_bed_up_s"], "\n".join(refused))
    accepted = round(max(served.answered[h] for h in hosts) - served.timings["started_at"], 1)
    build = served.server.info(hosts[0], ["build"]).get("build")
    assert build == served.image.aerospike
    formed = None
    if len(hosts) > 1:
        stats = served.server.wait_cluster(timeout=START_TIMEOUT)
        formed = round(time.monotonic() - served.timings["started_at"], 1)
        for host in hosts:
            assert stats[host]["cluster_size"] == str(len(hosts)) and stats[host]["cluster_integrity"] == "true"
    disk = dict((h, served.disk(h)) for h in hosts)
    for host, files in disk.items():
        for name, (size, allocated) in files.items():
            # the device files are sparse: a test bed must not fill the machine's disk
            assert allocated <= MAX_ALLOCATED, "%s %s: %s allocates %d of its %d bytes" % (case, host, name, allocated, size)
    print("\n%s: server %s, %d node(s); test bed up %.1f s (wave), accepted %.1f s and cluster %s s after the start"
          % (case, build, len(hosts), served.timings["wave_bed_up_s"], accepted, formed))
    for host in hosts:
        print("  %s: rss %.1f MB; device files %s" % (host, served.rss_mb(host), dict(
            (n, "%d MiB apparent, %.1f MiB allocated" % (s >> 20, a / 1048576.0)) for n, (s, a) in disk[host].items())))
    warnings = {}
    for host in hosts:
        for where, (count, first) in served.warnings(host).items():
            warnings[where] = (warnings.get(where, (0, first))[0] + count, first)
    for where, (count, first) in sorted(warnings.items()):
        print("  WARNING %s x%d, e.g. %s" % (where, count, first))


def test_a_broken_conf_is_refused_by_the_same_checks(bed):
    # the smallest case already up (tests run in file order), so the restart afterwards is short
    served = bed.get(min(bed.served or WAVES[0], key=lambda c: (len(CASES[c][0]), c)))
    host = served.hosts[0]
    text = served.confs[host]
    assert "\nservice {\n" in text
    broken = text.replace("\nservice {\n", "\nservice {\n    %s\n" % UNKNOWN_SETTING, 1)
    served.cluster.run(host, "systemctl stop aerospike")
    try:
        served.put(host, broken)
        served.start([host])
        problems = served.verdict(host, broken, timeout=REFUSE_TIMEOUT)
        print("\nnegative control (%s %s + '%s'): %s" % (served.case, host, UNKNOWN_SETTING, problems))
        assert problems, "the server accepted an unknown setting: the checks cannot fail"
        assert any(" CRITICAL " in p and "cfm-no-such-setting" in p for p in problems), problems
    finally:
        # the golden file back and its server started again: the case test checks it
        served.cluster.run(host, "systemctl stop aerospike", check=False)
        served.put(host, text)
        served.start([host])
