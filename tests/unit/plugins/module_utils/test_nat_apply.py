# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nat_apply against a fake host that models nft, iptables-save/-restore, systemctl and files.

The live behaviour (real kernel, real tools) is tested in tests/integration/test_nat_live.py
(and the one-call read against a concurrent ``nft -c`` in test_nat_state_read.py); here every
branch of the compare / validate / apply logic runs in milliseconds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import re

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply, nat_watchdog
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)
FOREIGN = ["-A OUTPUT -j DOCKER", "-A DOCKER -d 1.2.3.4/32 -j RETURN"]


def model(**options):
    args = dict(plan=PLAN, node="n1", links=DEVICES)
    args.update(options)
    return nat_rules.build(**args)


class FakeHost(object):
    """Just enough of a Debian host: nft tables as scripts, the iptables nat table, files."""

    def __init__(self, tools=("nft", "iptables-save", "iptables-restore", "ip6tables-save",
                              "ip6tables-restore", "iptables", "ip6tables", "systemctl"),
                 booted=True):
        self.tools = set(tools)
        self.files = {}
        self.dirs = set()
        self.tables = {}          # nft family -> script body
        self.other_tables = {"inet filter": "table inet filter { }"}
        self.nat = {"ipv4": self._empty_nat(), "ipv6": self._empty_nat()}
        self.calls = []
        self.enabled = False
        self.booted = booted
        self.fail = {}            # argv prefix (tuple) -> (rc, err)
        self.epoch = 0            # changes the listing's element order, as the kernel does
        self.shadows = set()      # nft families whose table a concurrent `nft -c` shows, empty
        self.json = True          # nft answers -j
        self.services = {}        # unit -> {"enabled": bool, "active": bool}

    @staticmethod
    def _empty_nat():
        return {"chains": {"DOCKER": ["-A DOCKER -d 1.2.3.4/32 -j RETURN"]},
                "builtin": {"OUTPUT": ["-A OUTPUT -j DOCKER"], "POSTROUTING": []}}

    # -- host interface
    def which(self, name):
        return "/usr/sbin/" + name if name in self.tools else None

    def read(self, path):
        return self.files.get(path)

    def write(self, path, text, mode):
        self.calls.append(("write", path))
        self.dirs.add(path.rsplit("/", 1)[0])
        self.files[path] = text

    def remove(self, path):
        self.calls.append(("remove", path))
        self.files.pop(path, None)

    def exists(self, path):
        if path == "/run/systemd/system":
            return self.booted
        return path in self.files or path in self.dirs

    def sha256(self, path):
        text = self.files.get(path)
        return None if text is None else hashlib.sha256(text.encode()).hexdigest()

    def install(self, src, path, mode):
        self.calls.append(("install", src, path))
        self.dirs.add(path.rsplit("/", 1)[0])
        self.files[path] = self.files.pop(src)

    def run(self, argv, data=None):
        argv = list(argv)
        self.calls.append(tuple(argv))
        for prefix, outcome in self.fail.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return outcome[0], "", outcome[1]
        name = argv[0].rsplit("/", 1)[-1]
        handler = getattr(self, "_" + name.replace("-", "_"))
        return handler(argv[1:], data)

    # -- nft
    def _table_items(self, family):
        body = self.tables.get(family)
        if body is None:  # a shadow: the table alone
            return [{"table": {"family": family, "name": nat_apply.TABLE, "handle": 90 + self.epoch}}]
        elems = sorted(re.findall(r"^\t\t\t(.*?),?$", body, re.M))
        if self.epoch % 2:
            elems.reverse()
        where = {"family": family, "table": nat_apply.TABLE}
        return [{"table": {"family": family, "name": nat_apply.TABLE, "handle": self.epoch}},
                {"map": dict(where, name="steer", handle=3 + self.epoch, elem=elems)},
                {"rule": dict(where, chain="x", handle=9 + self.epoch,
                              expr=[re.sub(r"^\t\t\t.*\n", "", body, flags=re.M)])}]

    def _nft(self, args, data):
        if args == ["-j", "list", "ruleset"]:
            if not self.json:
                return 1, "", "Error: JSON support not compiled-in"
            items = [{"metainfo": {"version": "1.0.6"}}]
            for name in self.other_tables:
                family, table = name.split()
                items += [{"table": {"family": family, "name": table, "handle": 1}},
                          {"chain": {"family": family, "table": table, "name": "c", "handle": 2}}]
            for family in sorted(set(self.tables) | self.shadows):
                items += self._table_items(family)
            return 0, json.dumps({"nftables": items}), ""
        if args == ["list", "ruleset"]:
            text = "".join(body + "\n" for body in self.other_tables.values())
            for family in sorted(set(self.tables) | self.shadows):
                text += self.tables.get(family, "table %s %s {\n}\n" % (family, nat_apply.TABLE))
            return 0, text, ""
        if args[:2] == ["-c", "-f"]:
            return 0, "", ""
        if args[:1] == ["-f"]:
            for family in re.findall(r"^delete table (\S+) " + nat_apply.TABLE, data, re.M):
                self.tables.pop(family, None)
            for whole, family in re.findall(r"^(table (\S+) %s \{\n.*?\n\}\n)" % nat_apply.TABLE, data,
                                            re.M | re.S):
                self.tables[family] = whole
            self.epoch += 1
            return 0, "", ""
        raise AssertionError("unexpected nft %r" % args)

    # -- iptables
    def _save(self, family):
        nat = self.nat[family]
        lines = ["# Generated by iptables-save", "*nat", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                 ":POSTROUTING ACCEPT [0:0]"]
        lines += [":%s - [0:0]" % c for c in sorted(nat["chains"])]
        for chain in ("OUTPUT", "POSTROUTING"):
            lines += nat["builtin"][chain]
        for chain in sorted(nat["chains"]):
            lines += nat["chains"][chain]
        return 0, "\n".join(lines + ["COMMIT", "# Completed"]) + "\n", ""

    def _iptables_save(self, args, data):
        return self._save("ipv4")

    def _ip6tables_save(self, args, data):
        return self._save("ipv6")

    def _restore(self, family, args, data):
        nat = json.loads(json.dumps(self.nat[family]))
        for line in data.splitlines():
            if line.startswith(":"):
                nat["chains"][line[1:].split()[0]] = []
            elif line.startswith("-A "):
                chain = line.split()[1]
                (nat["builtin"] if chain in nat["builtin"] else nat["chains"])[chain].append(line)
            elif line.startswith("-I "):
                chain, target = line.split()[1], line.split()[-1]
                nat["builtin"][chain].insert(0, "-A %s -j %s" % (chain, target))
            elif line.startswith("-D "):
                chain, target = line.split()[1], line.split()[-1]
                nat["builtin"][chain].remove("-A %s -j %s" % (chain, target))
            elif line.startswith("-F "):
                nat["chains"][line.split()[1]] = []
            elif line.startswith("-X "):
                chain = line.split()[1]
                assert not nat["chains"][chain], "deleting a non-empty chain"
                assert not any(rule.endswith("-j " + chain) for rules in
                               list(nat["chains"].values()) + list(nat["builtin"].values())
                               for rule in rules), "deleting a referenced chain"
                del nat["chains"][chain]
        if "--test" not in args:
            self.nat[family] = nat
        return 0, "", ""

    def _iptables_restore(self, args, data):
        return self._restore("ipv4", args, data)

    def _ip6tables_restore(self, args, data):
        return self._restore("ipv6", args, data)

    # -- systemd and coreutils
    def _systemctl(self, args, data):
        if args[0] == "show":
            unit = self.services.get(args[-1], {})
            return 0, "UnitFileState=%s\nActiveState=%s\n" % (
                "enabled" if unit.get("enabled") else "disabled" if unit else "",
                "active" if unit.get("active") else "inactive"), ""
        watchdog_unit = args[:2] in (["enable", nat_watchdog.WATCHDOG_UNIT], ["disable", nat_watchdog.WATCHDOG_UNIT])
        if args[0] in ("start", "stop", "restart") or watchdog_unit:
            unit = self.services.setdefault(args[-1], {})
            unit.update({"start": {"active": True}, "restart": {"active": True}, "stop": {"active": False},
                         "enable": {"enabled": True}, "disable": {"enabled": False}}[args[0]])
            return 0, "", ""
        if args[0] == "is-enabled":
            if nat_apply.UNIT_PATH not in self.files:
                return 1, "", "No such file"
            return (0, "enabled\n", "") if self.enabled else (1, "disabled\n", "")
        if args[0] == "enable":
            self.enabled = True
        elif args[0] == "disable":
            self.enabled = False
        return 0, "", ""

    def _rmdir(self, args, data):
        directory = args[-1]
        if directory not in self.dirs:
            return 1, "", "rmdir: failed to remove: No such file or directory"
        if not any(path.startswith(directory + "/") for path in self.files):
            self.dirs.discard(directory)
        return 0, "", ""

    # -- helpers for tests
    def changing_calls(self):
        """Calls that change something (everything but reading and validating)."""
        reading = (("list",), ("-j",), ("-c",), ("-t",), ("is-enabled",), ("show",))
        out = []
        for call in self.calls:
            if call[0] in ("write", "remove"):
                out.append(call)
                continue
            args = call[1:]
            if "--test" in args or any(tuple(args[:len(r)]) == r for r in reading):
                continue
            out.append(call)
        return out


