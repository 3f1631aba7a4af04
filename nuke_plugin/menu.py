"""HyperSeg for Nuke, the GUI: the Nodes menu entry. A broken install prints why and never stops
Nuke from starting."""

try:
    import hyperseg_nuke.install

    hyperseg_nuke.install.add_menu()
except Exception as exc:  # noqa: BLE001
    print("HyperSeg: no menu ({}: {})".format(type(exc).__name__, exc))
