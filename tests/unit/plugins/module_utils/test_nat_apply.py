# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nat_apply against a fake host that models nft, iptables-save/-restore, systemctl and files.

The live behaviour (real kernel, real tools) is tested in tests/integration/test_nat_live.py;
here every branch of the compare / validate / apply logic runs in milliseconds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply, nat_rules
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

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
    def _nft(self, args, data):
        if args == ["list", "tables"]:
            names = ["table %s %s" % (f, nat_rules.TABLE) for f in sorted(self.tables)]
            return 0, "\n".join(["table %s" % name for name in self.other_tables] + names) + "\n", ""
        if args[:2] == ["-j", "list"] or args[:1] == ["list"]:
            family = args[-2]
            if family not in self.tables:
                return 1, "", "Error: No such file or directory"
            if args[0] == "-j":
                elems = sorted(re.findall(r"^\t\t\t(.*?),?$", self.tables[family], re.M))
                if self.epoch % 2:
                    elems.reverse()
                return 0, json.dumps({"nftables": [
                    {"metainfo": {"version": "1.0.6"}},
                    {"table": {"family": family, "name": nat_rules.TABLE, "handle": self.epoch}},
                    {"map": {"name": "steer", "handle": 3 + self.epoch, "elem": elems}},
                    {"rule": {"chain": "x", "handle": 9 + self.epoch,
                              "expr": [re.sub(r"^\t\t\t.*\n", "", self.tables[family], flags=re.M)]}}]}), ""
            return 0, self.tables[family], ""
        if args[:2] == ["-c", "-f"]:
            return 0, "", ""
        if args[:1] == ["-f"]:
            for family in re.findall(r"^delete table (\S+) " + nat_rules.TABLE, data, re.M):
                self.tables.pop(family, None)
            for whole, family in re.findall(r"^(table (\S+) %s \{\n.*?\n\}\n)" % nat_rules.TABLE, data,
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
        reading = (("list",), ("-j",), ("-c",), ("-t",), ("is-enabled",))
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


def converge(host, m, **options):
    return nat_apply.converge(host, m, **options)


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
    assert host.files[nat_apply.NFT_FILE] == result["ruleset"] == nat_rules.render_nft(model())
    assert "ExecStart=/usr/sbin/nft -f /etc/clusterfabric-multilink/nat.nft" in host.files[nat_apply.UNIT_PATH]
    assert host.enabled
    state = json.loads(host.files[nat_apply.STATE_FILE])
    assert state["script"] == result["ruleset"] and state["backend"] == "nftables"
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
    assert host.files[nat_apply.IPT_FILES["ipv4"]] == result["ruleset"]
    assert nat_apply.IPT_FILES["ipv6"] not in host.files and result["ruleset6"] == ""
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
    assert result["changed"] and result["ruleset"] == ""
    assert nat_apply.UNIT_PATH not in host.files and not host.enabled
    assert not [c for c in host.nat["ipv4"]["chains"] if c.startswith("CFML-")]


def test_iptables_ipv6_gets_its_own_file_and_restore():
    links = [{"name": "a", "subnet": "2001:db8:1::/64"}, {"name": "b", "subnet": "2001:db8:2::/64"}]
    plan = plan_addresses({"x": 1, "y": 2}, links)
    m = nat_rules.build(plan, "x", [{"name": "a", "device": "eth0"}, {"name": "b", "device": "eth1"}])
    host = FakeHost()
    result = converge(host, m, backend="iptables")
    assert result["ruleset"] == "" and "-j DNAT --to-destination 2001:db8:2::c" in result["ruleset6"]
    assert "CFML-y-3001" in host.nat["ipv6"]["chains"]
    assert host.files[nat_apply.IPT_FILES["ipv6"]] == result["ruleset6"]
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
    assert nat_apply.normalise_nft_json(json.dumps(one)) == nat_apply.normalise_nft_json(json.dumps(two))
    three = {"nftables": [{"set": {"elem": ["a", "b"]}}, {"rule": {"expr": [{"y": 1}, {"x": {"set": [1, 2]}}]}}]}
    assert nat_apply.normalise_nft_json(json.dumps(three)) != nat_apply.normalise_nft_json(json.dumps(two))


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
    assert nat_apply.normalise_nft_json(full, runtime=True) == nat_apply.normalise_nft_json(failed_over, runtime=True)
    assert nat_apply.normalise_nft_json(full) != nat_apply.normalise_nft_json(failed_over)
    edited = listing(["198.18.0.12", "198.18.1.12"], [], postrouting="snat to 10.0.0.1")
    assert nat_apply.normalise_nft_json(full, runtime=True) != nat_apply.normalise_nft_json(edited, runtime=True)


def test_the_watchdog_tables_apply_once_and_stay_in_sync():
    host = FakeHost()
    wanted = model(watchdog=True)
    result = converge(host, wanted)
    assert result["changed"] and "\tchain fastfail {" in result["ruleset"]
    assert "set dead {" in host.files[nat_apply.NFT_FILE]
    assert not converge(host, wanted)["changed"]
    assert converge(host, model())["changed"]          # without the watchdog: its objects go


def test_unknown_backend():
    with pytest.raises(FabricError):
        converge(FakeHost(), model(), backend="pf")
