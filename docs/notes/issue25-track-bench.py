"""Run from the repository root: PYTHONPATH=$PWD python docs/notes/issue25-track-bench.py

Track clicks' key writing, 1000 frames x 16 clicks, in the fake Nuke with the panel open and live on:
undo steps, knobChanged calls and live segments scheduled, wall time. Old: the code before issue 25."""
import importlib.util, subprocess, sys, tempfile, time
sys.path.insert(0, "tests")
import fake_nuke
from fake_nuke.comp import load_plugin

def run(label, write_keys):
    nuke = fake_nuke.install()
    load_plugin(nuke)
    from hyperseg_nuke import live
    node = nuke.createNode("HyperSeg")
    names = ["{}{}".format(p, i) for p in ("pos", "neg") for i in range(1, 9)]
    for name in names:
        nuke.artist_sets(node, name + "_on", True)
    node["live"].setValue(True)
    calls, scheduled = [0], [0]
    nuke.addKnobChanged(lambda: calls.__setitem__(0, calls[0] + 1), nodeClass="HyperSeg")
    real = live.schedule
    live.schedule = lambda n, s: scheduled.__setitem__(0, scheduled[0] + 1)
    keys = {name: {f: (10.0 + i + f / 100.0, 20.0 + i) for f in range(1001, 2001)} for i, name in enumerate(names)}
    before = nuke.Undo.undoSize()
    start = time.perf_counter()
    write_keys(node, keys, {})
    took = time.perf_counter() - start
    live.schedule = real
    print("{}: {:.3f} s, {} undo steps, {} knobChanged calls, {} live segments scheduled".format(
        label, took, nuke.Undo.undoSize() - before, calls[0], scheduled[0]))

OLD = tempfile.mktemp(suffix="_tracking.py")
with open(OLD, "w") as handle:  # tracking.py before issue 25 (commit 0c0c8e4)
    handle.write(subprocess.run(["git", "show", "0c0c8e4:nuke_plugin/hyperseg_nuke/tracking.py"], check=True,
                                capture_output=True, text=True).stdout)
fake_nuke.install(); load_plugin(sys.modules["nuke"])
from hyperseg_nuke import tracking
spec = importlib.util.spec_from_file_location("old_tracking", OLD)
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
run("before (setValueAt per key)", old.write_keys)
run("after (addKey per channel, one undo step, quiet)", tracking.write_keys)
