# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check conf data against Aerospike's JSON schemas (aerospike/schemas, draft-06).

The schemas describe asconfig's JSON/YAML shape, not the .conf file, so ``to_schema_shape``
converts conf data the way asconfig does: contexts become objects, named contexts become
plural lists of objects with ``name`` (namespace -> namespaces, set -> sets), typed contexts
become objects with ``type``, repeatable settings become plural lists (address -> addresses,
mesh-seed-address-port -> mesh-seed-address-ports as "HOST:PORT"), logging becomes a list of
sinks whose ``context X Y`` lines become ``X: Y``, and size/time suffixes become numbers.

Stdlib only, except ``validate_against`` which needs the ``jsonschema`` library.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import (
    TYPED_CONTEXTS, normalize,
)

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:
    HAS_JSONSCHEMA = False

JSONSCHEMA_MISSING = "checking against the Aerospike schemas needs the Python library jsonschema: pip install jsonschema"

PLURAL = {
    "access-address": "access-addresses",
    "address": "addresses",
    "alternate-access-address": "alternate-access-addresses",
    "datacenter": "datacenters",
    "dc": "dcs",
    "dc-node-address-port": "dc-node-address-ports",
    "device": "devices",
    "feature-key-file": "feature-key-files",
    "file": "files",
    "http-url": "http-urls",
    "ignore-bin": "ignore-bins",
    "ignore-set": "ignore-sets",
    "mesh-seed-address-port": "mesh-seed-address-ports",
    "mount": "mounts",
    "multicast-group": "multicast-groups",
    "namespace": "namespaces",
    "node-address-port": "node-address-ports",
    "role-query-pattern": "role-query-patterns",
    "set": "sets",
    "ship-bin": "ship-bins",
    "ship-set": "ship-sets",
    "tls-access-address": "tls-access-addresses",
    "tls-address": "tls-addresses",
    "tls-alternate-access-address": "tls-alternate-access-addresses",
    "tls-mesh-seed-address-port": "tls-mesh-seed-address-ports",
    "tls-node": "tls-nodes",
    "xdr-remote-datacenter": "xdr-remote-datacenters",
}
# asconfig keeps these singular when they occur once (the schema accepts a string or a list).
SINGLE_STAYS_SINGULAR = frozenset(("feature-key-file",))
LOGGING_SINKS = ("console", "syslog")

SIZE_RE = re.compile(r"^([0-9]+)([KMGTPkmgtp])$")
TIME_RE = re.compile(r"^([0-9]+)([smhd])$")
SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
VERSION_FILE_RE = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)\.json$")


def _number(value):
    """asconfig reads 4G as bytes and 30d as seconds. Lower-case m means minutes, upper-case M mebibytes."""
    if not isinstance(value, str):
        return value
    match = TIME_RE.match(value)
    if match:
        return int(match.group(1)) * TIME_UNITS[match.group(2)]
    match = SIZE_RE.match(value)
    if match:
        return int(match.group(1)) * SIZE_UNITS[match.group(2).upper()]
    return value


def _setting_value(key, value):
    if key.endswith("address-port") and isinstance(value, str):
        return ":".join(value.split())
    return _number(value)


def to_schema_shape(data):
    """asconfig's JSON form of conf data (see the module docstring)."""
    normal = normalize(data)
    out = {}
    for key, value in normal.items():
        if key == "logging":
            out["logging"] = _logging(value)
        else:
            _convert_item(out, key, value)
    return out


def _context(body):
    out = {}
    for key, value in body.items():
        _convert_item(out, key, value)
    return out


def _convert_item(out, key, value):
    if isinstance(value, dict):
        out[key] = _context(value)
    elif key in TYPED_CONTEXTS and not isinstance(value, list):
        out[key] = {"type": value}
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        out[PLURAL.get(key, key)] = [_context(item) for item in value]
    elif isinstance(value, list):
        values = [_setting_value(key, item) for item in value]
        if key in SINGLE_STAYS_SINGULAR and len(values) == 1:
            out[key] = values[0]
        else:
            out[PLURAL.get(key, key)] = values
    else:
        out[key] = _setting_value(key, value)


def _logging(body):
    sinks = []
    for key, value in body.items():
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if not isinstance(entry, dict):
                # A stray setting: keep it where the schema will reject it.
                sinks.append({key: entry})
                continue
            sink = {"name": entry["name"] if key == "file" else key}
            for name, setting in entry.items():
                if name == "name" and key == "file":
                    continue
                if name == "context":
                    for line in (setting if isinstance(setting, list) else [setting]):
                        words = str(line).split()
                        sink[words[0]] = words[1] if len(words) > 1 else ""
                else:
                    _convert_item(sink, name, setting)
            sinks.append(sink)
    return sinks


# ---------------------------------------------------------------------------- schema files

def version_tuple(version):
    """(major, minor, patch, ...) of "7.2" or "8.1.0.1"; ValueError when not dotted digits."""
    text = str(version).strip()
    if not re.match(r"^[0-9]+(\.[0-9]+)+$", text):
        raise ValueError("version %r is not dotted numbers like \"7.2\"" % (version,))
    return tuple(int(part) for part in text.split("."))


def schema_file_for(directory, version):
    """Path of the newest X.Y.Z.json in ``directory`` not newer than ``version``."""
    target = version_tuple(version)
    target = target + (0,) * (3 - len(target))
    best = None
    for name in os.listdir(directory):
        match = VERSION_FILE_RE.match(name)
        if not match:
            continue
        candidate = tuple(int(part) for part in match.groups())
        if candidate <= target and (best is None or candidate > best[0]):
            best = (candidate, name)
    if best is None:
        raise ValueError("no schema in %s for version %s or older" % (directory, version))
    return os.path.join(directory, best[1])


def schema_errors(data, schema):
    """Messages of every schema violation of conf data (empty list when valid)."""
    if not HAS_JSONSCHEMA:
        raise RuntimeError(JSONSCHEMA_MISSING)
    validator = jsonschema.Draft6Validator(schema)
    shape = to_schema_shape(data)
    errors = sorted(validator.iter_errors(shape), key=lambda e: list(e.absolute_path))
    return ["%s: %s" % ("/".join(str(p) for p in error.absolute_path) or "(top)", error.message)
            for error in errors]


def load_schema(directory, version):
    with open(schema_file_for(directory, version)) as handle:
        return json.load(handle)
