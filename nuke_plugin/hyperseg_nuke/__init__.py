"""hyperseg_nuke: the Nuke side of hyperseg-vfx. Runs inside Nuke's own Python (3.7+: Nuke 13 to 16), so it
imports only the standard library; the model lives in the bridge process (`hyperseg-vfx serve`),
reached through `hyperseg_nuke.bridge_client`.

    background    a Source range rendered by a background Nuke from a copy of the comp
    source_render what that background Nuke runs (`nuke -t source_render.py ...`)
    callbacks     the gizmo's buttons (Segment frame / range, Submit to farm, Open preview, clicks)
    knobs         the node's knob names and types, read and written
    clicks        XY knobs -> shot-file clicks (origin flip, keyframes, baking)
    source        the Source: size, range, colour space, its Read's files or frames rendered
    matte         the matte knobs the internal Read, Copies and Switch follow into the alpha
    shotfile      the exported shot file
    paths         where the files go (next to the script)
    settings      knobs and environment variables: bridge address, token, farm, commands
    connection    reaching (or starting) the bridge
    jobs          following a bridge job with Nuke's progress bar
    tasks         worker threads, ProgressTask, executeInMainThread
    live          live clicks: knobChanged schedules a debounced segment
    edits         bulk knob changes: one undo step, callbacks quiet
    preview       the contact sheet
    feedback      the status knob and Nuke messages
    script        the Nuke session: script path, frame, proxy mode, messages
    install       plugin path and menu (init.py, menu.py)
    errors        PluginError
"""