def normalise(text, runtime=False):
    """The canonical form nat_apply compares, of an ``nft -j list table`` answer."""
    return nat_apply.canonical(json.loads(text)["nftables"], runtime)


def converge(host, m, backend="nftables", **options):
    """nat_apply with the rules of model ``m`` (None: remove everything) as the action renders them."""
    return nat_apply.converge(host, None if m is None else nat_rules.node_rules(m, backend), backend=backend, **options)


# ---------------------------------------------------------------------------- nftables
def test_first_run_validates_then_applies_once_then_persists():
    host = FakeHost()
    result = converge(host, model())
    assert result["changed"]
    assert "table ip clusterfabric_multilink {" in host.tables["ip"]
    applied = [c for c in host.calls if c[:2] == ("/usr/sbin/nft", "-f")]
    checked = [c for c in host.calls if c[:3] == ("/usr/sbin/nft", "-c", "-f")]
    assert len(applied) == 1 and len(checked) == 1
    assert host.calls.index(checked[0]) < host.calls.index(applied[0])
    assert host.files[nat_apply.NFT_FILE] == nat_rules.render_nft(model())
    assert "ExecStart=/usr/sbin/nft -f /etc/clusterfabric-multilink/nat.nft" in host.files[nat_apply.UNIT_PATH]
    assert host.enabled
    state = json.loads(host.files[nat_apply.STATE_FILE])
    assert state["script"] == nat_rules.render_nft(model()) and state["backend"] == "nftables"
    headers = [d["before_header"] for d in result["diff"]]
    assert headers == ["nftables tables clusterfabric_multilink (live)", nat_apply.NFT_FILE,
                       nat_apply.UNIT_PATH, "clusterfabric-multilink-nat.service enabled"]
    assert result["diff"][0]["before"] == ""
    assert ("/usr/sbin/systemctl", "daemon-reload") in host.calls


