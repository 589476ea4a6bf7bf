# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fabric_links module does on the node (standard library only).

The action plugin renders every file on the controller; here the rendered set is compared
with the host and applied in one pass: create the backend's directory, write the files that
differ (atomically), remove files an earlier run wrote and this one no longer needs, record
the run in the manifest. ``detect`` reports what backend auto-detection needs.

The manifest, ``{"backend", "files": [path], "digests": ["device=backend:renderer:keys:digest"]}``,
is the only memory between runs: only files it lists are ever removed, and only devices
whose digest entry changed (or that disappeared) are reported for activation.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile

# backend: (directory it reads, mode when the module has to create it)
DIRECTORIES = {
    "networkd": ("/etc/systemd/network", "0755"),
    "netplan": ("/etc/netplan", "0755"),
    "ifupdown": ("/etc/network/interfaces.d", "0755"),
    "networkmanager": ("/etc/NetworkManager/system-connections", "0700"),
}
BACKENDS = ("networkd", "netplan", "ifupdown", "networkmanager")
NETPLAN_RENDERERS = ("networkd", "NetworkManager")
NM_PORT_KEYS = ("master", "controller")
DEFAULT_MANIFEST = "/var/lib/clusterfabric-multilink/links-manifest.json"
MANIFEST_MODE = 0o644
MANIFEST_DIRECTORY_MODE = 0o755
PARENT_MODE = 0o755
# Only plain files directly inside one of the backend directories can ever be removed, whatever
# the manifest says (it is a file on the host, anyone with root can edit it).
REMOVABLE_RE = re.compile(r"(?:%s)/[^/]+" % "|".join(re.escape(path) for path, dummy in DIRECTORIES.values()))
# Units the backend detection looks at (plugin_utils/link_files.detect_backend decides).
UNITS = ("NetworkManager.service", "systemd-networkd.service", "networking.service")
NETPLAN = "/usr/sbin/netplan"

# The module's options as a task gives them (the action plugin reads the same spec; the module
# adds files and digests, which the action plugin fills in).
OPTIONS = {
    "model": {"type": "dict"},
    "backend": {"type": "str", "default": "auto", "choices": ["auto"] + list(BACKENDS)},
    "netplan_renderer": {"type": "str", "default": "auto", "choices": ["auto"] + list(NETPLAN_RENDERERS)},
    "nm_port_keys": {"type": "str", "default": "master", "choices": list(NM_PORT_KEYS)},
    "root": {"type": "str", "default": "/"},
    "manifest": {"type": "str", "default": DEFAULT_MANIFEST},
}


class LinkApplyError(Exception):
    """Refused input or a host state the module cannot work with; the message says which."""


def _mode(text):
    if not isinstance(text, str) or not re.fullmatch(r"0?[0-7]{3}", text):
        raise LinkApplyError("mode %r must be an octal string such as 0644" % (text,))
    return int(text, 8)


def _removable(path):
    return bool(REMOVABLE_RE.fullmatch(path)) and os.path.basename(path) not in (".", "..")


def _show_mode(mode):
    return "%04o" % mode


def _read(path):
    """(content bytes, mode) of a regular file, (None, mode) of anything else, (None, None) if absent."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, stat.S_IMODE(info.st_mode)
    with open(path, "rb") as handle:
        return handle.read(), stat.S_IMODE(info.st_mode)


def _text(data):
    return "" if data is None else data.decode("utf-8", "replace")


def write_atomic(path, data, mode):
    """Replace ``path`` with ``data`` in one rename (a reader sees the old file or the new one)."""
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    try:
        try:
            old = os.lstat(path)
        except FileNotFoundError:
            old = None
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            if old is not None and stat.S_ISREG(old.st_mode):
                try:
                    os.fchown(out.fileno(), old.st_uid, old.st_gid)
                except OSError:
                    pass
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


def _make_directory(path, mode):
    """mkdir -p: missing parents get 0755, the directory itself ``mode`` (not masked by the umask).

    A directory another process made between the look and the mkdir is taken as it is: hosts
    rendered into one tree (``root``) by parallel forks create the same parents at once, and
    one of them would fail on the other's directory."""
    parent = os.path.dirname(path)
    if parent and parent != path and not os.path.isdir(parent):
        _make_directory(parent, PARENT_MODE)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    os.chmod(path, mode)


