"""HyperSeg for Nuke, every mode (`nuke -t` too): the gizmo folder on the plugin path. No UI here.
A broken install prints why and never stops Nuke from starting."""

try:
    import hyperseg_nuke.install

    hyperseg_nuke.install.add_gizmo_path()
except Exception as exc:  # noqa: BLE001
    print("HyperSeg: not installed ({}: {})".format(type(exc).__name__, exc))
