"""`nuke -x` of the fake Nuke, run as a separate process (the executable at nuke.EXE_PATH):

    nuke -x -X WRITE -F FIRST-LAST script.nk

opens the script in a fresh fake session (nuke.scriptOpen: gizmos rebuilt from NUKE_PATH's
.gizmo files) and renders the Write frame by frame, printing `Frame N (i of n)` before each as
Nuke's command-line renderer does; exit status 1 with the error on failure.
"""

import os
import sys
from pathlib import Path


def main(argv) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fake_nuke

    nuke = fake_nuke.install()
    nuke.GUI = False
    args = list(argv)
    if args[:1] != ["-x"]:
        print("the fake nuke runs -x only", file=sys.stderr)
        return 2
    write_name = args[args.index("-X") + 1]
    first, _, last = args[args.index("-F") + 1].partition("-")
    for folder in filter(None, os.environ.get("NUKE_PATH", "").split(os.pathsep)):
        nuke.pluginAddPath(folder)
    try:
        nuke.scriptOpen(args[-1])
        write = nuke.toNode(write_name)
        frames = range(int(first), int(last or first) + 1)
        for index, frame in enumerate(frames, 1):
            print(f"Frame {frame} ({index} of {len(frames)})", flush=True)
            nuke.execute(write, frame, frame)
    except Exception as exc:  # noqa: BLE001 - Nuke prints the error and exits 1
        print(f"ERROR: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
