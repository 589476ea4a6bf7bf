# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for the link watchdog's I/O (netlink events, probes, the clock), shared by the
unit tests of its NAT mode and its MPTCP mode (tests/unit/roles/nat/)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class FakeEvents(object):
    @staticmethod
    def fileno():
        return None

    def close(self):
        pass


class FakeProber(object):
    """Answers from a script: {(link, peer): [ok, ok, False, ...]}; stops the daemon when done."""

    def __init__(self, answers, daemon_box, ticks):
        self.answers = answers
        self.box = daemon_box
        self.ticks = ticks
        self.started = 0

    def start(self, key, device, family, source, address, now):  # pylint: disable=unused-argument
        queue = self.answers.get(key, [])
        ok = queue.pop(0) if queue else True
        if key == ("fab0", "n2"):
            self.started += 1
            if self.started >= self.ticks:
                self.box[0].stopping = True
        return (True, None) if ok else (False, "timeout")

    @staticmethod
    def fds():
        return []

    def expire(self, now):  # pylint: disable=unused-argument
        return []

    def close(self):
        pass


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now
