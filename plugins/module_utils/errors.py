# -*- coding: utf-8 -*-
# Copyright (c) 2026, clusterfabric.multilink contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type raised by the planning core.

Filters and modules translate it to AnsibleFilterError / fail_json, so the
core stays free of Ansible imports and can be unit-tested directly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class FabricError(ValueError):
    """Bad input to the planning core; the message names the offending item."""