def manifest_text(backend, files, digests):
    """The manifest exactly as the links role always wrote it (Ansible's to_nice_json, indent 2)."""
    return json.dumps({"backend": backend, "files": list(files), "digests": list(digests)},
                      indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def read_manifest(path):
    data, dummy = _read(path)
    if data is None:
        return {"files": [], "digests": []}
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise LinkApplyError("the manifest %s is not JSON (%s); fix or remove it" % (path, exc))
    if not isinstance(manifest, dict):
        raise LinkApplyError("the manifest %s is not a JSON object; fix or remove it" % path)
    files = [entry for entry in manifest.get("files") or [] if isinstance(entry, str)]
    digests = [entry for entry in manifest.get("digests") or [] if isinstance(entry, str)]
    return {"files": files, "digests": digests}


def changed_devices(old_digests, new_digests):
    """Devices whose digest entry is new or different, then devices no longer configured."""
    new_devices = [entry.split("=", 1)[0] for entry in new_digests]
    out = [entry.split("=", 1)[0] for entry in new_digests if entry not in old_digests]
    out += [device for device in (entry.split("=", 1)[0] for entry in old_digests) if device not in new_devices]
    seen = set()
    return [device for device in out if not (device in seen or seen.add(device))]


def _check_files(backend, files):
    directory = DIRECTORIES[backend][0]
    checked = []
    seen = set()
    for position, entry in enumerate(files):
        if not isinstance(entry, dict):
            raise LinkApplyError("files[%d] must be a mapping with path, content and mode" % position)
        path = entry.get("path")
        if not isinstance(path, str) or os.path.dirname(path) != directory or not _removable(path):
            raise LinkApplyError("files[%d].path %r must be a file directly in %s, the %s directory"
                                 % (position, path, directory, backend))
        if path in seen:
            raise LinkApplyError("files[%d].path %s is listed twice" % (position, path))
        seen.add(path)
        content = entry.get("content")
        if not isinstance(content, str):
            raise LinkApplyError("files[%d].content must be a string" % position)
        checked.append((path, content.encode("utf-8"), _mode(entry.get("mode"))))
    return checked


def converge(root, backend, files, digests, manifest=DEFAULT_MANIFEST, check_mode=False, want_diff=False):
    """Make the host's files of ``backend`` what ``files`` says; see the module docstring.

    ``root`` prefixes every path ("/" or "" for the live system); ``files`` is
    [{path, content, mode}] with paths directly in the backend's directory; ``digests`` the
    manifest entries of this run. Returns {changed, changed_devices, written, removed, diff}.
    """
    if backend not in BACKENDS:
        raise LinkApplyError("backend %r must be one of %s" % (backend, ", ".join(BACKENDS)))
    if not isinstance(manifest, str) or not manifest.startswith("/") or manifest.endswith("/"):
        raise LinkApplyError("manifest %r must be an absolute file path" % (manifest,))
    if any(not isinstance(entry, str) or "=" not in entry for entry in digests):
        raise LinkApplyError("digests must be strings device=digest, got %r" % (digests,))
    root = (root or "").rstrip("/")
    checked = _check_files(backend, files)
    old = read_manifest(root + manifest)
    result = {"changed": False, "written": [], "removed": [], "diff": [],
              "changed_devices": changed_devices(old["digests"], digests)}

    def note(path, before, after):
        result["changed"] = True
        if want_diff:
            result["diff"].append({"before_header": path, "after_header": path, "before": before, "after": after})

    directory, directory_mode = DIRECTORIES[backend]
    if not os.path.isdir(root + directory):
        note(directory, {"path": directory, "state": "absent"},
             {"path": directory, "state": "directory", "mode": directory_mode})
        if not check_mode:
            _make_directory(root + directory, _mode(directory_mode))

    for path, data, mode in checked:
        before, before_mode = _read(root + path)
        if before != data:
            note(path, _text(before), data.decode("utf-8"))
            if not check_mode:
                write_atomic(root + path, data, mode)
        elif before_mode != mode:
            note(path, {"path": path, "mode": _show_mode(before_mode)}, {"path": path, "mode": _show_mode(mode)})
            if not check_mode:
                os.chmod(root + path, mode)
        else:
            continue
        result["written"].append(path)

    keep = set(path for path, dummy, dummy2 in checked)
    for path in old["files"]:
        if path in keep or not _removable(path):
            continue
        try:
            info = os.lstat(root + path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            continue
        note(path, {"path": path, "state": "file"}, {"path": path, "state": "absent"})
        result["removed"].append(path)
        if not check_mode:
            os.unlink(root + path)

    text = manifest_text(backend, [path for path, dummy, dummy2 in checked], digests).encode("utf-8")
    target = root + manifest
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        note(os.path.dirname(manifest), {"path": os.path.dirname(manifest), "state": "absent"},
             {"path": os.path.dirname(manifest), "state": "directory"})
        if not check_mode:
            _make_directory(folder, MANIFEST_DIRECTORY_MODE)
    elif stat.S_IMODE(os.stat(folder).st_mode) != MANIFEST_DIRECTORY_MODE:
        note(os.path.dirname(manifest), {"path": os.path.dirname(manifest),
                                         "mode": _show_mode(stat.S_IMODE(os.stat(folder).st_mode))},
             {"path": os.path.dirname(manifest), "mode": _show_mode(MANIFEST_DIRECTORY_MODE)})
        if not check_mode:
            os.chmod(folder, MANIFEST_DIRECTORY_MODE)
    before, before_mode = _read(target)
    if before != text:
        note(manifest, _text(before), text.decode("utf-8"))
        if not check_mode:
            write_atomic(target, text, MANIFEST_MODE)
    elif before_mode != MANIFEST_MODE:
        note(manifest, {"path": manifest, "mode": _show_mode(before_mode)},
             {"path": manifest, "mode": _show_mode(MANIFEST_MODE)})
        if not check_mode:
            os.chmod(target, MANIFEST_MODE)
    return result


def _parse_show(text):
    """Blocks of `systemctl show` (one per unit, blank-line separated) as dicts."""
    units = []
    for block in text.strip().split("\n\n"):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if values:
            units.append(values)
    return units


def detect(netplan=NETPLAN, run=subprocess.run):
    """What backend detection needs: is netplan's generator installed, which units exist and run.

    Returns {"netplan": bool, "services": {unit: {"state": running|stopped, "status": enabled|...}}}
    with only the units that exist (the shape of ansible_facts.services for those units).
    """
    services = {}
    systemctl = shutil.which("systemctl") or next(
        (path for path in ("/usr/bin/systemctl", "/bin/systemctl") if os.path.exists(path)), None)
    shown = None
    if systemctl:
        shown = run([systemctl, "show", "--property=Id,LoadState,SubState,UnitFileState", "--"] + list(UNITS),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if shown is not None and shown.returncode == 0:
        for unit in _parse_show(shown.stdout):
            if unit.get("LoadState") in (None, "not-found") or not unit.get("Id"):
                continue
            services[unit["Id"]] = {"state": "running" if unit.get("SubState") == "running" else "stopped",
                                    "status": unit.get("UnitFileState") or "unknown"}
    elif os.path.exists("/etc/init.d/networking"):
        # No systemd: ifupdown's SysV script is the only backend left to find.
        services["networking"] = {"state": "unknown", "status": "unknown"}
    return {"netplan": os.path.exists(netplan), "services": services}
