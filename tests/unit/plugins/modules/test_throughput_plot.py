# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The throughput_plot module and its drawing code: files, check mode, no matplotlib."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import throughput_plot as module
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import throughput
from ansible_collections.clusterfabric.multilink.plugins.module_utils import throughput_plot
from ansible_collections.clusterfabric.multilink.plugins.module_utils.errors import FabricError

PNG = b"\x89PNG\r\n\x1a\n"
LINKS = [{"name": "fab0", "device": "eth0"}, {"name": "fab1", "device": "eth1"}]


def report():
    nodes = {}
    for host, cluster in (("n1", "east"), ("n2", "west/2")):
        nodes[host] = {"cluster": cluster, "links": LINKS, "samples": [
            {"tick": k, "time": 100.0 + k, "bytes": {"fab0": [k * 20000000, 0], "fab1": [k * k * 1000000, 0]}}
            for k in range(5)]}
    return throughput.summarize(nodes, {"east": ["n1"], "west/2": ["n2"], "empty": []})


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def test_file_names_are_safe():
    assert throughput_plot.file_name("aero_east") == "aero_east.png"
    assert throughput_plot.file_name("../x y") == "_x_y.png"


def test_render_is_a_png_and_repeatable():
    data = report()
    first = throughput_plot.render("east", data["clusters"]["east"])
    assert first.startswith(PNG) and len(first) > 5000
    assert throughput_plot.render("east", data["clusters"]["east"]) == first
    # a cluster without samples still gets a chart that says so
    assert throughput_plot.render("empty", data["clusters"]["empty"]).startswith(PNG)


def test_render_all_refuses_what_is_not_a_report():
    with pytest.raises(FabricError, match=r"report must be the output of fabric_throughput"):
        throughput_plot.render_all({"east": {}})
    with pytest.raises(FabricError, match=r"cluster east: the report is incomplete"):
        throughput_plot.render_all({"clusters": {"east": {"series": {"time": [1.0]}}}})


def test_check_mode_writes_nothing_then_a_run_writes_then_nothing_changes(tmp_path, capsys):
    dest = tmp_path / "charts"
    args = dict(report=report(), dest=str(dest))
    code, result = run(dict(args, _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] and not dest.exists()
    assert result["files"] == [str(dest / name) for name in ("east.png", "empty.png", "west_2.png")]
    code, result = run(args, capsys)
    assert code == 0 and result["changed"] and result["written"] == result["files"]
    assert (dest / "west_2.png").read_bytes().startswith(PNG)
    code, result = run(args, capsys)
    assert code == 0 and not result["changed"] and result["written"] == []


def test_without_matplotlib_the_module_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(throughput_plot, "HAS_MATPLOTLIB", False)
    monkeypatch.setattr(throughput_plot, "MATPLOTLIB_ERROR", "No module named 'matplotlib'")
    code, result = run(dict(report={"clusters": {}}, dest=str(tmp_path)), capsys)
    assert code == 1 and result["msg"].endswith("-m pip install matplotlib")
    assert "required Python library (matplotlib)" in result["msg"]


def test_render_phases_draws_several_runs_side_by_side():
    data = report()
    phases = [("single", data["clusters"]["east"]), ("balanced", data["clusters"]["west/2"]),
              ("empty", data["clusters"]["empty"])]
    png = throughput_plot.render_phases(phases, title="demo", limit_mbit=100, limit_label="link rate")
    assert png.startswith(PNG) and len(png) > 5000
    assert throughput_plot.render_phases(phases, title="demo", limit_mbit=100, limit_label="link rate") == png
    assert throughput_plot.render_phases(phases[:1]) != png
    with pytest.raises(FabricError, match=r"phases must be a non-empty list"):
        throughput_plot.render_phases([])
    with pytest.raises(FabricError, match=r"phases: a cluster report is incomplete"):
        throughput_plot.render_phases([("x", {"series": {"time": [1.0]}})])
