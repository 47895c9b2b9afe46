"""Every command, every path it writes aimed at every path it reads: exit 2, no file touched.

The paths a command writes are its outputs, the weights sidecar of an .ir output, a budget
report and its JSON twin, and the bench's --json / --markdown files. The paths it reads are the
model (with its weights sidecar or its external data file), the calibration, validation and
input data, the preprocessing, labels and detection settings files, and the plugin and metric
modules. A derived output (a sidecar, a JSON twin) can only land on a read file whose name fits
(`X.weights.npz`, `X.json`), so the fixture comes in two spellings: the usual names, and names
chosen so that derived outputs can reach the data and settings files.
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from irc.cli import main

NAMES = {
    "plain": {"calib": "calib.npz", "val": "val.npz", "inputs": "x.npz", "pre": "pre.toml",
              "labels": "labels.txt", "det": "det.toml", "ext": "model.data"},
    "derivable": {"calib": "c.weights.npz", "val": "v.weights.npz", "inputs": "x.weights.npz", "pre": "pre.json",
                  "labels": "labels.json", "det": "det.json", "ext": "ext.weights.npz"},
}

METRIC = "def score(outputs, labels, reference):\n    return (next(iter(outputs.values())).argmax(1) == labels) * 1.0\n"


def _model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    g = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "g")
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], [w, g])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _names(spelling: str) -> dict[str, str]:
    """Input role -> file name in the fixture folder."""
    n = NAMES[spelling]
    return {"model": "model.onnx", "external data": n["ext"], "ir": "m.ir", "ir sidecar": "m.weights.npz",
            **{k: v for k, v in n.items() if k != "ext"}, "plugin": "plugin.py", "metric": "metric.py"}


def _build(root, spelling: str) -> dict[str, str]:
    """The input files of every command in `root`; returns role -> file name."""
    n = _names(spelling)
    root.mkdir(parents=True)
    onnx.save(_model(), root / n["model"], save_as_external_data=True, all_tensors_to_one_file=True,
              location=n["external data"], size_threshold=0)
    assert main(["import", str(root / n["model"]), "-o", str(root / n["ir"])]) == 0
    rng = np.random.default_rng(1)
    x = rng.random((6, 1, 8, 8)).astype(np.float32)
    for role, arrays in (("calib", {"input": x}), ("val", {"input": x, "labels": np.arange(6) % 3}),
                         ("inputs", {"input": x[:2]})):
        with open(root / n[role], "wb") as f:  # np.savez would append .npz to other names
            np.savez(f, **arrays)
    json_pre = n["pre"].endswith(".json")
    (root / n["pre"]).write_text('{"preprocess": {"resize": [8, 8]}}' if json_pre else "[preprocess]\nresize = [8, 8]\n")
    (root / n["labels"]).write_text("zero\none\ntwo\n")
    json_det = n["det"].endswith(".json")
    (root / n["det"]).write_text('{"detection": {"conf_threshold": 0.1}}' if json_det
                                 else "[detection]\nconf_threshold = 0.1\n")
    (root / n["plugin"]).write_text("# registers no passes\n")
    (root / n["metric"]).write_text(METRIC)
    return n


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    base = tmp_path_factory.mktemp("aliasing")
    return {s: (base / s, _build(base / s, s)) for s in NAMES}


# Each command: its argv with {role} placeholders for inputs and {out:ROLE} for outputs, and its
# output roles. An output role's aim turns the path of a read file into the option value that
# makes that output land on it (None: no value can).
def _primary(p: str) -> str:
    return p


def _sidecar(p: str) -> str | None:
    return p[:-len(".weights.npz")] + ".ir" if p.endswith(".weights.npz") else None


def _twin(p: str) -> str | None:
    return p[:-len(".json")] + ".html" if p.endswith(".json") else None


BUDGET = ["--val", "{val}", "--max-drop", "1", "--val-labels-file", "{labels}", "--detection", "{det}",
          "--val-preprocess", "{pre}", "--metric", "{metric}:score", "--report", "{out:report}"]
COMMANDS = {
    "import": (["import", "{model}", "-o", "{out:o}"], {"o": _primary, "o sidecar": _sidecar}),
    "opt": (["opt", "{ir}", "--pipeline=fold,fuse,dce,calibrate,quantize", "--calib", "{calib}",
             "--calib-preprocess", "{pre}", "--load", "{plugin}", *BUDGET, "-o", "{out:o}"],
            {"o": _primary, "o sidecar": _sidecar, "report": _primary, "report twin": _twin}),
    "emit": (["emit", "{ir}", "--target=onnx", "-o", "{out:o}"], {"o": _primary}),
    "emit onnx": (["emit", "{model}", "--target=onnx", "-o", "{out:o}"], {"o": _primary}),
    "run": (["run", "{ir}", "--inputs", "{inputs}", "-o", "{out:o}"], {"o": _primary}),
    "quantize": (["quantize", "{model}", "--calib", "{calib}", "--preprocess", "{pre}", "--load", "{plugin}",
                  *BUDGET, "-o", "{out:o}"], {"o": _primary, "report": _primary, "report twin": _twin}),
    "quantize ir": (["quantize", "{ir}", "--calib", "{calib}", "-o", "{out:o}"], {"o": _primary}),
    "bench": (["bench", "{model}", "--variants", "fp32", "--batch", "1", "--threads", "1", "--rounds", "1",
               "--min-rounds", "1", "--warmup", "0", "--no-memory", "--workdir", "{out:workdir}",
               "--json", "{out:json}", "--markdown", "{out:markdown}", "--quiet"],
              {"json": _primary, "markdown": _primary}),
}
READS = {  # the roles each command reads, beyond those in its argv
    "import": ["external data"], "emit": ["ir sidecar"], "emit onnx": ["external data"], "run": ["ir sidecar"],
    "opt": ["ir sidecar"], "quantize": ["external data"], "quantize ir": ["ir sidecar"], "bench": ["external data"],
}
NO_OUTPUTS = ["eval", "list-ops", "list-passes"]
"""Commands that write no file: nothing to alias."""


def _reads(command: str) -> list[str]:
    argv, _ = COMMANDS[command]
    named = {m for part in argv for m in re.findall(r"\{([a-z ]+)\}", part)}
    return sorted(named | set(READS.get(command, [])))


def _argv(command: str, root, roles: dict[str, str], outputs: dict[str, str]) -> list[str]:
    argv, _ = COMMANDS[command]
    out = []
    for a in argv:
        if a.startswith("{out:"):
            key = a[5:-1]
            out.append(outputs.get(key) or str(root / f"fresh.{key}"))
        else:
            out.append(a.format(**{k: str(root / v) for k, v in roles.items()}))
    return out


def _aim(command: str, out_role: str, read_role: str) -> tuple[str, str] | None:
    """(fixture spelling, file name) of the read file this output can be aimed at, or None."""
    _, aims = COMMANDS[command]
    for spelling in NAMES:
        name = _names(spelling)[read_role]
        if aims[out_role](name) is not None:
            return spelling, name
    return None


def _combinations():
    for command, (_, out_roles) in COMMANDS.items():
        for out_role in out_roles:
            for read_role in _reads(command):
                yield command, out_role, read_role


def _cases():
    return [c for c in _combinations() if _aim(*c) is not None]


def _snapshot(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command, out_role, read_role", _cases())
def test_output_aimed_at_an_input_is_refused(templates, tmp_path, capsys, command, out_role, read_role):
    _, aims = COMMANDS[command]
    spelling, name = _aim(command, out_role, read_role)
    template, roles = templates[spelling]
    root = tmp_path / spelling
    shutil.copytree(template, root)
    before = _snapshot(root)
    argv = _argv(command, root, roles, {out_role.split()[0]: aims[out_role](str(root / name))})
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "irc never writes over what it reads" in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert _snapshot(root) == before


def test_only_impossible_combinations_are_left_out():
    """A sidecar lands only on *.weights.npz and a JSON twin only on *.json: those are all that is left out."""
    left_out = [c for c in _combinations() if _aim(*c) is None]
    suffix = {"sidecar": ".weights.npz", "twin": ".json"}
    for _, out_role, read_role in left_out:
        kind = out_role.split()[-1]
        assert kind in suffix and not any(_names(s)[read_role].endswith(suffix[kind]) for s in NAMES)
    assert len(_cases()) >= 60


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_same_command_with_fresh_outputs_passes_the_check(templates, tmp_path, capsys, command):
    """The argv above is a valid run once its outputs are new paths (so refusals are about aliasing)."""
    template, roles = templates["plain"]
    root = tmp_path / "plain"
    shutil.copytree(template, root)
    argv = _argv(command, root, roles, {})
    if command in ("opt", "quantize"):  # the detection settings only go with --metric map
        i = argv.index("--detection")
        del argv[i:i + 2]
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (0, 3), err


def test_commands_without_outputs_are_listed():
    from irc.cli import build_parser

    names = set(build_parser()._subparsers._group_actions[0].choices)
    assert names == {c.split()[0] for c in COMMANDS} | set(NO_OUTPUTS)


def test_links_are_resolved(templates, tmp_path, capsys):
    template, roles = templates["plain"]
    root = tmp_path / "plain"
    shutil.copytree(template, root)
    before = _snapshot(root)
    (tmp_path / "link.npz").symlink_to(root / roles["calib"])
    os.link(root / roles["val"], tmp_path / "hard.npz")
    (tmp_path / "dir").symlink_to(root, target_is_directory=True)
    model = str(root / "model.onnx")
    for out in (tmp_path / "link.npz", tmp_path / "hard.npz", tmp_path / "dir" / roles["external data"]):
        code = main(["quantize", model, "--calib", str(root / roles["calib"]), "--val", str(root / roles["val"]),
                     "--max-drop", "1", "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and "irc never writes over what it reads" in err, err
    assert _snapshot(root) == before


def test_output_inside_a_data_folder_and_bench_work_folder(templates, tmp_path, capsys):
    template, roles = templates["plain"]
    root = tmp_path / "plain"
    shutil.copytree(template, root)
    (root / "images" / "a").mkdir(parents=True)
    before = _snapshot(root)
    code = main(["quantize", str(root / "model.onnx"), "--calib", str(root / "images"),
                 "-o", str(root / "images" / "a" / "q.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and "lies inside the calibration data (--calib)" in err, err
    # the bench fills WORKDIR/<model name>/: a model kept there would be overwritten
    kept = tmp_path / "work" / "model"
    kept.mkdir(parents=True)
    for name in ("model.onnx", roles["external data"]):
        shutil.copy(root / name, kept / name)
    kept_before = _snapshot(kept)
    code = main(["bench", str(kept / "model.onnx"), "--workdir", str(tmp_path / "work"), "--variants", "fp32",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "would hold the model" in err, err
    assert _snapshot(root) == before and _snapshot(kept) == kept_before


def test_unwritable_output_is_one_message_before_any_work(templates, tmp_path, capsys):
    template, roles = templates["plain"]
    for out in ("/proc/q.onnx", str(tmp_path / "missing" / "q.onnx"), str(tmp_path)):
        code = main(["quantize", str(template / "model.onnx"), "--calib", str(template / roles["calib"]), "-o", out])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