def test_second_run_changes_nothing_even_when_the_kernel_lists_elements_in_another_order():
    host = FakeHost()
    converge(host, model())
    host.epoch += 1  # e.g. after a reboot the unit loaded the same script
    host.calls = []
    result = converge(host, model())
    assert not result["changed"] and result["diff"] == []
    assert host.changing_calls() == []


def test_check_mode_reports_the_diff_and_touches_nothing():
    host = FakeHost()
    result = converge(host, model(), check_mode=True)
    assert result["changed"] and len(result["diff"]) == 4
    assert host.tables == {} and host.files == {} and not host.enabled
    assert host.changing_calls() == []
    assert ("/usr/sbin/nft", "-c", "-f", "/dev/stdin") in host.calls


def test_a_new_plan_diffs_against_the_last_applied_script():
    host = FakeHost()
    converge(host, model())
    result = converge(host, model(weights={"fab1": 2}), persist=False)
    live = result["diff"][0]
    assert live["before"] == nat_rules.render_nft(model())
    assert live["after"] == nat_rules.render_nft(model(weights={"fab1": 2}))


def test_tables_changed_by_hand_are_restored():
    host = FakeHost()
    converge(host, model())
    host.tables["ip"] = host.tables["ip"].replace("snat to 198.18.1.11", "snat to 198.18.1.99")
    result = converge(host, model())
    assert result["changed"]
    assert result["diff"][0]["before"].startswith("# live tables (not as last applied by fabric_nat)")
    assert "snat to 198.18.1.11" in host.tables["ip"]


