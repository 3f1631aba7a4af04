"""The fake Nuke's command line, run as a separate process (the executable at nuke.EXE_PATH):

    nuke [-i] [--nukex] -x -X WRITE -F FIRST-LAST script.nk
    nuke [-i] [--nukex] -t script.py [ARG...]

A fresh fake session without GUI (env["gui"] False; env["nukex"] with --nukex, so NukeX-only
nodes load), start-up as Nuke's: each NUKE_PATH folder on the plugin path, its init.py run
(Foundry, "Start-up Scripts": init.py of every plug-in path folder runs in every mode).
`-x` opens the script (gizmos rebuilt from their .gizmo files) and renders the Write frame by
frame, printing `Frame N (i of n)` before each as Nuke's command-line renderer does; `-t` runs
the Python file as __main__ with sys.argv = [file, ARG...]. Exit status 1 with the error on
failure.

Licences: this machine is an artist's workstation with interactive licences (nuke_i) only, no
render licences (nuke_r): `-x` and `-t` without `-i` fail as Nuke does when no render licence
is free (Foundry, "Command Line Operations": `-i` "Use an interactive (nuke_i) license key ...
By default -x uses a nuke_r license key"). Set FAKE_NUKE_RENDER_LICENCE=1 for a render node.
"""

import os
import runpy
import sys
from pathlib import Path


def main(argv) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fake_nuke

    nuke = fake_nuke.install()
    nuke.GUI = False
    args = list(argv)
    interactive = "-i" in args
    nuke.env.update(gui=False, nukex="--nukex" in args)
    args = [a for a in args if a not in ("-i", "--nukex")]
    if args[:1] not in (["-x"], ["-t"]):
        print("the fake nuke runs -x and -t only", file=sys.stderr)
        return 2
    if not interactive and os.environ.get("FAKE_NUKE_RENDER_LICENCE") != "1":
        print("ERROR: No licenses available to perform this operation (nuke_r); use -i for an interactive licence",
              flush=True)
        return 1
    for folder in filter(None, os.environ.get("NUKE_PATH", "").split(os.pathsep)):
        nuke.pluginAddPath(folder)
        if os.path.isfile(os.path.join(folder, "init.py")):
            runpy.run_path(os.path.join(folder, "init.py"), run_name="__main__")
    try:
        if args[0] == "-t":
            sys.argv = args[1:]
            runpy.run_path(args[1], run_name="__main__")
            return 0
        write_name = args[args.index("-X") + 1]
        first, _, last = args[args.index("-F") + 1].partition("-")
        nuke.scriptOpen(args[-1])
        write = nuke.toNode(write_name)
        frames = range(int(first), int(last or first) + 1)
        for index, frame in enumerate(frames, 1):
            print(f"Frame {frame} ({index} of {len(frames)})", flush=True)
            nuke.execute(write, frame, frame)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001 - Nuke prints the error and exits 1
        print(f"ERROR: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
