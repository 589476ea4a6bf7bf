# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Multipath TCP on a host: read the current state, compare, validate, then apply.

What the fabric_mptcp module runs on the node (standard library only). The endpoints, limits
and the link watchdog's configuration arrive computed by the module's action plugin
(plugin_utils/mptcp_plan.py, on the controller); this file owns the names of the objects it
manages on the host:

- /etc/sysctl.d/90-clusterfabric-mptcp.conf: net.mptcp.enabled = 1 (RHEL 9 ships 0) and
  net.mptcp.blackhole_timeout = 0 where the kernel has it; the live values are written only
  where they differ (inside a container /proc/sys is read-only: then a clear error);
- the MPTCP endpoints with ids ENDPOINT_ID_BASE+1 .. +MAX_ENDPOINTS (``signal``, with ``dev``;
  an endpoint of anyone else that holds one of these addresses is replaced) and the limits;
- clusterfabric-mptcp.service, a oneshot unit that sets the endpoints and limits at boot,
  ordered before the wrapped services;
- a drop-in 50-clusterfabric-mptcp.conf per wrapped service with LD_PRELOAD=<the mptcpize
  library>, which turns the service's TCP sockets into MPTCP sockets;
- the package with that library (Debian mptcpize without recommends, RHEL mptcpd) when asked,
  and mptcpd's own service (mptcp.service) stopped and disabled;
- the link watchdog in MPTCP mode when this role owns it (nat_watchdog.py).

No Ansible import: every system access goes through a *host* object with

  which(name) -> path or None      run(argv, data=None) -> (rc, stdout, stderr)
  read(path) -> text or None       write(path, text, mode)      remove(path)
  exists(path) -> bool             listdir(path) -> [names]     writable(path) -> bool
  sha256(path) -> hex or None      install(src, path, mode)

(the module passes one backed by AnsibleModule, optionally under a staging root; the unit tests
a fake; the network-namespace test one that runs the commands in the namespace). The whole
change is computed and validated before anything is touched; check mode stops there.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError
from ansible_collections.clusterfabric.multilink.plugins.module_utils.node_tools import Tools
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_watchdog

ENDPOINT_ID_BASE = 100
MAX_ENDPOINTS = 8
OUR_IDS = range(ENDPOINT_ID_BASE + 1, ENDPOINT_ID_BASE + MAX_ENDPOINTS + 1)
PROC_MPTCP = "/proc/sys/net/mptcp"
IMPLICIT_FLAG = 0x10  # MPTCP_PM_ADDR_FLAG_IMPLICIT: the kernel's endpoint for a subflow on an address without one
# (sysctl, wanted value, required): blackhole_timeout only where the kernel has it (>= 6.12)
SYSCTLS = (("net.mptcp.enabled", "1", True), ("net.mptcp.blackhole_timeout", "0", False))
SYSCTL_FILE = "/etc/sysctl.d/90-clusterfabric-mptcp.conf"
UNIT = "clusterfabric-mptcp.service"
UNIT_DIR = "/etc/systemd/system"
UNIT_PATH = UNIT_DIR + "/" + UNIT
DROPIN = "50-clusterfabric-mptcp.conf"
MPTCPD_UNIT = "mptcp.service"
KERNEL_LIMITS = {"subflows": 2, "add_addr_accepted": 0}
# The anchor placement (docs/mptcp.md#placing-each-connection-fabric_mptcp_anchor_subnet): its nft
# table and script, loaded by the drop-in of the service that binds the anchor when it starts.
ANCHOR_TABLE = "clusterfabric_mptcp"
ANCHOR_NFT = "/etc/clusterfabric-multilink/mptcp-anchor.nft"
_ANCHOR_ADDRESS_RE = re.compile(r"^ExecStartPre=\+(\S+) address replace (\S+) dev lo$", re.M)
_ANCHOR_ROUTE_RE = re.compile(r"^ExecStartPre=\+(\S+) route replace (\S+) dev (\S+)$", re.M)
DOCS_URL = "https://github.com/clusterfabric/multilink/blob/main/docs/mptcp.md"
# The nat role's objects (module_utils/nat_apply.py owns them; a unit test keeps the names equal):
# NAT rotation and MPTCP exclude each other.
NAT_TABLE = "clusterfabric_multilink"
NAT_FILES = ("/etc/systemd/system/clusterfabric-multilink-nat.service", "/etc/clusterfabric-multilink/nat.nft",
             "/etc/clusterfabric-multilink/nat.rules", "/etc/clusterfabric-multilink/nat6.rules")