def test_a_refused_ruleset_changes_nothing():
    host = FakeHost()
    host.fail[("/usr/sbin/nft", "-c")] = (1, "Error: Could not process rule: No such file or directory")
    with pytest.raises(FabricError) as caught:
        converge(host, model())
    assert "nft -c (validation of the new ruleset; nothing was changed) failed (rc 1)" in str(caught.value)
    assert host.changing_calls() == [] and host.files == {}


@pytest.mark.parametrize("backend, tool, package", [
    ("nftables", "nft", "nftables"),
    ("iptables", "iptables-restore", "iptables"),
    ("iptables", "iptables-save", "iptables"),
])
def test_a_missing_tool_names_the_package_and_changes_nothing(backend, tool, package):
    host = FakeHost()
    host.tools.discard(tool)
    with pytest.raises(FabricError) as caught:
        converge(host, model(), backend=backend)
    assert "the %s command is missing on this host; install the Debian package %s" % (tool, package) \
        in str(caught.value)
    assert host.changing_calls() == []


@pytest.mark.parametrize("backend, tools", [
    ("nftables", ("systemctl",)),
    ("iptables", ("systemctl", "nft")),
    ("nftables", ()),
])
def test_check_mode_on_a_host_without_the_tools_warns_and_shows_the_whole_change(backend, tools):
    host = FakeHost(tools=tools)
    result = converge(host, model(), backend=backend, check_mode=True)
    assert result["changed"] and result["diff"][0]["before"] == ""
    assert "table ip clusterfabric_multilink {" in result["diff"][0]["after"] or \
        "-A CFML-OUTPUT" in result["diff"][0]["after"]
    assert result["warnings"] and "check mode: assuming none of the module's rules exist" in result["warnings"][0]
    assert "install the Debian package" in result["warnings"][0]
    unit = next(d["after"] for d in result["diff"] if d["before_header"] == nat_apply.UNIT_PATH)
    assert "ExecStart=/usr/sbin/" in unit
    assert host.changing_calls() == []


def test_persist_needs_systemctl():
    host = FakeHost()
    host.tools.discard("systemctl")
    with pytest.raises(FabricError) as caught:
        converge(host, model())
    assert "systemctl command is missing" in str(caught.value) and "systemd" in str(caught.value)
    assert host.changing_calls() == []
    assert not converge(FakeHost(tools=("nft",)), model(), persist=False)["diff"][1:]


def test_persist_false_removes_an_earlier_unit_and_file_but_keeps_the_rules():
    host = FakeHost()
    converge(host, model())
    result = converge(host, model(), persist=False)
    assert result["changed"]
    assert nat_apply.UNIT_PATH not in host.files and nat_apply.NFT_FILE not in host.files
    assert not host.enabled and "ip" in host.tables
    assert ("/usr/sbin/systemctl", "disable", nat_apply.UNIT) in host.calls


def test_absent_removes_everything_of_the_module_and_nothing_else():
    host = FakeHost()
    converge(host, model())
    result = converge(host, None)
    assert result["changed"]
    assert host.tables == {} and host.files == {} and not host.enabled
    assert host.other_tables == {"inet filter": "table inet filter { }"}
    assert host.nat["ipv4"] == FakeHost._empty_nat()
    assert nat_apply.PERSIST_DIR not in host.dirs and nat_apply.STATE_DIR not in host.dirs
    host.calls = []
    assert not converge(host, None)["changed"]
    assert host.changing_calls() == []


def test_absent_keeps_a_shared_directory_that_holds_other_files():
    host = FakeHost()
    converge(host, model())
    host.files[nat_apply.STATE_DIR + "/links-manifest.json"] = "{}"
    converge(host, None)
    assert nat_apply.STATE_DIR in host.dirs


