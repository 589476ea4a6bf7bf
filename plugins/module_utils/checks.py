# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value rules of the inventory contract, in one place (standard library only).

The contract (plugin_utils/contract.py) applies them once per run; the planner, the renderers
and the modules that can also be called on their own apply the same ones. Patterns are meant
for ``fullmatch``: ``re.match`` with ``$`` accepts a trailing newline, which would let a name
inject a line into a rendered file or ruleset.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

LINK_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,14}")
DECIMAL_RE = re.compile(r"[0-9]+")
# Interface names: what the kernel allows (at most 15 bytes, no '/' or whitespace) minus what
# a backend file format, an nft string, an iptables argument or a shell word treats specially:
# letters, digits, '_', '.', '+' and '-', starting with a letter or digit, and not ending in
# '+' (an iptables wildcard for every interface starting with the rest).
DEVICE_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.+-]{0,13}[A-Za-z0-9_.-])?")
DEVICE_RULE = ("1 to 15 characters from A-Z a-z 0-9 _ . + - starting with a letter or digit and "
               "not ending in +")


def is_int(value):
    """True for real integers; bool is an int subclass but never a valid count or id."""
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value):
    """An int, or a decimal string as an int (-e and INI inventories give strings); else None."""
    if is_int(value):
        return value
    if isinstance(value, str) and DECIMAL_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def is_device(value):
    return isinstance(value, str) and DEVICE_RE.fullmatch(value) is not None