# The package with mptcpize's LD_PRELOAD library, and where it puts it, per OS family.
PACKAGES = {"debian": "mptcpize", "redhat": "mptcpd"}
LIBRARY = "libmptcpwrap.so.0.0.1"
LIBRARY_DIRS = {"debian": ("/usr/lib/{triplet}/mptcpize",), "redhat": ("/usr/lib64/mptcpize", "/usr/lib/mptcpize")}
TRIPLETS = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu", "ppc64le": "powerpc64le-linux-gnu",
            "s390x": "s390x-linux-gnu", "armv7l": "arm-linux-gnueabihf", "i686": "i386-linux-gnu"}
TOOL_PACKAGES = {"ip": "iproute2", "nft": "nftables", "systemctl": "systemd", "apt-get": "apt", "dnf": "dnf"}

# The fabric_mptcp module's options; the action plugin validates a task against the same spec.
OPTIONS = {
    "plan": {"type": "dict"},
    "node": {"type": "str"},
    "links": {"type": "list", "elements": "dict"},
    "ports": {"type": "list", "elements": "int", "default": [3001]},
    "model": {"type": "dict"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "services": {"type": "list", "elements": "str", "default": ["aerospike.service"]},
    "library": {"type": "str", "default": ""},
    "install_packages": {"type": "bool", "default": True},
    "nat_first": {"type": "bool", "default": False},
    "watchdog": {"type": "bool", "default": False},
    "watchdog_settings": {"type": "dict"},
    "leave_watchdog": {"type": "bool", "default": False},
    "root": {"type": "str", "default": ""},
    "anchor_service": {"type": "str"},
    "apply": {"type": "bool", "default": True},
    "rendered": {"type": "dict"},
}
# Options that describe the endpoints; a precomputed model replaces them.
MODEL_OPTIONS = ("plan", "node", "links", "ports")
_LIMITS_RE = re.compile(r"ExecStart=\S+ mptcp limits set subflows (\d+) add_addr_accepted (\d+)$", re.M)


class Change(object):
    """Diffs, validations and actions collected first, run only when everything validated."""

    def __init__(self):
        self.diff = []
        self.validations = []
        self.actions = []

    def add(self, header, before, after, actions, validations=()):
        if before != after:
            self.diff.append({"before_header": header, "after_header": header, "before": before, "after": after})
        self.validations += list(validations)
        self.actions += list(actions)

    @property
    def changed(self):
        return bool(self.actions)


# ---------------------------------------------------------------------------- parsing
def parse_endpoints(text):
    """[{id, address, flags (sorted), dev}] of ``ip mptcp endpoint show`` lines such as
    ``198.18.0.11 id 101 signal dev eth0`` (``port N`` and other words are kept out)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or "id" not in fields:
            continue
        entry = {"address": fields[0], "id": None, "flags": [], "dev": None}
        index = 1
        while index < len(fields):
            word = fields[index]
            if word in ("id", "dev", "port", "rawflags") and index + 1 < len(fields):
                if word == "id" and fields[index + 1].isdigit():
                    entry["id"] = int(fields[index + 1])
                elif word == "dev":
                    entry["dev"] = fields[index + 1]
                elif word == "rawflags" and re.match(r"^[0-9a-fA-F]+$", fields[index + 1]) \
                        and int(fields[index + 1], 16) & IMPLICIT_FLAG:
                    entry["flags"].append("implicit")   # an older iproute2 prints the kernel's flag as a number
                index += 2
                continue
            entry["flags"].append(word)
            index += 1
        entry["flags"].sort()
        if entry["id"] is not None:
            out.append(entry)
    return out


def parse_limits(text):
    """{subflows, add_addr_accepted} of ``ip mptcp limits show`` (``add_addr_accepted 1 subflows 1``)."""
    fields = text.split()
    out = {}
    for name in ("subflows", "add_addr_accepted"):
        if name in fields[:-1] and fields[fields.index(name) + 1].isdigit():
            out[name] = int(fields[fields.index(name) + 1])
    return out


def endpoint_line(entry):
    return "%s id %d %s dev %s" % (entry["address"], entry["id"], " ".join(entry["flags"]), entry["dev"])


def os_family(text):
    """debian, redhat or None from /etc/os-release (ID and ID_LIKE)."""
    words = []
    for line in (text or "").splitlines():
        name, equals, value = line.partition("=")
        if equals and name.strip() in ("ID", "ID_LIKE"):
            words += value.strip().strip("\"'").lower().split()
    if any(word in ("debian", "ubuntu") for word in words):
        return "debian"
    if any(word in ("rhel", "fedora", "centos", "rocky", "almalinux") for word in words):
        return "redhat"
    return None


def library_dirs(family, machine):
    return [directory.format(triplet=TRIPLETS.get(machine, "%s-linux-gnu" % machine))
            for directory in LIBRARY_DIRS.get(family, ())]


# ---------------------------------------------------------------------------- renderers
def sysctl_text(names):
    lines = ["# clusterfabric.multilink fabric_mptcp: Multipath TCP on (RHEL 9 ships it off), and never turned",
             "# off for the whole network namespace after dropped MPTCP SYNs (blackhole_timeout, kernel >= 6.12).",
             "# Generated file; changes are overwritten. See docs/mptcp.md of the collection."]
    lines += ["%s = %s" % (name, value) for name, value, dummy in SYSCTLS if name in names]
    return "\n".join(lines) + "\n"


def unit_text(ip, endpoints, limits, services):
    lines = ["# clusterfabric.multilink fabric_mptcp: this node's MPTCP endpoints and limits, set at boot before",
             "# the services that open MPTCP sockets. Generated file; changes are overwritten.",
             "[Unit]",
             "Description=clusterfabric.multilink MPTCP endpoints and limits",
             "Documentation=%s" % DOCS_URL,
             "After=network.target systemd-sysctl.service"]
    if services:
        lines.append("Before=%s" % " ".join(services))
    lines += ["", "[Service]", "Type=oneshot", "RemainAfterExit=yes"]
    lines += ["ExecStartPre=-%s mptcp endpoint delete id %d" % (ip, e["id"]) for e in endpoints]
    lines.append("ExecStart=%s mptcp limits set subflows %d add_addr_accepted %d"
                 % (ip, limits["subflows"], limits["add_addr_accepted"]))
    lines += ["ExecStart=%s mptcp endpoint add %s dev %s signal id %d" % (ip, e["address"], e["device"], e["id"])
              for e in endpoints]
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def dropin_text(library, anchor=None):
    """The drop-in of a wrapped service; ``anchor`` ({address, subnet, device, ip, nft}) for the
    service that binds the anchor: its start puts the anchor address, the route to the peers'
    anchors (over the first link, which also carries them when the rules are gone) and the rules
    in place, before the server binds, so that the rules never send a connection to an anchor
    that the running server does not listen on."""
    lines = [
        "# clusterfabric.multilink fabric_mptcp: this service opens Multipath TCP sockets (mptcpize's LD_PRELOAD",
        "# library), after its endpoints are set. Generated file; changes are overwritten. See docs/mptcp.md.",
        "[Unit]",
        "Wants=%s" % UNIT,
        "After=%s" % UNIT,
        "",
        "[Service]",
        "Environment=LD_PRELOAD=%s" % library]
    if anchor:
        lines += ["# anchor placement: each fabric connection's first subflow starts on the next link",
                  "ExecStartPre=+%s address replace %s/32 dev lo" % (anchor["ip"], anchor["address"]),
                  "ExecStartPre=+%s route replace %s dev %s" % (anchor["ip"], anchor["subnet"], anchor["device"]),
                  "ExecStartPre=+%s -f %s" % (anchor["nft"], ANCHOR_NFT)]
    return "\n".join(lines + [""])


def dropin_path(service):
    return "%s/%s.d/%s" % (UNIT_DIR, service, DROPIN)


# ---------------------------------------------------------------------------- the pieces
class Node(object):
    """One converge run: the host, its tools, the change being collected and what it found."""

    def __init__(self, host, check_mode, live, host_name):
        self.host = host
        self.tools = Tools(host, check_mode, TOOL_PACKAGES)
        self.change = Change()
        self.check_mode = check_mode
        self.live = live
        self.name = host_name or "this host"
        self.systemd_reload = False
        self.restart = []

    def fail(self, text):
        raise FabricError("host %s: %s" % (self.name, text))

    def systemctl(self):
        if not self.live:
            return None
        return self.tools.find("systemctl")

    # -- kernel, NAT, library, package, mptcpd
    def kernel(self):
        if self.live and not self.host.exists(PROC_MPTCP):
            self.fail("fabric_strategy mptcp: this kernel has no Multipath TCP (%s is missing); it needs "
                      "CONFIG_MPTCP (Linux >= 5.6: the kernels of RHEL 9, Debian 12 and Ubuntu 22.04 have it), "
                      "or choose another fabric_strategy" % PROC_MPTCP)

    def nat_rules(self, nat_first):
        found = [path for path in NAT_FILES if self.host.exists(path)]
        nft = self.tools.find("nft") if self.live else None
        if nft:
            rc, out, dummy = self.host.run([nft, "list", "tables"])
            if rc == 0 and any(line.split()[-1:] == [NAT_TABLE] for line in out.splitlines()):
                found.insert(0, "nft table %s" % NAT_TABLE)
        if not found:
            return
        text = ("fabric_strategy mptcp cannot work with the nat role's NAT rules on this host (%s): a connection "
                "whose address the NAT rotation rewrote gets no extra MPTCP subflow. Put nat in fabric_roles (under "
                "mptcp it removes its rules first) or remove them (the nat role with state absent)" % ", ".join(found))
        if self.check_mode and nat_first:
            self.tools.warn("%s (check mode: the nat role, run before this one, removes them in a real run)" % text)
            return
        self.fail(text)

    def library(self, wanted, install, family, machine):
        """The LD_PRELOAD library's path; installs the package first when it is missing and allowed."""
        directories = library_dirs(family, machine)
        if wanted:
            if self.host.exists(wanted) or not self.live:
                return wanted
            expected, looked = wanted, "fabric_mptcp_library %s does not exist" % wanted
        else:
            for directory in directories:
                for name in sorted(self.host.listdir(directory), key=len, reverse=True):
                    if name.startswith("libmptcpwrap.so.0"):
                        return "%s/%s" % (directory, name)
            expected = "%s/%s" % (directories[0], LIBRARY) if directories else None
            if not self.live:  # a staging root: where the package puts it (Debian's when the OS is unknown)
                return expected or "%s/%s" % (library_dirs("debian", machine)[0], LIBRARY)
            looked = "the mptcpize wrapper library is missing (looked in %s)" % (", ".join(directories) or "nowhere")
        if family is None:
            self.fail("%s, and the OS family of this host is neither Debian nor RHEL (/etc/os-release), so there is no "
                      "package to install: set fabric_mptcp_library to the path of mptcpize's libmptcpwrap.so" % looked)
        package = PACKAGES[family]
        if not install:
            self.fail("%s and fabric_mptcp_install_packages is false: install package %s%s, or set "
                      "fabric_mptcp_install_packages: true (or fabric_mptcp_library to where the library is)"
                      % (looked, package, " without recommends" if family == "debian" else ""))
        if not self.live:
            return expected
        if family == "debian":
            tool = self.tools.need("apt-get", "fabric_mptcp_install_packages (package %s)" % package)
            argv = ["env", "DEBIAN_FRONTEND=noninteractive", tool or "apt-get", "install", "-y",
                    "--no-install-recommends", package]
        else:
            tool = self.tools.find("dnf") or self.tools.need("yum", "fabric_mptcp_install_packages (package %s)" % package)
            argv = [tool or "dnf", "install", "-y", "--setopt=install_weak_deps=False", package]
        if self.check_mode:
            self.tools.warn("%s: a real run installs package %s" % (looked, package))

        def verify():
            if not self.host.exists(expected):
                self.fail("package %s is installed but %s is not there: set fabric_mptcp_library to the path of "
                          "its libmptcpwrap.so" % (package, expected))
        self.change.add("package %s" % package, "installed: no\n", "installed: yes\n",
                        [lambda: self.tools.run(argv, what=" ".join(argv[-4:])), verify])
        return expected

    def mptcpd_off(self):
        systemctl = self.systemctl()
        if not systemctl:
            return
        enabled, active = nat_watchdog.unit_state(self.tools, MPTCPD_UNIT)
        if not (enabled or active):
            return
        actions = []
        if active:
            actions.append(lambda: self.tools.run([systemctl, "stop", MPTCPD_UNIT], what="systemctl stop mptcp"))
        if enabled:
            actions.append(lambda: self.tools.run([systemctl, "disable", MPTCPD_UNIT], what="systemctl disable mptcp"))
        self.change.add("%s (mptcpd, whose path manager conflicts with the kernel's endpoints)" % MPTCPD_UNIT,
                        "enabled: %s\nactive: %s\n" % ("yes" if enabled else "no", "yes" if active else "no"),
                        "enabled: no\nactive: no\n", actions)

    # -- sysctls
    def sysctls(self):
        """The file and the live values; [names the kernel has] (a staging root: every name, no live value)."""
        names = []
        for name, value, required in SYSCTLS:
            if not self.live:
                names.append(name)
                continue
            path = "/proc/sys/" + name.replace(".", "/")
            live = self.host.read(path)
            if live is None:
                if required:
                    self.fail("%s cannot be read (%s)" % (name, path))
                continue
            names.append(name)
            live = live.strip()
            if live == value:
                continue

            def validate(path=path, name=name, live=live, value=value):
                if not self.host.writable(path):
                    self.fail("%s is %s and must be %s, but %s is read-only here (a container?): set it where the "
                              "network namespace is made (podman run --sysctl %s=%s), or run the role where "
                              "/proc/sys is writable" % (name, live, value, path, name, value))
            self.change.add("%s (live)" % name, "%s = %s\n" % (name, live), "%s = %s\n" % (name, value),
                            [lambda path=path, value=value: self.host.write(path, value + "\n", 0o644)], [validate])
        self.file(SYSCTL_FILE, sysctl_text(names))
        return names

    def file(self, path, text):
        current = self.host.read(path)
        if current == text:
            return False
        action = (lambda: self.host.write(path, text, 0o644)) if text is not None else (lambda: self.host.remove(path))
        self.change.add(path, current or "", text or "", [action])
        return True

    # -- endpoints and limits
    def ip(self):
        return self.tools.need("ip", "MPTCP endpoints") if self.live else None

    def live_endpoints(self, ip):
        if not ip:
            return []
        return parse_endpoints(self.tools.run([ip, "mptcp", "endpoint", "show"], what="ip mptcp endpoint show"))

    def live_limits(self, ip):
        if not ip:
            return {}
        return parse_limits(self.tools.run([ip, "mptcp", "limits", "show"], what="ip mptcp limits show"))

    def endpoints(self, ip, wanted):
        """Ours (ids OUR_IDS) as ``wanted``; an endpoint of anyone else on one of these addresses is replaced.

        A signal endpoint on the wanted address and device is ours with any id above
        ENDPOINT_ID_BASE: the link watchdog's re-add takes over the implicit endpoint the kernel
        made there (linkwatch.py render_readd), which keeps its id (the kernel numbers them on from
        the highest in use), and replacing it would close the subflows on it."""
        if not ip:
            return
        live = self.live_endpoints(ip)
        addresses = set(e["address"] for e in wanted)
        want = [{"id": e["id"], "address": e["address"], "flags": ["signal"], "dev": e["device"]} for e in wanted]

        def key(entry):
            return (entry["address"], tuple(entry["flags"]), entry["dev"], entry["id"] > ENDPOINT_ID_BASE)
        mine = [e for e in live if e["id"] in OUR_IDS or e["address"] in addresses]
        want_keys = set(key(e) for e in want)
        live_keys = set(key(e) for e in live)
        add = [e for e in want if key(e) not in live_keys]
        # an implicit endpoint on an address to add (the link watchdog is between its delete and add):
        # an add without id takes it over with its subflows, where deleting it would close them
        implicit = set(e["address"] for e in mine if e["flags"] == ["implicit"]) & set(e["address"] for e in add)
        drop = [e for e in mine if key(e) not in want_keys and not (e["flags"] == ["implicit"] and e["address"] in implicit)]
        if not drop and not add:
            return
        kept = set(e["id"] for e in live if e not in drop)
        batch = ["mptcp endpoint delete id %d" % e["id"] for e in drop]
        batch += ["mptcp endpoint add %s dev %s signal%s" % (
            e["address"], e["dev"], "" if e["id"] in kept or e["address"] in implicit else " id %d" % e["id"]) for e in add]
        before = "".join(endpoint_line(e) + "\n" for e in sorted(mine, key=lambda e: e["id"]))
        after = "".join(endpoint_line(e) + "\n" for e in want)
        self.change.add("mptcp endpoints (live)", before, after,
                        [lambda: self.tools.run([ip, "-batch", "-"], data="\n".join(batch) + "\n",
                                                what="ip -batch (mptcp endpoints)")])

    def limits(self, ip, wanted):
        live = self.live_limits(ip)
        if not ip or live == wanted:
            return
        self.change.add("mptcp limits (live)", "".join("%s %s\n" % (k, live.get(k, "?")) for k in sorted(wanted)),
                        "".join("%s %s\n" % (k, wanted[k]) for k in sorted(wanted)),
                        [lambda: self.tools.run([ip, "mptcp", "limits", "set", "subflows", str(wanted["subflows"]),
                                                 "add_addr_accepted", str(wanted["add_addr_accepted"])],
                                                what="ip mptcp limits set")])

    # -- the anchor placement
    def anchor_live(self):
        """(nft path, whether our table is in the kernel) on a live host, else (None, False)."""
        nft = self.tools.find("nft") if self.live else None
        if not nft:
            return None, False
        rc, out, dummy = self.host.run([nft, "list", "tables"])
        return nft, rc == 0 and any(line.split()[-2:] == ["ip", ANCHOR_TABLE] for line in out.splitlines())

    def anchor(self, wanted, services):
        """The script file; loaded live at once only where the table is already in the kernel (new
        peers), since before its first start the server does not listen on the anchor yet."""
        if wanted["service"] not in services:
            self.fail("the anchor placement is loaded by %s, which is not one of the services %s"
                      % (wanted["service"], services))
        nft, present = self.anchor_live()
        if self.live and not nft:
            nft = self.tools.need("nft", "the anchor placement (fabric_mptcp_anchor_subnet)")
        if nft and self.host.read(ANCHOR_NFT) != wanted["nft"]:
            # the server's start loads it: a script nft refuses would keep the server from starting
            self.tools.run([nft, "-c", "-f", "/dev/stdin"], data=wanted["nft"],
                           what="nft -c (a check of the anchor placement's rules; nothing was changed)")
        # where the drop-in already starts the server on this anchor (not a new or moved one)
        running = "address replace %s/32 dev lo\n" % wanted["address"] in (self.host.read(dropin_path(wanted["service"])) or "")
        if self.file(ANCHOR_NFT, wanted["nft"]) and present and running:
            self.change.add("nft table ip %s (live)" % ANCHOR_TABLE, "", "",
                            [lambda: self.tools.run([nft, "-f", ANCHOR_NFT], what="nft -f %s" % ANCHOR_NFT)])
        return nft or "/usr/sbin/nft"

    def anchor_gone(self, ip, before):
        """No placement: the script file, the live table, and the anchor address and route
        (``before``: anchor_lines() from before the drop-ins changed)."""
        self.file(ANCHOR_NFT, None)
        nft, present = self.anchor_live()
        if present:
            self.change.add("nft table ip %s (live)" % ANCHOR_TABLE, "table ip %s\n" % ANCHOR_TABLE, "",
                            [lambda: self.tools.run([nft, "delete", "table", "ip", ANCHOR_TABLE],
                                                    what="nft delete table ip %s" % ANCHOR_TABLE)])
        self.anchor_lines_gone(ip, before)

    def anchor_lines(self):
        """The lines of our drop-ins that put an anchor address and route in place."""
        return [line for service in self.our_dropins() for line in (self.host.read(dropin_path(service)) or "").splitlines()
                if _ANCHOR_ADDRESS_RE.match(line) or _ANCHOR_ROUTE_RE.match(line)]

    def anchor_lines_gone(self, ip, before, kept=()):
        """The anchor address and route that ``before`` (anchor_lines() from before the drop-ins
        changed) put in place, but for those in ``kept`` (the wanted anchor's: a changed subnet or
        node id)."""
        if not ip:
            return
        for line in before:
            address = _ANCHOR_ADDRESS_RE.match(line)
            route = _ANCHOR_ROUTE_RE.match(line)
            address = address if address and address.group(2) not in kept else None
            route = route if route and route.group(2) not in kept else None
            if address and self.tools.run([ip, "-o", "address", "show", "dev", "lo", "to", address.group(2)],
                                          what="ip address show dev lo").strip():
                self.change.add("anchor address (live)", "%s dev lo\n" % address.group(2), "", [
                    lambda a=address.group(2): self.tools.run([ip, "address", "del", a, "dev", "lo"], what="ip address del")])
            if route and self.tools.run([ip, "route", "show", "exact", route.group(2)], what="ip route show").strip():
                self.change.add("anchor route (live)", "%s dev %s\n" % (route.group(2), route.group(3)), "", [
                    lambda r=route.group(2): self.tools.run([ip, "route", "del", r], what="ip route del")])

    # -- units
    def boot_unit(self, text):
        systemctl = self.systemctl()
        current = self.host.read(UNIT_PATH)
        enabled = False
        if systemctl and current is not None:
            enabled = nat_watchdog.unit_state(self.tools, UNIT)[0]
        if text is None and current is not None and enabled:
            self.change.add("%s enabled" % UNIT, "enabled: yes\n", "enabled: no\n",
                            [lambda: self.tools.run([systemctl, "disable", UNIT], what="systemctl disable %s" % UNIT)])
        if self.file(UNIT_PATH, text):
            self.systemd_reload = True
        if text is not None and not enabled and systemctl:
            self.change.add("%s enabled" % UNIT, "enabled: no\n", "enabled: yes\n",
                            [lambda: self.tools.run([systemctl, "enable", UNIT], what="systemctl enable %s" % UNIT)])
        return current

    def our_dropins(self):
        """The services that have a drop-in of ours."""
        return sorted(name[:-2] for name in self.host.listdir(UNIT_DIR)
                      if name.endswith(".service.d") and self.host.exists(dropin_path(name[:-2])))

    def dropins(self, services, library, anchor=None):
        """Drop-ins for ``services`` (none: remove every one of ours; ``anchor`` with its
        ``service``: that one loads the placement); returns the services changed."""
        ours = self.our_dropins()
        changed = []
        for service in sorted(set(ours) | set(services)):
            mine = anchor if anchor and anchor["service"] == service else None
            text = dropin_text(library, mine) if service in services else None
            if self.file(dropin_path(service), text):
                changed.append(service)
        if changed:
            self.systemd_reload = True
        return changed

    def wrapped_now(self, services):
        """{service: True/False (its running main process has the library loaded)} of active services."""
        systemctl = self.systemctl()
        if not systemctl or not services:
            return {}
        rc, out, dummy = self.host.run([systemctl, "show", "--property=Id,LoadState,ActiveState,MainPID"] + list(services))
        out_map = {}
        if rc != 0:
            return out_map
        for block in out.split("\n\n"):
            fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            pid = fields.get("MainPID", "0")
            if fields.get("Id") in services and fields.get("ActiveState") == "active" and pid.isdigit() and int(pid) > 0:
                maps = self.host.read("/proc/%s/maps" % pid) or ""
                out_map[fields["Id"]] = "libmptcpwrap" in maps
        return out_map

    def reload(self):
        systemctl = self.systemctl()
        if self.systemd_reload and systemctl and self.host.exists("/run/systemd/system"):
            self.change.add(UNIT_DIR, "", "", [lambda: self.tools.run([systemctl, "daemon-reload"], what="systemctl daemon-reload")])


# ---------------------------------------------------------------------------- the whole change
def converge(host, state, rendered, services, library="", install_packages=True, nat_first=False,
             check_mode=False, live=True, watchdog=None, machine="x86_64"):
    """Bring the host to ``state``.

    ``rendered``: {host (name, for messages), endpoints [{id, address, device}], limits
    {subflows, add_addr_accepted}, anchor {address, subnet, device, nft, service} or absent} as
    the action plugin sends it (endpoints and limits only with state present); ``machine``: the
    host's architecture (uname -m, for Debian's library path). ``live``: False writes the files
    only (a staging root: no ip, systemctl, packages, live sysctls or kernel check).
    ``watchdog``: None leaves the link watchdog alone; {"state": "absent"} stops and removes it
    (first); {"state": "present", "config", "unit", "program"} installs, starts or restarts it
    (last), as nat_watchdog.py does.

    Returns {changed, diff, warnings, restart (services to restart for the change to take effect),
    library}; raises FabricError before touching anything when something cannot work."""
    node = Node(host, check_mode, live, rendered.get("host"))
    result_library = None
    if watchdog is not None and watchdog.get("state") != "present":
        nat_watchdog.removal(node.change, node.tools, services=live)
    if state == "present":
        node.kernel()
        node.nat_rules(nat_first)
        family = os_family(host.read("/etc/os-release"))
        result_library = node.library(library, install_packages, family, machine)
        node.mptcpd_off()
        node.sysctls()
        ip = node.ip()
        node.limits(ip, rendered["limits"])
        node.endpoints(ip, rendered["endpoints"])
        node.boot_unit(unit_text(ip or "/usr/sbin/ip", rendered["endpoints"], rendered["limits"], services))
        anchor = rendered.get("anchor")
        if anchor:
            anchor = dict(anchor, ip=ip or "/usr/sbin/ip", nft=node.anchor(anchor, services))
        before = node.anchor_lines()
        changed = node.dropins(services, result_library, anchor)
        if anchor:
            node.anchor_lines_gone(ip, before, kept=("%s/32" % anchor["address"], anchor["subnet"]))
        else:
            node.anchor_gone(ip, before)
        wrapped = node.wrapped_now(services)
        node.restart = [s for s in services if s in wrapped and (s in changed or not wrapped[s])]
        for service in node.restart:
            if wrapped[service]:
                node.tools.warn("%s runs with its old drop-in until it restarts (the anchor placement, "
                                "fabric_mptcp_anchor_subnet, changes with the restart; fabric_mptcp_restart: true "
                                "restarts it)" % service)
            else:
                node.tools.warn("%s runs without Multipath TCP until it restarts (fabric_mptcp_restart: true restarts it)"
                                % service)
    else:
        ip = node.ip() if live and host.exists(PROC_MPTCP) else None
        unit = node.boot_unit(None)
        if ip:
            live_endpoints = node.live_endpoints(ip)
            addresses = set(re.findall(r"endpoint add (\S+) ", unit or ""))
            ours = [e for e in live_endpoints
                    if e["id"] in OUR_IDS or (e["id"] > ENDPOINT_ID_BASE and e["address"] in addresses)]
            if ours:
                node.change.add("mptcp endpoints (live)", "".join(endpoint_line(e) + "\n" for e in ours), "",
                                [lambda: node.tools.run([ip, "-batch", "-"], data="".join(
                                    "mptcp endpoint delete id %d\n" % e["id"] for e in ours), what="ip -batch")])
            match = _LIMITS_RE.search(unit or "")
            if match and node.live_limits(ip) == {"subflows": int(match.group(1)), "add_addr_accepted": int(match.group(2))}:
                node.limits(ip, dict(KERNEL_LIMITS))   # back to the kernel's defaults, if nobody changed them since
        before = node.anchor_lines()
        changed = node.dropins([], None)
        node.anchor_gone(ip, before)
        wrapped = node.wrapped_now(changed)
        node.restart = [s for s in changed if wrapped.get(s)]
        node.file(SYSCTL_FILE, None)
    node.reload()
    if watchdog is not None and watchdog.get("state") == "present":
        nat_watchdog.install(node.change, node.tools, watchdog, check_mode,
                             module="clusterfabric.multilink.fabric_mptcp", services=live)
    for validate in node.change.validations:
        validate()
    if not check_mode and node.change.actions:
        for action in node.change.actions:
            action()
        if live:
            host.run(["rmdir", "--ignore-fail-on-non-empty", nat_watchdog.WATCHDOG_DIR])
    return {"changed": node.change.changed, "diff": node.change.diff, "warnings": node.tools.warnings,
            "restart": node.restart, "library": result_library}