# ---------------------------------------------------------------------------- iptables
def test_iptables_adds_own_chains_and_one_jump_each_and_leaves_docker_alone():
    host = FakeHost()
    result = converge(host, model(), backend="iptables")
    nat = host.nat["ipv4"]
    assert nat["builtin"]["OUTPUT"] == ["-A OUTPUT -j CFML-OUTPUT", "-A OUTPUT -j DOCKER"]
    assert nat["builtin"]["POSTROUTING"] == ["-A POSTROUTING -j CFML-POSTROUTING"]
    assert nat["chains"]["DOCKER"] == ["-A DOCKER -d 1.2.3.4/32 -j RETURN"]
    assert sorted(nat["chains"]) == ["CFML-OUTPUT", "CFML-POSTROUTING", "CFML-n2-3001", "CFML-n3-3001", "DOCKER"]
    assert host.files[nat_apply.IPT_FILES["ipv4"]] == nat_rules.render_iptables(model(), "ipv4")
    assert nat_apply.IPT_FILES["ipv6"] not in host.files
    unit = host.files[nat_apply.UNIT_PATH]
    assert "ExecStartPre=-/usr/sbin/iptables -w -t nat -D OUTPUT -j CFML-OUTPUT" in unit
    assert "ExecStart=/usr/sbin/iptables-restore -w --noflush /etc/clusterfabric-multilink/nat.rules" in unit
    restore = [c for c in host.calls if c[0].endswith("iptables-restore")]
    assert [c[1:] for c in restore] == [("-w", "--test", "--noflush"), ("-w", "--noflush")]
    host.calls = []
    assert not converge(host, model(), backend="iptables")["changed"]
    assert host.changing_calls() == []


def test_iptables_removes_chains_of_peers_gone_and_extra_jumps():
    host = FakeHost()
    converge(host, model(), backend="iptables")
    host.nat["ipv4"]["builtin"]["OUTPUT"].append("-A OUTPUT -j CFML-OUTPUT")
    smaller = {"n1": PLAN["n1"], "n2": PLAN["n2"]}
    result = converge(host, model(plan=smaller), backend="iptables")
    assert result["changed"]
    nat = host.nat["ipv4"]
    assert "CFML-n3-3001" not in nat["chains"]
    assert nat["builtin"]["OUTPUT"].count("-A OUTPUT -j CFML-OUTPUT") == 1
    assert "-A CFML-n3-3001" not in result["diff"][0]["after"]
    assert "-A CFML-n3-3001" in result["diff"][0]["before"]


def test_iptables_with_nothing_to_steer_installs_no_unit():
    host = FakeHost()
    converge(host, model(), backend="iptables")
    result = converge(host, model(links=[{"name": "fab0", "device": "eth0"}]), backend="iptables")
    assert result["changed"]
    assert nat_apply.UNIT_PATH not in host.files and not host.enabled
    assert not [c for c in host.nat["ipv4"]["chains"] if c.startswith("CFML-")]


def test_iptables_ipv6_gets_its_own_file_and_restore():
    links = [{"name": "a", "subnet": "2001:db8:1::/64"}, {"name": "b", "subnet": "2001:db8:2::/64"}]
    plan = plan_addresses({"x": 1, "y": 2}, links)
    m = nat_rules.build(plan, "x", [{"name": "a", "device": "eth0"}, {"name": "b", "device": "eth1"}])
    host = FakeHost()
    result = converge(host, m, backend="iptables")
    assert result["changed"] and nat_apply.IPT_FILES["ipv4"] not in host.files
    assert "CFML-y-3001" in host.nat["ipv6"]["chains"]
    assert "-j DNAT --to-destination 2001:db8:2::c" in host.files[nat_apply.IPT_FILES["ipv6"]]
    assert "ExecStart=/usr/sbin/ip6tables-restore -w --noflush" in host.files[nat_apply.UNIT_PATH]


def test_switching_backends_removes_the_other_one():
    host = FakeHost()
    converge(host, model())
    converge(host, model(), backend="iptables")
    assert host.tables == {} and nat_apply.NFT_FILE not in host.files
    assert nat_apply.STATE_FILE not in host.files
    assert "CFML-OUTPUT" in host.nat["ipv4"]["chains"]
    converge(host, model())
    assert "ip" in host.tables
    assert not [c for c in host.nat["ipv4"]["chains"] if c.startswith("CFML-")]
    assert host.nat["ipv4"]["builtin"]["OUTPUT"] == ["-A OUTPUT -j DOCKER"]


def test_iptables_absent_deletes_jumps_before_chains():
    host = FakeHost()
    converge(host, model(), backend="iptables")
    converge(host, None)
    assert host.nat["ipv4"] == FakeHost._empty_nat()


