# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mptcp_apply against a fake host that models /proc/sys, ip mptcp, systemctl, nft and files.

The live behaviour (real kernel, systemd, the real server with mptcpize) is tested in
tests/integration/test_mptcp_live.py; here every branch of the compare / validate / apply logic
runs in milliseconds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import re

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import mptcp_apply, nat_apply, nat_watchdog
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import mptcp_plan
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils.address_plan import plan_addresses

LINKS = [{"name": "fab0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "subnet": "198.18.1.0/24"}]
DEVICES = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]
PLAN = plan_addresses({"n1": 1, "n2": 2}, LINKS)
MODEL = mptcp_plan.build(PLAN, "n1", DEVICES, [3001])
RENDERED = {"host": "n1", "endpoints": [{"id": e["id"], "address": e["address"], "device": e["device"]}
                                        for e in MODEL["endpoints"]], "limits": dict(MODEL["limits"])}
LIBRARY = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
ASD = "aerospike.service"
DROPIN = mptcp_apply.dropin_path(ASD)


class FakeHost(object):
    """A Debian host with MPTCP: /proc/sys values, endpoints, limits, units, files."""

    def __init__(self, tools=("ip", "systemctl", "nft", "apt-get"), booted=True):
        self.tools = set(tools)
        self.files = {"/etc/os-release": DEBIAN, LIBRARY: "ELF", "/proc/sys/net/mptcp/enabled": "1\n",
                      "/proc/sys/net/mptcp/blackhole_timeout": "3600\n",
                      "/lib/systemd/system/aerospike.service": "[Service]\n"}
        self.proc_writable = True
        self.endpoints = []       # ip mptcp endpoint show lines
        self.batches = []         # the ip -batch inputs
        self.limits = {"subflows": 2, "add_addr_accepted": 0}
        self.services = {}        # unit -> {"enabled", "active", "pid"}
        self.maps = {}            # pid -> text of /proc/PID/maps
        self.nft_tables = []
        self.lo = []              # addresses on lo (CIDR), as the anchor's drop-in puts them there
        self.routes = []          # (destination, device)
        self.calls = []
        self.booted = booted
        self.fail = {}            # argv prefix (tuple) -> (rc, err)

    # -- host interface
    def which(self, name):
        return "/usr/sbin/" + name if name in self.tools else None

    def read(self, path):
        match = re.match(r"/proc/(\d+)/maps$", path)
        if match:
            return self.maps.get(int(match.group(1)))
        return self.files.get(path)

    def write(self, path, text, mode):
        self.calls.append(("write", path))
        if path.startswith("/proc/sys/") and not self.proc_writable:
            raise AssertionError("wrote a read-only sysctl")
        self.files[path] = text

    def remove(self, path):
        self.calls.append(("remove", path))
        self.files.pop(path, None)

    def exists(self, path):
        if path == "/run/systemd/system":
            return self.booted
        return path in self.files or any(name.startswith(path.rstrip("/") + "/") for name in self.files)

    def listdir(self, path):
        prefix = path.rstrip("/") + "/"
        return sorted(set(name[len(prefix):].split("/")[0] for name in self.files if name.startswith(prefix)))

    def writable(self, path):
        return self.proc_writable if path.startswith("/proc/sys/") else True

    def sha256(self, path):
        text = self.files.get(path)
        return None if text is None else hashlib.sha256(text.encode()).hexdigest()

    def install(self, src, path, mode):
        self.calls.append(("install", src, path))
        self.files[path] = self.files.pop(src)

    def run(self, argv, data=None):
        argv = list(argv)
        self.calls.append(tuple(argv))
        for prefix, outcome in self.fail.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return outcome[0], "", outcome[1]
        name = argv[0].rsplit("/", 1)[-1]
        return getattr(self, "_" + name.replace("-", "_"))(argv[1:], data)

    # -- tools
    def _ip(self, args, data):
        if args[:4] == ["-o", "address", "show", "dev"]:
            return 0, "".join("1: lo    inet %s scope global lo\n" % a for a in self.lo if a == args[-1]), ""
        if args[:2] == ["address", "del"]:
            self.lo.remove(args[2])
            return 0, "", ""
        if args[:3] == ["route", "show", "exact"]:
            return 0, "".join("%s dev %s scope link\n" % r for r in self.routes if r[0] == args[3]), ""
        if args[:2] == ["route", "del"]:
            self.routes = [r for r in self.routes if r[0] != args[2]]
            return 0, "", ""
        if args == ["mptcp", "endpoint", "show"]:
            return 0, "".join(line + "\n" for line in self.endpoints), ""
        if args == ["mptcp", "limits", "show"]:
            return 0, "add_addr_accepted %d subflows %d \n" % (self.limits["add_addr_accepted"], self.limits["subflows"]), ""
        if args[:3] == ["mptcp", "limits", "set"]:
            self.limits = {"subflows": int(args[4]), "add_addr_accepted": int(args[6])}
            return 0, "", ""
        if args == ["-batch", "-"]:
            self.batches.append(data)
            for line in data.splitlines():
                words = line.split()
                if words[:3] == ["mptcp", "endpoint", "delete"]:
                    self.endpoints = [e for e in self.endpoints if " id %s " % words[4] not in e + " "]
                elif words[:3] == ["mptcp", "endpoint", "add"]:
                    address, dev = words[3], words[5]
                    taken = set(int(e.split()[2]) for e in self.endpoints)
                    over = [e for e in self.endpoints if e.startswith(address + " ") and "rawflags 10" in e]
                    if over and "id" not in words:       # the kernel takes an implicit endpoint over, with its id
                        self.endpoints.remove(over[0])
                        taken.discard(int(over[0].split()[2]))
                        number = over[0].split()[2]
                    else:
                        number = words[words.index("id") + 1] if "id" in words else str(  # the kernel picks one
                            min(n for n in range(101, 256) if n not in taken))
                    assert not any(e.startswith(address + " ") or " id %s " % number in e for e in self.endpoints)
                    self.endpoints.append("%s id %s signal dev %s" % (address, number, dev))
                else:
                    raise AssertionError("unexpected batch line %r" % line)
            return 0, "", ""
        raise AssertionError("unexpected ip %r" % args)

    def _systemctl(self, args, data):
        if args[0] == "show" and args[1] == "--property=UnitFileState,ActiveState":
            unit = self.services.get(args[2], {})
            return 0, "UnitFileState=%s\nActiveState=%s\n" % (
                "enabled" if unit.get("enabled") else "disabled" if unit else "",
                "active" if unit.get("active") else "inactive"), ""
        if args[0] == "show":
            blocks = []
            for name in args[2:]:
                unit = self.services.get(name, {})
                blocks.append("Id=%s\nLoadState=loaded\nActiveState=%s\nMainPID=%d\n" % (
                    name, "active" if unit.get("active") else "inactive", unit.get("pid", 0)))
            return 0, "\n".join(blocks), ""
        unit = self.services.setdefault(args[-1], {}) if len(args) > 1 else None
        if args[0] == "enable":
            unit["enabled"] = True
        elif args[0] == "disable":
            unit["enabled"] = False
        elif args[0] in ("start", "restart"):
            unit["active"] = True
        elif args[0] == "stop":
            unit["active"] = False
        return 0, "", ""

    def _nft(self, args, data):
        if args == ["-c", "-f", "/dev/stdin"]:
            assert data.startswith("# clusterfabric.multilink fabric_mptcp")
            return 0, "", ""
        if args[:1] == ["-f"]:        # only our anchor script is loaded this way
            assert "table ip %s {" % mptcp_apply.ANCHOR_TABLE in self.files[args[1]]
            self.nft_tables = sorted(set(self.nft_tables) | {"ip " + mptcp_apply.ANCHOR_TABLE})
            return 0, "", ""
        if args[:2] == ["delete", "table"]:
            self.nft_tables.remove(" ".join(args[2:]))
            return 0, "", ""
        assert args == ["list", "tables"]
        return 0, "".join("table %s\n" % name for name in self.nft_tables), ""

    def _env(self, args, data):
        assert args[-2:] == ["--no-install-recommends", "mptcpize"]
        self.files[LIBRARY] = "ELF"
        return 0, "", ""

    @staticmethod
    def _rmdir(args, data):
        return 0, "", ""


def converge(host, state="present", check_mode=False, **options):
    options.setdefault("services", [ASD])
    rendered = options.pop("rendered", RENDERED if state == "present" else {"host": "n1"})
    return mptcp_apply.converge(host, state, rendered, check_mode=check_mode, **options)


def changes(host):
    return [call for call in host.calls if call[0] in ("write", "remove", "install") or
            (call[0].endswith("/ip") and call[1] in ("-batch",)) or call[1:3] == ("mptcp", "limits")
            and call[3] == "set" or call[0].endswith("systemctl") and call[1] not in ("show",)]


# ---------------------------------------------------------------------------- present
def test_a_fresh_host_gets_everything_then_a_second_run_changes_nothing():
    host = FakeHost()
    first = converge(host)
    assert first["changed"] and first["library"] == LIBRARY and first["restart"] == []
    assert host.endpoints == ["198.18.0.11 id 101 signal dev eth0", "198.18.1.11 id 102 signal dev eth1"]
    assert host.limits == {"subflows": 8, "add_addr_accepted": 8}
    assert host.files["/proc/sys/net/mptcp/blackhole_timeout"] == "0\n"
    assert host.files[mptcp_apply.SYSCTL_FILE].endswith("net.mptcp.enabled = 1\nnet.mptcp.blackhole_timeout = 0\n")
    assert host.services[mptcp_apply.UNIT]["enabled"]
    assert ("/usr/sbin/systemctl", "daemon-reload") in host.calls
    headers = [d["before_header"] for d in first["diff"]]
    assert "mptcp endpoints (live)" in headers and "mptcp limits (live)" in headers and DROPIN in headers
    host.calls = []
    second = converge(host)
    assert not second["changed"] and second["diff"] == [] and changes(host) == []


def test_sysctls_are_written_only_where_they_differ():
    host = FakeHost()
    host.files["/proc/sys/net/mptcp/blackhole_timeout"] = "0\n"
    converge(host)
    assert not any(call[0] == "write" and call[1].startswith("/proc/sys/") for call in host.calls)
    host = FakeHost()
    host.files["/proc/sys/net/mptcp/enabled"] = "0\n"
    result = converge(host)
    assert ("write", "/proc/sys/net/mptcp/enabled") in host.calls and host.files["/proc/sys/net/mptcp/enabled"] == "1\n"
    assert {"before_header": "net.mptcp.enabled (live)", "after_header": "net.mptcp.enabled (live)",
            "before": "net.mptcp.enabled = 0\n", "after": "net.mptcp.enabled = 1\n"} in result["diff"]


def test_a_kernel_without_blackhole_timeout_gets_only_enabled():
    host = FakeHost()
    del host.files["/proc/sys/net/mptcp/blackhole_timeout"]
    converge(host)
    assert "net.mptcp.blackhole_timeout =" not in host.files[mptcp_apply.SYSCTL_FILE]
    assert "net.mptcp.enabled = 1" in host.files[mptcp_apply.SYSCTL_FILE]


def test_a_read_only_proc_sys_with_the_right_values_is_fine():
    host = FakeHost()
    host.proc_writable = False
    host.files["/proc/sys/net/mptcp/blackhole_timeout"] = "0\n"
    assert converge(host)["changed"]


def test_a_read_only_proc_sys_with_a_wrong_value_fails_before_anything_changes():
    host = FakeHost()
    host.proc_writable = False
    with pytest.raises(FabricError, match=r"host n1: net.mptcp.blackhole_timeout is 3600 and must be 0, but "
                                          r"/proc/sys/net/mptcp/blackhole_timeout is read-only here \(a container\?\): "
                                          r"set it where the network namespace is made \(podman run --sysctl "
                                          r"net.mptcp.blackhole_timeout=0\)"):
        converge(host)
    assert changes(host) == [] and host.endpoints == []


def test_a_kernel_without_mptcp_is_refused_with_a_clear_message():
    host = FakeHost()
    for name in list(host.files):
        if name.startswith("/proc/sys/net/mptcp"):
            del host.files[name]
    with pytest.raises(FabricError, match=r"host n1: fabric_strategy mptcp: this kernel has no Multipath TCP "
                                          r"\(/proc/sys/net/mptcp is missing\); it needs CONFIG_MPTCP"):
        converge(host)
    assert host.calls == []


def test_foreign_endpoints_stay_and_one_on_our_address_is_replaced():
    host = FakeHost()
    host.endpoints = ["10.0.0.5 id 1 subflow dev eth9", "198.18.0.11 id 7 signal dev eth0",
                      "198.18.1.11 id 102 signal dev eth1", "198.18.5.11 id 105 signal dev eth5"]
    result = converge(host)
    assert sorted(host.endpoints) == ["10.0.0.5 id 1 subflow dev eth9", "198.18.0.11 id 101 signal dev eth0",
                                      "198.18.1.11 id 102 signal dev eth1"]
    diff = [d for d in result["diff"] if d["before_header"] == "mptcp endpoints (live)"][0]
    assert "198.18.0.11 id 7 signal dev eth0" in diff["before"] and "id 105" in diff["before"]
    assert "10.0.0.5" not in diff["before"]
    # the endpoint in place (id 102) was neither deleted nor added again
    batch = [call for call in host.calls if call[1:2] == ("-batch",)]
    assert len(batch) == 1


def test_ours_under_the_id_of_an_implicit_endpoint_the_watchdog_took_over_stays_and_goes_with_absent():
    host = FakeHost()
    converge(host)
    host.endpoints[1] = "198.18.1.11 id 103 signal dev eth1"      # linkwatch's re-add over an implicit one
    host.calls = []
    assert not converge(host)["changed"] and changes(host) == []
    host.endpoints = ["198.18.0.11 id 102 signal dev eth0"]          # fab0's took id 102 over; fab1's is gone
    host.calls = []
    assert converge(host)["changed"]
    assert sorted(host.endpoints) == ["198.18.0.11 id 102 signal dev eth0", "198.18.1.11 id 101 signal dev eth1"]
    host.endpoints = ["198.18.0.11 id 101 signal dev eth0", "198.18.1.11 id 103 signal dev eth1",
                      "10.0.0.5 id 120 signal dev eth9"]
    converge(host, state="absent")
    assert host.endpoints == ["10.0.0.5 id 120 signal dev eth9"]


def test_an_implicit_endpoint_on_our_address_is_taken_over_not_deleted():
    host = FakeHost()
    converge(host)
    host.endpoints[1] = "198.18.1.11 id 102 rawflags 10 "           # the watchdog is between its delete and add
    host.calls = []
    result = converge(host)
    assert result["changed"] and host.endpoints[-1] == "198.18.1.11 id 102 signal dev eth1"
    assert host.batches[-1] == "mptcp endpoint add 198.18.1.11 dev eth1 signal\n"       # no delete: its joins stay
    assert not converge(host)["changed"]
    assert mptcp_apply.parse_endpoints("198.18.1.11 id 104 rawflags 10 \n198.18.2.11 id 105 rawflags 2 \n") == [
        {"address": "198.18.1.11", "id": 104, "flags": ["implicit"], "dev": None},
        {"address": "198.18.2.11", "id": 105, "flags": [], "dev": None}]


def test_an_endpoint_with_other_flags_or_device_is_set_again():
    host = FakeHost()
    converge(host)
    host.endpoints[1] = "198.18.1.11 id 102 signal fullmesh dev eth1"
    host.calls = []
    assert converge(host)["changed"]
    assert host.endpoints[-1] == "198.18.1.11 id 102 signal dev eth1"


def test_the_drop_in_names_the_library_and_orders_after_the_boot_unit():
    host = FakeHost()
    converge(host)
    text = host.files[DROPIN]
    assert "[Unit]\nWants=clusterfabric-mptcp.service\nAfter=clusterfabric-mptcp.service\n" in text
    assert "[Service]\nEnvironment=LD_PRELOAD=%s\n" % LIBRARY in text
    assert DROPIN == "/etc/systemd/system/aerospike.service.d/50-clusterfabric-mptcp.conf"


def test_the_boot_unit_sets_limits_and_endpoints_before_the_wrapped_services():
    host = FakeHost()
    converge(host, services=[ASD, "valkey.service"])
    unit = host.files[mptcp_apply.UNIT_PATH]
    assert "\nBefore=aerospike.service valkey.service\n" in unit
    assert "\nType=oneshot\nRemainAfterExit=yes\n" in unit
    lines = [line for line in unit.splitlines() if line.startswith("Exec")]
    assert lines == ["ExecStartPre=-/usr/sbin/ip mptcp endpoint delete id 101",
                     "ExecStartPre=-/usr/sbin/ip mptcp endpoint delete id 102",
                     "ExecStart=/usr/sbin/ip mptcp limits set subflows 8 add_addr_accepted 8",
                     "ExecStart=/usr/sbin/ip mptcp endpoint add 198.18.0.11 dev eth0 signal id 101",
                     "ExecStart=/usr/sbin/ip mptcp endpoint add 198.18.1.11 dev eth1 signal id 102"]
    assert "\n[Install]\nWantedBy=multi-user.target\n" in unit
    assert sorted(name for name in host.files if name.endswith(mptcp_apply.DROPIN)) == [
        DROPIN, mptcp_apply.dropin_path("valkey.service")]


def test_a_service_no_longer_listed_loses_its_drop_in():
    host = FakeHost()
    converge(host, services=[ASD, "valkey.service"])
    host.files["/etc/systemd/system/valkey.service.d/10-mine.conf"] = "[Service]\n"
    result = converge(host)
    assert mptcp_apply.dropin_path("valkey.service") not in host.files and DROPIN in host.files
    assert "/etc/systemd/system/valkey.service.d/10-mine.conf" in host.files
    assert "Before=aerospike.service\n" in host.files[mptcp_apply.UNIT_PATH] and result["changed"]


def test_a_running_service_without_the_library_is_reported_for_a_restart():
    host = FakeHost()
    host.services[ASD] = {"enabled": True, "active": True, "pid": 42}
    host.maps[42] = "7f00 r-xp /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    result = converge(host)
    assert result["restart"] == [ASD]
    assert any("aerospike.service runs without Multipath TCP until it restarts" in w for w in result["warnings"])
    host.maps[42] += "7f01 r-xp %s\n" % LIBRARY
    result = converge(host)
    assert result["restart"] == [] and not result["changed"]


def test_a_stopped_service_is_not_reported():
    host = FakeHost()
    host.services[ASD] = {"enabled": True, "active": False}
    assert converge(host)["restart"] == []


def test_check_mode_reports_the_diff_and_changes_nothing():
    host = FakeHost()
    host.files["/proc/sys/net/mptcp/enabled"] = "0\n"
    result = converge(host, check_mode=True)
    assert result["changed"] and result["diff"]
    assert changes(host) == [] and host.endpoints == [] and host.limits == {"subflows": 2, "add_addr_accepted": 0}
    assert host.files["/proc/sys/net/mptcp/enabled"] == "0\n" and DROPIN not in host.files
    headers = [d["before_header"] for d in result["diff"]]
    assert mptcp_apply.SYSCTL_FILE in headers and mptcp_apply.UNIT_PATH in headers and DROPIN in headers


def test_check_mode_still_fails_on_a_read_only_proc_sys():
    host = FakeHost()
    host.proc_writable = False
    with pytest.raises(FabricError, match="read-only here"):
        converge(host, check_mode=True)


# ---------------------------------------------------------------------------- library and package
def test_a_missing_library_installs_the_package_without_recommends():
    host = FakeHost()
    del host.files[LIBRARY]
    result = converge(host)
    assert ("env", "DEBIAN_FRONTEND=noninteractive", "/usr/sbin/apt-get", "install", "-y", "--no-install-recommends",
            "mptcpize") in host.calls
    assert result["library"] == LIBRARY and "LD_PRELOAD=%s" % LIBRARY in host.files[DROPIN]
    host.calls = []
    assert not converge(host)["changed"]
    assert not any(call[0] == "env" for call in host.calls)


def test_a_missing_library_without_install_packages_names_the_package():
    host = FakeHost()
    del host.files[LIBRARY]
    with pytest.raises(FabricError, match=r"host n1: the mptcpize wrapper library is missing \(looked in "
                                          r"/usr/lib/x86_64-linux-gnu/mptcpize\) and fabric_mptcp_install_packages is "
                                          r"false: install package mptcpize without recommends"):
        converge(host, install_packages=False)
    assert changes(host) == []


def test_a_given_library_path_must_exist():
    host = FakeHost()
    with pytest.raises(FabricError, match=r"fabric_mptcp_library /opt/lib/libmptcpwrap.so does not exist and "
                                          r"fabric_mptcp_install_packages is false"):
        converge(host, library="/opt/lib/libmptcpwrap.so", install_packages=False)
    host.files["/opt/lib/libmptcpwrap.so"] = "ELF"
    assert converge(host, library="/opt/lib/libmptcpwrap.so")["library"] == "/opt/lib/libmptcpwrap.so"


def test_rhel_looks_in_lib64_and_installs_mptcpd():
    host = FakeHost(tools=("ip", "systemctl", "dnf"))
    del host.files[LIBRARY]
    host.files["/etc/os-release"] = 'ID="rhel"\nID_LIKE="fedora"\n'
    host.files["/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"] = "ELF"
    assert converge(host)["library"] == "/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"
    del host.files["/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"]
    with pytest.raises(FabricError, match=r"install package mptcpd, or set"):
        converge(host, install_packages=False)


def test_an_unknown_os_needs_the_library_path():
    host = FakeHost()
    del host.files[LIBRARY]
    host.files["/etc/os-release"] = "ID=alpine\n"
    with pytest.raises(FabricError, match=r"neither Debian nor RHEL .* set fabric_mptcp_library"):
        converge(host)


def test_a_running_mptcpd_is_stopped_and_disabled():
    host = FakeHost()
    host.services[mptcp_apply.MPTCPD_UNIT] = {"enabled": True, "active": True}
    result = converge(host)
    assert host.services[mptcp_apply.MPTCPD_UNIT] == {"enabled": False, "active": False}
    assert any(d["before_header"].startswith("mptcp.service") for d in result["diff"])


def test_a_missing_ip_command_names_the_package():
    host = FakeHost(tools=("systemctl",))
    with pytest.raises(FabricError, match="MPTCP endpoints: the ip command is missing on this host; install the "
                                          "Debian package iproute2"):
        converge(host)


# ---------------------------------------------------------------------------- the nat role's rules
def test_the_nat_roles_object_names_are_the_ones_nat_apply_owns():
    assert mptcp_apply.NAT_TABLE == nat_apply.TABLE
    for path in mptcp_apply.NAT_FILES:
        assert path in (nat_apply.UNIT_PATH, nat_apply.NFT_FILE, nat_apply.IPT_FILES["ipv4"], nat_apply.IPT_FILES["ipv6"])


def test_nat_rules_on_the_host_are_refused_before_anything_changes():
    host = FakeHost()
    host.nft_tables = ["inet filter", "ip clusterfabric_multilink"]
    with pytest.raises(FabricError, match=r"host n1: fabric_strategy mptcp cannot work with the nat role's NAT rules "
                                          r"on this host \(nft table clusterfabric_multilink\)"):
        converge(host)
    assert changes(host) == []
    host.nft_tables = []
    host.files[nat_apply.NFT_FILE] = "table ip clusterfabric_multilink {}\n"
    with pytest.raises(FabricError, match=r"Put nat in fabric_roles"):
        converge(host, nat_first=True)


def test_in_check_mode_the_nat_role_before_it_turns_the_error_into_a_warning():
    host = FakeHost()
    host.nft_tables = ["ip clusterfabric_multilink"]
    result = converge(host, check_mode=True, nat_first=True)
    assert any("check mode: the nat role, run before this one, removes them" in w for w in result["warnings"])
    with pytest.raises(FabricError, match="cannot work with the nat role's NAT rules"):
        converge(host, check_mode=True, nat_first=False)


# ---------------------------------------------------------------------------- absent
def test_absent_removes_everything_and_puts_the_kernel_limits_back():
    host = FakeHost()
    host.endpoints = ["10.0.0.5 id 1 subflow dev eth9"]
    converge(host, services=[ASD, "valkey.service"])
    host.calls = []
    result = converge(host, state="absent")
    assert result["changed"] and result["library"] is None
    assert host.endpoints == ["10.0.0.5 id 1 subflow dev eth9"]
    assert host.limits == mptcp_apply.KERNEL_LIMITS
    for path in (mptcp_apply.SYSCTL_FILE, mptcp_apply.UNIT_PATH, DROPIN, mptcp_apply.dropin_path("valkey.service")):
        assert path not in host.files, path
    assert not host.services[mptcp_apply.UNIT]["enabled"]
    # the live sysctls stay: a service still running with the library needs net.mptcp.enabled=1
    assert not any(call[0] == "write" and call[1].startswith("/proc/sys/") for call in host.calls)
    host.calls = []
    again = converge(host, state="absent")
    assert not again["changed"] and changes(host) == []


def test_absent_leaves_limits_someone_changed_since():
    host = FakeHost()
    converge(host)
    host.limits = {"subflows": 4, "add_addr_accepted": 4}
    converge(host, state="absent")
    assert host.limits == {"subflows": 4, "add_addr_accepted": 4}


def test_absent_reports_a_running_service_that_still_has_the_library():
    host = FakeHost()
    converge(host)
    host.services[ASD] = {"enabled": True, "active": True, "pid": 9}
    host.maps[9] = "7f00 r-xp %s\n" % LIBRARY
    assert converge(host, state="absent")["restart"] == [ASD]


def test_absent_on_a_kernel_without_mptcp_removes_the_files_only():
    host = FakeHost()
    converge(host)
    for name in list(host.files):
        if name.startswith("/proc/sys/net/mptcp"):
            del host.files[name]
    host.calls = []
    converge(host, state="absent")
    assert mptcp_apply.UNIT_PATH not in host.files and not any(call[0].endswith("/ip") for call in host.calls)


def test_absent_in_check_mode_changes_nothing():
    host = FakeHost()
    converge(host)
    before = dict(host.files), list(host.endpoints)
    host.calls = []
    result = converge(host, state="absent", check_mode=True)
    assert result["changed"] and (dict(host.files), list(host.endpoints)) == before and changes(host) == []


# ---------------------------------------------------------------------------- staging root and watchdog
def test_without_live_only_the_files_are_written():
    host = FakeHost()
    result = converge(host, live=False)
    assert result["changed"] and DROPIN in host.files and mptcp_apply.UNIT_PATH in host.files
    assert not any(call[0].endswith(("/ip", "/systemctl", "/nft")) for call in host.calls)
    # no ip found: the unit names the usual path
    assert "ExecStart=/usr/sbin/ip mptcp limits set" in host.files[mptcp_apply.UNIT_PATH]


def test_the_watchdog_is_installed_last_and_removed_first():
    host = FakeHost()
    host.files["/tmp/sent/linkwatch.py"] = "program\n"
    digest = hashlib.sha256(b"program\n").hexdigest()
    watchdog = {"state": "present", "config": '{"kind": "mptcp"}\n', "unit": "[Unit]\n",
                "program": {"sha256": digest, "src": "/tmp/sent/linkwatch.py"}}
    converge(host, watchdog=watchdog)
    assert host.files[nat_watchdog.WATCHDOG_CONFIG] == '{"kind": "mptcp"}\n'
    assert host.services[nat_watchdog.WATCHDOG_UNIT] == {"enabled": True, "active": True}
    order = [call for call in host.calls if call[0] in ("write", "install") or call[1:2] == ("-batch",)]
    assert order[0][1] == "-batch" or order.index(("install", "/tmp/sent/linkwatch.py", nat_watchdog.WATCHDOG_PROGRAM)) \
        > [i for i, call in enumerate(order) if call[1:2] == ("-batch",)][0]
    host.calls = []
    converge(host, state="absent", watchdog={"state": "absent"})
    assert nat_watchdog.WATCHDOG_CONFIG not in host.files and nat_watchdog.WATCHDOG_PROGRAM not in host.files
    stop = host.calls.index(("/usr/sbin/systemctl", "stop", nat_watchdog.WATCHDOG_UNIT))
    batch = [i for i, call in enumerate(host.calls) if call[1:2] == ("-batch",)][0]
    assert stop < batch


def test_no_watchdog_argument_leaves_it_alone():
    host = FakeHost()
    host.files[nat_watchdog.WATCHDOG_CONFIG] = "{}\n"
    converge(host)
    converge(host, state="absent")
    assert host.files[nat_watchdog.WATCHDOG_CONFIG] == "{}\n"


# ---------------------------------------------------------------------------- parsers
def test_parse_endpoints_and_limits():
    text = ("198.18.0.11 id 101 signal dev eth0 \n198.18.1.11 port 5 id 102 signal backup dev eth1\n"
            "fd00::1 id 3 subflow fullmesh \nnonsense\n")
    assert mptcp_apply.parse_endpoints(text) == [
        {"address": "198.18.0.11", "id": 101, "flags": ["signal"], "dev": "eth0"},
        {"address": "198.18.1.11", "id": 102, "flags": ["backup", "signal"], "dev": "eth1"},
        {"address": "fd00::1", "id": 3, "flags": ["fullmesh", "subflow"], "dev": None}]
    assert mptcp_apply.parse_limits("add_addr_accepted 1 subflows 3 \n") == {"subflows": 3, "add_addr_accepted": 1}
    assert mptcp_apply.parse_limits("") == {}


@pytest.mark.parametrize("text, family", [
    ("ID=debian\n", "debian"), ('ID=ubuntu\nID_LIKE="debian"\n', "debian"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "redhat"), ("ID=arch\n", None), (None, None)])
def test_os_family(text, family):
    assert mptcp_apply.os_family(text) == family


# ---------------------------------------------------------------------------- anchor placement
ANCHORS = {"n1": "198.18.9.11", "n2": "198.18.9.12"}
ANCHOR_MODEL = mptcp_plan.build(PLAN, "n1", DEVICES, [3001], anchors=ANCHORS, anchor_subnet="198.18.9.0/24")
ANCHOR_RENDERED = dict(RENDERED, anchor={"address": "198.18.9.11", "subnet": "198.18.9.0/24", "device": "eth0",
                                         "nft": mptcp_plan.render_anchor_nft(ANCHOR_MODEL), "service": ASD})


def start_with_anchor(host):
    """What the drop-in's ExecStartPre lines do when the service starts."""
    host.lo.append("198.18.9.11/32")
    host.routes.append(("198.18.9.0/24", "eth0"))
    host.nft_tables.append("ip " + mptcp_apply.ANCHOR_TABLE)
    host.services[ASD] = {"active": True, "pid": 42}
    host.maps[42] = LIBRARY


def test_the_anchor_is_loaded_by_the_servers_drop_in_not_at_once():
    host = FakeHost()
    host.services[ASD] = {"active": True, "pid": 42}
    host.maps[42] = LIBRARY
    result = converge(host, rendered=ANCHOR_RENDERED)
    text = host.files[DROPIN]
    assert "ExecStartPre=+/usr/sbin/ip address replace 198.18.9.11/32 dev lo\n" in text
    assert "ExecStartPre=+/usr/sbin/ip route replace 198.18.9.0/24 dev eth0\n" in text
    assert "ExecStartPre=+/usr/sbin/nft -f %s\n" % mptcp_apply.ANCHOR_NFT in text
    assert host.files[mptcp_apply.ANCHOR_NFT] == ANCHOR_RENDERED["anchor"]["nft"]
    # the running server does not listen on its anchor yet: nothing live, a restart is due
    assert host.nft_tables == [] and not any(call[1:2] == ("-f",) for call in host.calls if len(call) > 1)
    assert result["restart"] == [ASD]
    assert any("aerospike.service runs with its old drop-in until it restarts (the anchor placement" in w
               for w in result["warnings"]), result["warnings"]
    start_with_anchor(host)
    host.calls = []
    again = converge(host, rendered=ANCHOR_RENDERED)
    assert not again["changed"] and changes(host) == [] and again["restart"] == []


def test_a_new_peer_is_loaded_at_once_where_the_table_is_in_place():
    host = FakeHost()
    converge(host, rendered=ANCHOR_RENDERED)
    start_with_anchor(host)
    plan = plan_addresses({"n1": 1, "n2": 2, "n3": 3}, LINKS)
    model = mptcp_plan.build(plan, "n1", DEVICES, [3001], anchors=dict(ANCHORS, n3="198.18.9.13"),
                             anchor_subnet="198.18.9.0/24")
    rendered = dict(ANCHOR_RENDERED, anchor=dict(ANCHOR_RENDERED["anchor"], nft=mptcp_plan.render_anchor_nft(model)))
    host.calls = []
    result = converge(host, rendered=rendered)
    assert result["changed"] and result["restart"] == []
    assert ("/usr/sbin/nft", "-f", mptcp_apply.ANCHOR_NFT) in host.calls
    assert "198.18.9.13 . 3001 : goto peer_n3" in host.files[mptcp_apply.ANCHOR_NFT]


def test_check_mode_shows_the_anchor_and_changes_nothing():
    host = FakeHost()
    result = converge(host, rendered=ANCHOR_RENDERED, check_mode=True)
    assert result["changed"] and mptcp_apply.ANCHOR_NFT in [d["before_header"] for d in result["diff"]]
    assert mptcp_apply.ANCHOR_NFT not in host.files and changes(host) == []


def test_a_script_nft_refuses_fails_before_anything_changes():
    host = FakeHost()
    host.fail[("/usr/sbin/nft", "-c")] = (1, "Error: syntax error")
    with pytest.raises(FabricError, match="nft -c"):
        converge(host, rendered=ANCHOR_RENDERED)
    assert changes(host) == []


def test_the_anchor_service_must_be_wrapped():
    host = FakeHost()
    rendered = dict(ANCHOR_RENDERED, anchor=dict(ANCHOR_RENDERED["anchor"], service="valkey.service"))
    with pytest.raises(FabricError, match="valkey.service, which is not one of the services"):
        converge(host, rendered=rendered)
    assert changes(host) == []


def test_the_anchor_needs_nft():
    host = FakeHost(tools=("ip", "systemctl", "apt-get"))
    with pytest.raises(FabricError, match=r"anchor placement \(fabric_mptcp_anchor_subnet\): the nft command is missing.*nftables"):
        converge(host, rendered=ANCHOR_RENDERED)


@pytest.mark.parametrize("state", ["present", "absent"])
def test_without_the_anchor_the_script_table_address_and_route_go(state):
    host = FakeHost()
    converge(host, rendered=ANCHOR_RENDERED)
    start_with_anchor(host)
    host.lo.append("127.0.0.2/32")
    host.calls = []
    result = converge(host, state=state, rendered=RENDERED if state == "present" else {"host": "n1"})
    assert result["changed"] and result["restart"] == [ASD]
    assert mptcp_apply.ANCHOR_NFT not in host.files and host.nft_tables == []
    assert host.lo == ["127.0.0.2/32"] and host.routes == []
    assert "ExecStartPre" not in host.files.get(DROPIN, "")
    host.calls = []
    again = converge(host, state=state, rendered=RENDERED if state == "present" else {"host": "n1"})
    assert not again["changed"] and changes(host) == []


def test_a_changed_anchor_takes_the_old_address_and_route_away_and_keeps_the_table():
    host = FakeHost()
    converge(host, rendered=ANCHOR_RENDERED)
    start_with_anchor(host)
    moved = dict(ANCHOR_RENDERED["anchor"], address="198.18.8.11", subnet="198.18.8.0/24")
    result = converge(host, rendered=dict(ANCHOR_RENDERED, anchor=moved))
    assert result["restart"] == [ASD] and "198.18.8.11/32" in host.files[DROPIN]
    assert host.lo == [] and host.routes == [] and host.nft_tables == ["ip " + mptcp_apply.ANCHOR_TABLE]
    # the rules for the new anchor wait for the restart that binds it
    assert not any(call[1:2] == ("-f",) for call in host.calls if len(call) > 1)
