# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value checks shared by the planner, the renderers and the NAT module (standard library only).

Patterns are meant for ``fullmatch``: ``re.match`` with ``$`` accepts a trailing newline,
which would let a name inject a line into a rendered file or ruleset.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

LINK_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,14}")
DECIMAL_RE = re.compile(r"[0-9]+")


def is_int(value):
    """True for real integers; bool is an int subclass but never a valid count or id."""
    return isinstance(value, int) and not isinstance(value, bool)