# ---------------------------------------------------------------------------- parsing helpers
def test_parse_iptables_save_keeps_only_our_chains_and_counts_jumps():
    text = "\n".join(["*nat", ":OUTPUT ACCEPT [0:0]", ":CFML-OUTPUT - [0:0]", ":DOCKER - [0:0]",
                      "-A OUTPUT -j CFML-OUTPUT", "-A OUTPUT -j CFML-OUTPUT", "-A OUTPUT -j DOCKER",
                      "-A CFML-OUTPUT -d 1.2.3.4/32 -j RETURN", "-A DOCKER -j RETURN", "COMMIT"])
    parsed = nat_apply.parse_iptables_save(text)
    assert parsed == {"chains": {"CFML-OUTPUT": ["-A CFML-OUTPUT -d 1.2.3.4/32 -j RETURN"]},
                      "jumps": {"OUTPUT": 2, "POSTROUTING": 0}}


def test_probabilities_compare_after_the_kernel_rounded_them():
    ours = {"chains": {"CFML-x": ["-A CFML-x -m statistic --mode random --probability 0.33333333333 -j RETURN"]},
            "jumps": {"OUTPUT": 1, "POSTROUTING": 1}}
    kernel = {"chains": {"CFML-x": ["-A CFML-x -m statistic --mode random --probability 0.33333333349 -j RETURN"]},
              "jumps": {"OUTPUT": 1, "POSTROUTING": 1}}
    assert nat_apply.iptables_text(ours) == nat_apply.iptables_text(kernel)


def test_nft_json_is_normalised():
    one = {"nftables": [{"metainfo": {"version": "1"}}, {"set": {"handle": 4, "elem": ["b", "a"]}},
                        {"rule": {"handle": 9, "expr": [{"x": {"set": [2, 1]}}, {"y": 1}]}}]}
    two = {"nftables": [{"set": {"handle": 7, "elem": ["a", "b"]}},
                        {"rule": {"handle": 3, "expr": [{"x": {"set": [1, 2]}}, {"y": 1}]}}]}
    assert normalise(json.dumps(one)) == normalise(json.dumps(two))
    three = {"nftables": [{"set": {"elem": ["a", "b"]}}, {"rule": {"expr": [{"y": 1}, {"x": {"set": [1, 2]}}]}}]}
    assert normalise(json.dumps(three)) != normalise(json.dumps(two))


def test_with_the_watchdog_its_runtime_changes_are_not_a_difference():
    """Peer chain rules and the dead set's elements are the watchdog's at run time (failover)."""
    def listing(lanes, dead, postrouting="snat to 198.18.1.11"):
        items = [{"metainfo": {"version": "1.0.6"}},
                 {"table": {"family": "ip", "name": "clusterfabric_multilink", "handle": 3}},
                 {"set": {"family": "ip", "name": "dead", "table": "clusterfabric_multilink", "handle": 4}},
                 {"chain": {"family": "ip", "table": "clusterfabric_multilink", "name": "peer_n2_3001", "handle": 5}},
                 {"rule": {"family": "ip", "table": "clusterfabric_multilink", "chain": "peer_n2_3001",
                           "handle": 8, "expr": [{"dnat": {"addr": lanes}}]}},
                 {"rule": {"family": "ip", "table": "clusterfabric_multilink", "chain": "postrouting",
                           "handle": 9, "expr": [{"snat": postrouting}]}}]
        if dead:
            items[2]["set"]["elem"] = dead
        return json.dumps({"nftables": items})
    full = listing(["198.18.0.12", "198.18.1.12"], [])
    failed_over = listing(["198.18.0.12"], [{"concat": ["198.18.1.12", 3001]}])
    assert normalise(full, runtime=True) == normalise(failed_over, runtime=True)
    assert normalise(full) != normalise(failed_over)
    edited = listing(["198.18.0.12", "198.18.1.12"], [], postrouting="snat to 10.0.0.1")
    assert normalise(full, runtime=True) != normalise(edited, runtime=True)


def test_the_watchdog_tables_apply_once_and_stay_in_sync():
    host = FakeHost()
    wanted = model(watchdog=True)
    result = converge(host, wanted)
    assert result["changed"] and "\tchain fastfail {" in host.files[nat_apply.NFT_FILE]
    assert "set dead {" in host.files[nat_apply.NFT_FILE]
    assert not converge(host, wanted)["changed"]
    assert converge(host, model())["changed"]          # without the watchdog: its objects go


def test_unknown_backend():
    with pytest.raises(FabricError):
        converge(FakeHost(), model(), backend="pf")


# ---------------------------------------------------------------------------- the read: one call
def nft_reads(host):
    return [c for c in host.calls if c[:1] == ("/usr/sbin/nft",) and ("list" in c)]


