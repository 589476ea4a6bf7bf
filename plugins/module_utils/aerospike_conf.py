# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aerospike.conf as data: writer, parser, checks and network-block replacement.

Runs on the managed host (the aerospike_config module imports it), so it is stdlib only.

Data shape ("conf data"), mirroring the file rather than asconfig's JSON:

- a context body is a mapping, written in its order;
- a scalar (str, int, bool) becomes one line ``key value``; a string may hold up to three
  space-separated values (``context: any info``);
- a list of scalars becomes one line per element (``address`` repeated);
- a mapping becomes a context ``key {``; under ``storage-engine``, ``index-type`` and
  ``sindex-type`` its ``type`` goes into the header (``storage-engine device {``);
- a list of mappings becomes named contexts ``key NAME {`` taken from each ``name``
  (``namespace test {``, ``set s1 {``, ``file /var/log/aerospike.log {``);
- ``None`` drops the key, so a merged-in override can remove a computed setting.

``render(normalize(d)) == render(d)`` and ``parse(render(d)) == normalize(d)``; parsing a
rendered file and rendering it again gives the same bytes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

INDENT = "    "
MAX_LINE_BYTES = 1023
MAX_VALUES = 3
TOP_LEVEL_CONTEXTS = ("service", "logging", "network", "namespace", "mod-lua", "security", "xdr")
TYPED_CONTEXTS = frozenset(("storage-engine", "index-type", "sindex-type"))

# Settings the server accepts more than once in one context; the parser always gives them
# as lists so that one address and several addresses have the same shape.
REPEATABLE = frozenset((
    "access-address", "address", "alternate-access-address", "context", "dc-int-ext-ipmap",
    "dc-node-address-port", "device", "feature-key-file", "file", "http-url", "ignore-bin",
    "ignore-set", "mesh-seed-address-port", "mount", "multicast-group", "node-address-port",
    "report-data-op", "report-data-op-role", "report-data-op-user", "role-query-pattern",
    "ship-bin", "ship-set", "tls-access-address", "tls-address", "tls-alternate-access-address",
    "tls-mesh-seed-address-port", "tls-node", "xdr-remote-datacenter",
))
SEED_KEYS = ("mesh-seed-address-port", "tls-mesh-seed-address-port")

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
INT_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")
BAD_CHARS = (("#", "'#', which starts a comment"), ("{", "'{'"), ("}", "'}'"),
             ("\n", "a newline"), ("\r", "a carriage return"), ("\x00", "a NUL byte"))


class AerospikeConfError(ValueError):
    """Bad conf data or text; ``problems`` lists every (path, message) found."""

    def __init__(self, problems):
        self.problems = list(problems)
        ValueError.__init__(self, "; ".join(_join(p, m) for p, m in self.problems))


def _join(path, message):
    return "%s: %s" % (path, message) if path else message


def _child(path, key):
    return "%s.%s" % (path, key) if path else key


def _is_scalar(value):
    return isinstance(value, (str, int, bool))


def _coerce_token(token):
    if token in ("true", "false"):
        return token == "true"
    if INT_RE.match(token):
        return int(token)
    return token


def value_text(value):
    """The text written after the key; bools as true/false, runs of whitespace as one space."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def _scalar_problems(path, value, what="value"):
    if not _is_scalar(value):
        hint = " (quote it as a string)" if isinstance(value, float) else ""
        return [(path, "%s must be a string, integer or boolean, got %s%s" % (what, type(value).__name__, hint))]
    text = str(value)
    found = [(path, "%s %r contains %s; aerospike.conf has no escaping, so the server would misread it"
              % (what, text, desc)) for char, desc in BAD_CHARS if char in text]
    if found:
        return found
    tokens = value_text(value).split()
    if not tokens:
        return [(path, "%s is empty; the server would read the line without a value" % what)]
    if what == "name" and len(tokens) != 1:
        return [(path, "name %r must be one word (no whitespace)" % text)]
    if len(tokens) > MAX_VALUES:
        return [(path, "%s %r has %d words; a line holds a name and at most %d values"
                 % (what, text, len(tokens), MAX_VALUES))]
    return []


def normalize(data):
    """Canonical form of conf data: what ``parse(render(data))`` returns."""
    return _normalize_body(data)


def _normalize_scalar(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    text = value_text(value)
    return _coerce_token(text) if " " not in text else text


def _normalize_body(body):
    out = {}
    for key, value in body.items():
        if value is None:
            continue
        if isinstance(value, dict):
            if key in TYPED_CONTEXTS:
                inner = dict(value)
                out[key] = dict([("type", value_text(inner.pop("type")))] + list(_normalize_body(inner).items()))
            elif "name" in value:
                out[key] = [_normalize_named(value)]
            else:
                out[key] = _normalize_body(value)
        elif isinstance(value, list):
            items = [v for v in value if v is not None]
            if not items:
                continue
            if isinstance(items[0], dict):
                out[key] = [_normalize_named(v) for v in items]
            elif len(items) == 1 and key not in REPEATABLE:
                out[key] = _normalize_scalar(items[0])
            else:
                out[key] = [_normalize_scalar(v) for v in items]
        elif key in REPEATABLE:
            out[key] = [_normalize_scalar(value)]
        else:
            out[key] = _normalize_scalar(value)
    return out


def _normalize_named(value):
    inner = dict(value)
    name = value_text(inner.pop("name"))
    return dict([("name", name)] + list(_normalize_body(inner).items()))


# ---------------------------------------------------------------------------- checks

def check(data, max_seeds=None, top_level=True):
    """Every problem of conf data as (path, message); empty when the server would read it as meant."""
    problems = []
    if not isinstance(data, dict):
        return [("", "the configuration must be a mapping of contexts, got %s" % type(data).__name__)]
    if top_level:
        for key, value in data.items():
            if value is None:
                continue
            if key not in TOP_LEVEL_CONTEXTS:
                problems.append((key, "unknown top-level context %r; aerospike.conf has only %s"
                                 % (key, ", ".join(TOP_LEVEL_CONTEXTS))))
            elif key == "namespace":
                if not isinstance(value, list) and not (isinstance(value, dict) and "name" in value):
                    problems.append((key, "namespaces must be a list of mappings, each with a name"))
            elif not isinstance(value, dict):
                problems.append((key, "top-level %r must be a context (a mapping), got %s"
                                 % (key, type(value).__name__)))
    problems.extend(_check_body("", data))
    if problems:
        return problems
    normal = normalize(data)
    network = normal.get("network")
    if isinstance(network, dict):
        problems.extend(_check_heartbeat("network.heartbeat", network.get("heartbeat"), max_seeds))
    for path, line in _render_lines(normal, ""):
        size = len(line.encode("utf-8"))
        if size > MAX_LINE_BYTES:
            problems.append((path, "line is %d bytes; the server reads at most %d bytes a line"
                             % (size, MAX_LINE_BYTES)))
    return problems


def _check_body(path, body):
    problems = []
    for key, value in body.items():
        where = _child(path, key)
        if not isinstance(key, str) or not KEY_RE.match(key):
            problems.append((where, "key %r is not a valid aerospike.conf name" % (key,)))
            continue
        if value is None:
            continue
        if isinstance(value, dict):
            problems.extend(_check_context(where, key, value, named=False))
        elif isinstance(value, list):
            items = [v for v in value if v is not None]
            kinds = set(isinstance(v, dict) for v in items)
            if len(kinds) > 1:
                problems.append((where, "a list must hold only values or only named contexts (mappings)"))
                continue
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    problems.extend(_check_context(where, key, item, named=True))
                else:
                    problems.extend(_check_value("%s[%d]" % (where, index), key, item))
        else:
            problems.extend(_check_value(where, key, value))
    return problems


def _check_context(where, key, value, named):
    if key in TYPED_CONTEXTS and not named:
        if "type" not in value:
            return [(where, "%s needs a type (e.g. device, memory, pmem)" % key)]
        problems = _scalar_problems(where + ".type", value["type"], "type")
        inner = dict(value)
        inner.pop("type")
        return problems + _check_body("%s[%s]" % (where, value_text(value["type"])), inner)
    if named or "name" in value:
        if "name" not in value:
            return [(where, "each entry of a list of contexts needs a name (%s NAME {)" % key)]
        problems = _scalar_problems(where + ".name", value["name"], "name")
        if problems:
            return problems
        inner = dict(value)
        inner.pop("name")
        return _check_body("%s[%s]" % (where, value_text(value["name"])), inner)
    return _check_body(where, value)


def _check_value(where, key, value):
    problems = _scalar_problems(where, value)
    if problems:
        return problems
    tokens = value_text(value).split()
    if key == "port" or key.endswith("-port"):
        port = tokens[1] if key.endswith("address-port") and len(tokens) > 1 else tokens[0]
        if key.endswith("address-port") and len(tokens) < 2:
            return [(where, "%r needs HOST PORT, got %r" % (key, value_text(value)))]
        if not INT_RE.match(port) or not 1024 <= int(port) <= 65535:
            return [(where, "port %s is not an integer from 1024 to 65535" % port)]
    return []


def _check_heartbeat(where, heartbeat, max_seeds):
    if not isinstance(heartbeat, dict):
        return []
    problems = []
    numbers = {}
    for key, default in (("interval", 150), ("timeout", 10), ("connect-timeout-ms", None)):
        value = heartbeat.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append((_child(where, key), "must be an integer, got %r" % (value,)))
            value = None
        numbers[key] = value
    interval, timeout, connect = numbers["interval"], numbers["timeout"], numbers["connect-timeout-ms"]
    if None not in (interval, timeout, connect) and connect * 3 > interval * timeout:
        problems.append((_child(where, "connect-timeout-ms"),
                         "%d is more than interval * timeout / 3 = %d * %d / 3 = %s; the server refuses it"
                         % (connect, interval, timeout, _fraction(interval * timeout, 3))))
    if max_seeds is not None:
        seeds = sum(len(heartbeat.get(k) or []) for k in SEED_KEYS)
        if seeds > max_seeds:
            problems.append((_child(where, "mesh-seed-address-port"),
                             "%d seed lines (plain + TLS), more than the limit of %d; Community Edition"
                             " exits with more than 8" % (seeds, max_seeds)))
    return problems


def _fraction(numerator, denominator):
    if numerator % denominator == 0:
        return str(numerator // denominator)
    return "%.2f" % (float(numerator) / denominator)


def validate(data, max_seeds=None, top_level=True):
    """Raise AerospikeConfError listing every problem of conf data."""
    problems = check(data, max_seeds=max_seeds, top_level=top_level)
    if problems:
        raise AerospikeConfError(problems)


def describe(problems, host=None, sources=None):
    """One message naming the host, the source variable and the place of every problem.

    ``sources`` maps a top-level context (``network``) to the variable it came from, so the
    user reads which inventory variable to fix."""
    sources = sources or {}
    lines = []
    for path, message in problems:
        top = path.split(".", 1)[0].split("[", 1)[0]
        variable = sources.get(top)
        where = "%s (%s)" % (variable, path) if variable else path or "config"
        lines.append("%s: %s" % (where, message))
    prefix = "host %s: " % host if host else ""
    return prefix + "refusing to write aerospike.conf: " + "; ".join(lines)


# ---------------------------------------------------------------------------- writer

def render(data, header=None):
    """aerospike.conf text for conf data (validated first); ``header`` lines become comments."""
    validate(data, top_level=False)
    lines = []
    if header:
        for text in header.splitlines():
            lines.append(("# " + text).rstrip())
        lines.append("")
    first = True
    for key, value in normalize(data).items():
        # one block per top-level context, and per namespace, with a blank line between blocks
        parts = [[item] for item in value] if isinstance(value, list) and value and isinstance(value[0], dict) else [value]
        for part in parts:
            block = [line for _path, line in _render_lines({key: part}, "")]
            if not first and (block[0].endswith("{") or lines[-1:] == ["}"]):
                lines.append("")
            lines.extend(block)
            first = False
    return "".join(line + "\n" for line in lines)


def _render_lines(body, path, depth=0):
    pad = INDENT * depth
    for key, value in body.items():
        where = _child(path, key)
        if isinstance(value, dict):
            if key in TYPED_CONTEXTS:
                inner = dict(value)
                head = value_text(inner.pop("type"))
                yield where, "%s%s %s {" % (pad, key, head)
                yield from _render_lines(inner, "%s[%s]" % (where, head), depth + 1)
            else:
                yield where, "%s%s {" % (pad, key)
                yield from _render_lines(value, where, depth + 1)
            yield where, pad + "}"
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    inner = dict(item)
                    name = value_text(inner.pop("name"))
                    named = "%s[%s]" % (where, name)
                    yield named, "%s%s %s {" % (pad, key, name)
                    yield from _render_lines(inner, named, depth + 1)
                    yield named, pad + "}"
                else:
                    yield "%s[%d]" % (where, index), "%s%s %s" % (pad, key, value_text(item))
        else:
            yield where, "%s%s %s" % (pad, key, value_text(value))


# ---------------------------------------------------------------------------- parser

def _lines(text):
    """Lines with their newline; only \n ends a line for the server (str.splitlines knows more)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _tokens(line):
    return line.split("#", 1)[0].split()


def parse(text):
    """Conf data for aerospike.conf text; comments and blank lines are dropped."""
    root = {}
    stack = [(root, "")]
    for number, line in enumerate(_lines(text), 1):
        tokens = _tokens(line)
        if not tokens:
            continue
        body, path = stack[-1]
        if tokens[0] == "}":
            if len(stack) == 1:
                raise AerospikeConfError([("line %d" % number, "'}' without an open context")])
            stack.pop()
            continue
        key = tokens[0]
        if tokens[-1] == "{":
            args = tokens[1:-1]
            if len(args) > 1:
                raise AerospikeConfError([("line %d" % number, "context %r has more than one name" % key)])
            child = {}
            if args and key in TYPED_CONTEXTS:
                child["type"] = args[0]
                _put_context(body, key, child, number)
            elif args:
                child["name"] = args[0]
                existing = body.setdefault(key, [])
                if not isinstance(existing, list) or (existing and not isinstance(existing[0], dict)):
                    raise AerospikeConfError([("line %d" % number, "%r is used both as a setting and a context" % key)])
                existing.append(child)
            else:
                _put_context(body, key, child, number)
            stack.append((child, _child(path, key)))
            continue
        if len(tokens) == 1:
            raise AerospikeConfError([("line %d" % number, "setting %r has no value" % key)])
        value = _coerce_token(tokens[1]) if len(tokens) == 2 else " ".join(tokens[1:])
        if key in body:
            existing = body[key]
            if isinstance(existing, dict) or (isinstance(existing, list) and existing and isinstance(existing[0], dict)):
                raise AerospikeConfError([("line %d" % number, "%r is used both as a setting and a context" % key)])
            if not isinstance(existing, list):
                body[key] = [existing]
            body[key].append(value)
        else:
            body[key] = [value] if key in REPEATABLE else value
    if len(stack) != 1:
        raise AerospikeConfError([(stack[-1][1], "context is not closed before the end of the file")])
    return root


def _put_context(body, key, child, number):
    if key in body:
        raise AerospikeConfError([("line %d" % number, "%r appears twice or as both a setting and a context" % key)])
    body[key] = child


# ---------------------------------------------------------------------------- network block

def find_block(text, name="network"):
    """(start, end) character offsets of the top-level ``name {`` ... ``}`` lines, newline included."""
    lines = _lines(text)
    depth = 0
    offset = 0
    start = None
    found = []
    for number, line in enumerate(lines, 1):
        tokens = _tokens(line)
        if tokens and tokens[0] == "}":
            depth -= 1
            if depth < 0:
                raise AerospikeConfError([("line %d" % number, "'}' without an open context")])
            if depth == 0 and start is not None:
                found.append((start, offset + len(line)))
                start = None
        elif tokens and tokens[-1] == "{":
            if depth == 0 and tokens[0] == name:
                start = offset
            depth += 1
        offset += len(line)
    if depth != 0:
        raise AerospikeConfError([("", "a context is not closed before the end of the file")])
    if not found:
        raise AerospikeConfError([("", "no top-level '%s {' block" % name)])
    if len(found) > 1:
        raise AerospikeConfError([("", "%d top-level '%s {' blocks; expected one" % (len(found), name))])
    return found[0]


def replace_block(text, network, name="network"):
    """``text`` with its top-level ``name { }`` block replaced by ``network``; all other bytes kept."""
    start, end = find_block(text, name)
    return text[:start] + render({name: network}) + text[end:]