def test_the_live_tables_are_read_in_one_call():
    host = FakeHost()
    converge(host, model())
    host.calls = []
    assert not converge(host, model())["changed"]
    assert nft_reads(host) == [("/usr/sbin/nft", "-j", "list", "ruleset")]


@pytest.mark.parametrize("loaded", [True, False])
def test_an_empty_table_shown_by_a_concurrent_check_is_not_ours(loaded):
    """`nft -c` of the same tables shows them, empty, for an instant (test_nat_state_read.py)."""
    host = FakeHost()
    if loaded:
        converge(host, model())
    host.shadows = {"ip", "ip6"}
    host.calls = []
    if loaded:
        assert not converge(host, model())["changed"]
    else:
        assert not converge(host, None)["changed"]
        result = converge(host, model(), check_mode=True)
        assert result["diff"][0]["before"] == ""
    assert host.changing_calls() == []


def test_nft_without_json_reads_the_plain_listing_in_one_call():
    host = FakeHost()
    host.json = False
    assert converge(host, model())["changed"]
    host.calls = []
    assert not converge(host, model())["changed"]
    assert nft_reads(host) == [("/usr/sbin/nft", "-j", "list", "ruleset"), ("/usr/sbin/nft", "list", "ruleset")]


def test_plain_listing_keeps_only_our_tables_with_something_in_them():
    text = ("table inet filter {\n}\ntable ip clusterfabric_multilink {\n\tchain output {\n\t}\n}\n"
            "table ip6 clusterfabric_multilink {\n}\n")
    assert nat_apply.plain_tables(text) == {"ip": "table ip clusterfabric_multilink {\n\tchain output {\n\t}\n}\n"}


# ---------------------------------------------------------------------------- the link watchdog
PROGRAM_TEXT = "# linkwatch\n"
PROGRAM_SHA = hashlib.sha256(PROGRAM_TEXT.encode()).hexdigest()
UNIT_TEXT = "[Service]\nExecStart=/usr/bin/python3 %s\n" % nat_watchdog.WATCHDOG_PROGRAM


def watchdog(host, config='{"version": 2}\n', program=PROGRAM_TEXT, src=True):
    """What the action sends: the program (transferred to the host's tmp dir unless src is False)."""
    digest = hashlib.sha256(program.encode()).hexdigest()
    wanted = {"state": "present", "config": config, "unit": UNIT_TEXT, "program": {"sha256": digest}}
    if src:
        host.files["/tmp/ansible-tmp/linkwatch.py"] = program
        wanted["program"]["src"] = "/tmp/ansible-tmp/linkwatch.py"
    return wanted


def service(host):
    return host.services.get(nat_watchdog.WATCHDOG_UNIT, {})


def test_the_watchdog_is_installed_started_after_the_rules_and_then_left_alone():
    host = FakeHost()
    result = converge(host, model(watchdog=True), watchdog=watchdog(host))
    assert result["changed"]
    assert host.files[nat_watchdog.WATCHDOG_PROGRAM] == PROGRAM_TEXT
    assert host.files[nat_watchdog.WATCHDOG_CONFIG] == '{"version": 2}\n'
    assert host.files[nat_watchdog.WATCHDOG_UNIT_PATH] == UNIT_TEXT
    assert service(host) == {"enabled": True, "active": True}
    changing = host.changing_calls()
    applied = changing.index(("/usr/sbin/nft", "-f", "/dev/stdin"))
    started = changing.index(("/usr/sbin/systemctl", "restart", nat_watchdog.WATCHDOG_UNIT))  # no unit before
    reload_ = max(i for i, c in enumerate(changing) if c == ("/usr/sbin/systemctl", "daemon-reload"))
    assert applied < reload_ < changing.index(("/usr/sbin/systemctl", "enable", nat_watchdog.WATCHDOG_UNIT)) < started
    headers = [d["before_header"] for d in result["diff"]]
    assert headers[-4:] == [nat_watchdog.WATCHDOG_PROGRAM, nat_watchdog.WATCHDOG_CONFIG, nat_watchdog.WATCHDOG_UNIT_PATH,
                            nat_watchdog.WATCHDOG_UNIT]
    assert result["diff"][-4]["after"] == "(linkwatch.py, sha256 %s)\n" % PROGRAM_SHA
    assert result["diff"][-1] == {"before_header": nat_watchdog.WATCHDOG_UNIT, "after_header": nat_watchdog.WATCHDOG_UNIT,
                                  "before": "enabled: no\nactive: no\n", "after": "enabled: yes\nactive: yes\n"}
    assert not [c for c in host.calls if c[1:2] == ("show",)]  # no unit before: systemd is not asked
    host.calls = []
    assert not converge(host, model(watchdog=True), watchdog=watchdog(host))["changed"]
    assert host.changing_calls() == []
    host.services[nat_watchdog.WATCHDOG_UNIT]["active"] = False   # stopped by hand: started again
    assert converge(host, model(watchdog=True), watchdog=watchdog(host))["changed"]
    assert host.changing_calls()[0] == ("/usr/sbin/systemctl", "start", nat_watchdog.WATCHDOG_UNIT)
    assert [c for c in host.changing_calls() if c[0] != "rmdir"] == host.changing_calls()[:1]


@pytest.mark.parametrize("change, what", [({"config": '{"version": 2, "interval_ms": 200}\n'}, "configuration"),
                                          ({"program": "# linkwatch 2\n"}, "program")])
def test_a_changed_program_or_configuration_restarts_the_running_watchdog(change, what):
    host = FakeHost()
    converge(host, model(watchdog=True), watchdog=watchdog(host))
    host.calls = []
    result = converge(host, model(watchdog=True), watchdog=watchdog(host, **change))
    assert result["changed"]
    assert ("/usr/sbin/systemctl", "restart", nat_watchdog.WATCHDOG_UNIT) in host.calls
    assert ("/usr/sbin/systemctl", "daemon-reload") not in host.calls
    assert result["diff"][-1]["after"] == "enabled: yes\nactive: yes (restarted: its %s changed)\n" % what


def test_check_mode_needs_no_program_on_the_host_and_changes_nothing():
    host = FakeHost()
    result = converge(host, model(watchdog=True), watchdog=watchdog(host, src=False), check_mode=True)
    assert result["changed"] and result["diff"][-1]["after"] == "enabled: yes\nactive: yes\n"
    assert host.changing_calls() == [] and nat_watchdog.WATCHDOG_PROGRAM not in host.files


def test_a_program_that_was_not_sent_fails_before_anything_changes():
    host = FakeHost()
    with pytest.raises(FabricError, match=r"watchdog: the program differs from the installed one but was not sent"):
        converge(host, model(watchdog=True), watchdog=watchdog(host, src=False))
    assert host.changing_calls() == []


def test_check_mode_without_systemctl_warns():
    host = FakeHost(tools=("nft",))
    result = converge(host, model(watchdog=True), watchdog=watchdog(host, src=False), check_mode=True, persist=False)
    assert result["changed"] and any("systemctl command is missing" in w for w in result["warnings"])


@pytest.mark.parametrize("absent", [True, False])
def test_the_watchdog_is_stopped_first_then_removed_with_its_files(absent):
    host = FakeHost()
    converge(host, model(watchdog=True), watchdog=watchdog(host))
    host.calls = []
    result = converge(host, None if absent else model(), watchdog={"state": "absent"})
    assert result["changed"]
    changing = host.changing_calls()
    assert changing[:2] == [("/usr/sbin/systemctl", "stop", nat_watchdog.WATCHDOG_UNIT),
                            ("/usr/sbin/systemctl", "disable", nat_watchdog.WATCHDOG_UNIT)]
    assert changing.index(("/usr/sbin/systemctl", "daemon-reload")) < changing.index(("/usr/sbin/nft", "-f", "/dev/stdin"))
    assert not [path for path in host.files if "linkwatch" in path] and service(host) == {"enabled": False, "active": False}
    assert nat_watchdog.WATCHDOG_DIR not in host.dirs
    assert result["diff"][0]["before"] == "enabled: yes\nactive: yes\n"
    host.calls = []
    assert not converge(host, None if absent else model(), watchdog={"state": "absent"})["changed"]
    assert host.changing_calls() == []


def test_no_watchdog_argument_leaves_the_watchdog_alone():
    host = FakeHost()
    converge(host, model(watchdog=True), watchdog=watchdog(host))
    host.calls = []
    assert converge(host, model(watchdog=True, ports=[3001, 3003]))["changed"]
    assert service(host) == {"enabled": True, "active": True} and nat_watchdog.WATCHDOG_CONFIG in host.files
    assert not [c for c in host.changing_calls() if "systemctl" in c[0]]
