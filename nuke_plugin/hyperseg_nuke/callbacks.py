"""The gizmo's buttons, one line each in HyperSeg.gizmo:

    import hyperseg_nuke.callbacks as c; c.segment_frame(nuke.thisNode())

A bridge action prepares in the main thread (reads the knobs; Segment frame renders the Source
frames t and t-1 with the internal Write when they changed), does the rest in a worker thread
with Nuke's progress bar (a background `nuke -x` render of a Source range, the bridge's part),
and shows the outcome back in the main thread. It returns that worker thread (None when it
stopped before starting one, or ran synchronously in a session without GUI). Every error ends in
the status knob and a Nuke message; a cancel in the status only.

Segment frame   the current frame: the clicks at t and the Source frames t (and t-1) sent.
Segment range   the Source's range as a bridge job; the bar shows its progress, cancel stops it.
Submit to farm  a new shot file handed to the farm named by the farm knob (or $HYPERSEG_FARM).
Open preview    the contact sheet of the shot, opened in the system's viewer.
Reload matte    the inner Read reads the matte files again (after a farm render).

Segment frame and the shot file (next to the script) take the Source Read's own files when the
Source shows an EXR Read unchanged, else Source frames rendered to EXRs next to the mattes (see
hyperseg_nuke.source); the bridge gets their colour space. Files are named by the node's id
(knobs.claim_node_id): a renamed node keeps its files, a pasted copy gets its own.
"""

from typing import Callable, Dict, NamedTuple, Optional

from hyperseg_nuke import autostart, background, clicks, connection, edits, feedback, jobs, knobs, live, matte, paths
from hyperseg_nuke import objects, preview, script, settings, shotfile, tasks, track_memory
from hyperseg_nuke import source as sources
from hyperseg_nuke.bridge_client import command_line
from hyperseg_nuke.errors import PluginError


class FramePlan(NamedTuple):
    """What Segment frame sends: the rendered Source files of the frame and the one before."""

    values: knobs.NodeSettings
    source: sources.SourceInfo
    frame: int
    input: str
    previous: Optional[str]
    clicks: Optional[list]
    output: str
    objects: Optional[Dict]
    output_per_object: Optional[str]


class ShotPlan(NamedTuple):
    """A shot to export: its data (the checkpoint is added when it is written, see paths for
    where) and the script and node it comes from."""

    values: knobs.NodeSettings
    source: sources.SourceInfo
    data: Dict
    output: str
    script: str
    node_id: str
    source_render: Optional[background.SourceRender]


class FarmPlan(NamedTuple):
    """A shot for the farm named by the node (or the environment), in a file of its own."""

    shot: ShotPlan
    farm: str
    path: str


# -- buttons ------------------------------------------------------------------------------------


def segment_frame(node):
    """Segment the current frame; the matte appears in the node's alpha."""
    return _action(node, "Segment frame", _prepare_frame, _segment_frame, _show_frame)


def segment_range(node):
    """Segment the Source's frame range as a bridge job."""
    return _action(node, "Segment range", _prepare_shot, _render_range, _show_range)


def submit_to_farm(node):
    """Hand the shot to the configured render farm through the bridge."""
    return _action(node, "Submit to farm", _prepare_submission, _submit, _show_submission)


def open_preview(node):
    """Write and open the contact sheet of the shot's mattes."""
    return _action(node, "Open preview", _prepare_shot, _write_preview, _show_preview)


def add_positive(node) -> None:
    """Enable the next positive click, keyed at the current frame near the middle of the Source
    (the nearest point no other click covers)."""
    _guarded(node, "Add click", _add_click, node, "positive")


def add_negative(node) -> None:
    """Enable the next negative click, keyed at the current frame near the middle of the Source
    (the nearest point no other click covers)."""
    _guarded(node, "Add click", _add_click, node, "negative")


def on_create(node) -> None:
    """onCreate of every HyperSeg node (created, loaded, pasted): only enabled clicks show a
    Viewer handle (knob visibility is not saved in the script); the object menu lists the
    node's objects (its items are not saved either)."""
    knobs.show_enabled_handles(node)
    objects.refresh_menu(node)


def add_object(node) -> None:
    """Ask for a name and add an object without clicks, made current (its clicks in the Viewer)."""
    _guarded(node, "Add object", _name_object, node, objects.add_object, "")


def rename_object(node) -> None:
    """Ask for a new name of the current object."""
    _guarded(node, "Rename object", _name_object, node, objects.rename_object,
             objects.read_state(node)["current"])


def remove_object(node) -> None:
    """Remove the current object and its clicks (one undo step)."""
    _guarded(node, "Remove object", lambda: feedback.report(node, "object {} removed".format(
        objects.remove_object(node))))


def knob_changed(node, knob) -> None:
    """knobChanged of a HyperSeg node: a click toggled shows or hides its handle; with `live` on,
    a click change schedules a segment (never renders here). Nothing while the plugin edits the
    node in bulk (edits.quiet: Track clicks' keys)."""
    if edits.is_quiet(node):
        return
    name = knob.name() if knob is not None else ""
    if name == objects.MENU_KNOB:
        objects.select(node, knob.value())
        return
    if name.endswith("_on"):
        node[name[:-len("_on")]].setVisible(bool(knob.value()))
    if live.is_live_knob(name) and node["live"].value():
        live.schedule(node, segment_frame)


def key_clicks(node) -> None:
    """Key every enabled click at the current frame, so that it can follow the object."""
    _guarded(node, "Key clicks", _key_clicks, node)


def reload_matte(node) -> None:
    """Read the node's matte files again: frames a farm render wrote since, frames that were
    missing when read (the inner Read shows those black and keeps them until reloaded)."""
    _guarded(node, "Reload matte", _reload_matte, node)


# -- the action pattern ---------------------------------------------------------------------------


def _action(node, title: str, prepare: Callable, work: Callable, finish: Callable):
    """plan = prepare(node) here (and the comp's folders allowed to a bridge the node may start),
    then work(plan, task) in a worker, then finish(node, plan, result) back in the main thread;
    errors of each reported."""
    try:
        plan = prepare(node)
        autostart.allow_comp_folders(node)
    except Exception as exc:  # noqa: BLE001 - reported to the artist
        feedback.report_error(node, title, exc)
        return None
    feedback.report(node, title + ": working...")
    return tasks.in_background("HyperSeg: " + title, lambda task: work(plan, task),
                               lambda result: _guarded(node, title, finish, node, plan, result),
                               lambda error: feedback.report_error(node, title, error))


def _guarded(node, title: str, function: Callable, *args) -> None:
    """function(*args) in the main thread, its errors reported."""
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - reported to the artist
        feedback.report_error(node, title, exc)


# -- Segment frame ------------------------------------------------------------------------------


def _prepare_frame(node) -> FramePlan:
    script.require_full_resolution()
    values = knobs.read_settings(node)
    info = sources.source_info(node, values.colorspace)
    frame = script.current_frame()
    if frame not in info.frames():
        raise PluginError("Frame {} is outside the Source's frames {}-{}.".format(frame, info.first, info.last))
    tracks, several = objects.export(node, lambda name: _with_track_marks(
        node, clicks.clicks_at(knobs.click_knobs(node), frame, info.width, info.height)),
        lambda own: values._replace(**own).frame_options())
    _check_candidate(values, several)
    per_object = _per_object_output(values, several)
    node_id, output = _node_files(node, values)
    if info.plates is not None:  # the Read's own files; the previous frame by render's rule
        return FramePlan(values, info, frame, info.plates, None, tracks, output, several, per_object)
    rendered = paths.source_pattern(output, node_id)
    current = sources.render_frame(node, rendered, frame)
    previous = sources.render_frame(node, rendered, frame - 1) if frame - 1 in info.frames() else None
    return FramePlan(values, info, frame, current, previous, tracks, output, several, per_object)


def _check_candidate(values: knobs.NodeSettings, several: Optional[Dict]) -> None:
    """With several objects the node's alpha is their union (the matte's A), each object's
    matte its layer <name>.alpha; the candidate menu picks among one object's candidates only."""
    if several and values.candidate != 1:
        raise PluginError("The candidate menu works with one object: set it to best (each object's matte "
                          "is its layer <name>.alpha, the alpha their union).")


def _per_object_output(values: knobs.NodeSettings, several: Optional[Dict]) -> Optional[str]:
    """The pattern of the objects' own files (the output per object knob), None when it is
    empty. Every request that writes the node's matte writes them too, so they always hold the
    matte's layers. PluginError on a node of one object, whose file is the matte output."""
    if not values.output_per_object:
        return None
    if not several:
        raise PluginError("output per object needs several objects (one object's matte is the matte output): "
                          "add an object, or clear output per object.")
    return paths.object_pattern(values.output_per_object)


def _node_files(node, values: knobs.NodeSettings):
    """(node id, matte pattern) of a node about to write; PluginError when another node shows
    (and so owns) that matte."""
    node_id = knobs.claim_node_id(node, script.hyperseg_nodes(node.Class()))
    output = paths.matte_pattern(values.matte_output, script.script_path(), node_id)
    for other in script.hyperseg_nodes(node.Class()):
        if other != node and other["matte_file"].value() == output and other["node_id"].value() != node_id:
            raise PluginError("{} shows the matte {}: give this node another matte output.".format(
                other.name(), output))
    return node_id, output


def _segment_frame(plan: FramePlan, task) -> Dict:
    task.setMessage("frame {}".format(plan.frame))
    client = connection.connect(settings.bridge_url(plan.values.bridge_url), plan.values.autostart)
    if plan.values.checkpoint:
        connection.model_checkpoint(client, plan.values.checkpoint)
    return client.segment(input=plan.input, frame=plan.frame, clicks=plan.clicks, output=plan.output,
                          previous=plan.previous, options=plan.values.frame_options(),
                          colorspace=plan.source.colorspace, ocio_config=plan.source.ocio_config,
                          objects=plan.objects, output_per_object=plan.output_per_object)


def _show_frame(node, plan: FramePlan, result: Dict) -> None:
    matte.show_matte(node, plan.output, plan.source.first, plan.source.last, bool(plan.objects))
    timings = result["timings"]
    cached = " (features cached)" if timings["features_cached"] else ""
    feedback.report(node, "frame {}: {:.0%} in the matte, {:.2f} s{}".format(
        plan.frame, result["coverage"], timings["request_s"], cached))


# -- the shot file ------------------------------------------------------------------------------


def _prepare_shot(node) -> ShotPlan:
    script.require_full_resolution()
    values = knobs.read_settings(node)
    info = sources.source_info(node, values.colorspace)
    tracks, several = objects.export(node, lambda name: _with_track_marks(
        node, clicks.export_tracks(knobs.click_knobs(node), info.frames(), info.width, info.height)),
        lambda own: values._replace(**own).options())
    _check_candidate(values, several)
    per_object = _per_object_output(values, several)
    script_file = script.script_path()
    node_id, output = _node_files(node, values)
    plates, render = info.plates, None
    if plates is None:  # rendered by a background Nuke in the worker, never here
        plates = paths.source_pattern(output, node_id)
        render = background.prepare(node, plates, info.first, info.last)
    data = shotfile.shot_data(plates, info.first, info.last, output, tracks, values.options(),
                              colorspace=info.colorspace, ocio_config=info.ocio_config, objects=several,
                              output_per_object=per_object)
    return ShotPlan(values, info, data, output, script_file, node_id, render)


def _render_source(plan: ShotPlan, task) -> None:
    """Worker: the Source frames the shot reads, when they must be rendered."""
    if plan.source_render is not None:
        background.run(plan.source_render, task)


def _write_shot(plan: ShotPlan, path: str, checkpoint: str) -> None:
    shotfile.write_shot(path, dict(plan.data, checkpoint=checkpoint) if checkpoint else plan.data)


def _connect_and_write(plan: ShotPlan, path: str):
    """A client of the node's bridge, after writing the shot file `path` with the bridge's model."""
    client = connection.connect(settings.bridge_url(plan.values.bridge_url), plan.values.autostart)
    _write_shot(plan, path, connection.model_checkpoint(client, plan.values.checkpoint))
    return client


# -- Segment range ------------------------------------------------------------------------------


def _render_range(plan: ShotPlan, task) -> Dict:
    _render_source(plan, task)
    path = paths.shot_file(plan.script, plan.node_id)
    client = _connect_and_write(plan, path)
    return jobs.follow_job(client, client.start_job(shot_path=path), task)


def _show_range(node, plan: ShotPlan, job: Dict) -> None:
    matte.show_matte(node, plan.output, plan.source.first, plan.source.last, "objects" in plan.data)
    summary = "frames {}-{} {}".format(plan.source.first, plan.source.last, jobs.job_summary(job))
    if job["state"] == "failed":
        raise PluginError(summary)
    feedback.report(node, summary)


# -- Submit to farm -----------------------------------------------------------------------------


def _prepare_submission(node) -> FarmPlan:
    farm = settings.farm_name(knobs.read_settings(node).farm)  # before rendering anything
    shot = _prepare_shot(node)
    return FarmPlan(shot, farm, paths.farm_shot_file(shot.script, shot.node_id))


def _submit(plan: FarmPlan, task) -> Dict:
    _render_source(plan.shot, task)
    task.setMessage("submitting to " + plan.farm)
    client = _connect_and_write(plan.shot, plan.path)
    return client.submit(plan.path, plan.farm, chunk_size=plan.shot.values.chunk_size)


def _show_submission(node, plan: FarmPlan, result: Dict) -> None:
    """Report the submission and point the node at the farm's output (the shot's matte pattern):
    its frames read black until written; Reload matte reads them as they arrive."""
    message = result.get("message") or ("submitted" if result.get("submitted") else "not submitted")
    if result.get("job_id"):
        message += " (job {})".format(result["job_id"])
    matte.show_matte(node, plan.shot.output, plan.shot.source.first, plan.shot.source.last,
                     "objects" in plan.shot.data)
    message += "; the node shows the farm's mattes: press Reload matte as frames arrive"
    feedback.report(node, "Submit to farm ({}): {}".format(result.get("farm"), message))
    command = "" if result.get("submitted") or not result.get("command") else "\n\n" + command_line(result["command"])
    script.show_message("HyperSeg: {}{}\n\nShot file: {}".format(message, command, plan.path))


# -- Open preview -------------------------------------------------------------------------------


def _write_preview(plan: ShotPlan, task) -> str:
    _render_source(plan, task)
    task.setMessage("contact sheet")
    shot, sheet = paths.preview_files(plan.output, plan.script, plan.node_id)
    _write_shot(plan, shot, plan.values.checkpoint)
    preview.write_contact_sheet(shot, sheet)
    preview.open_file(sheet)
    return sheet


def _show_preview(node, plan: ShotPlan, sheet: str) -> None:
    feedback.report(node, "preview: " + sheet)


# -- click helpers ------------------------------------------------------------------------------


def _with_track_marks(node, tracks: list) -> list:
    """The exported tracks of the enabled clicks with what the last Track clicks remembers: keys
    that are tracking's marked tracked, dropped clicks marked dropped (hyperseg_nuke.track_memory)."""
    names = [knob.name for knob in knobs.click_knobs(node) if knob.enabled]
    memory = track_memory.read_memory(node[track_memory.MEMORY_KNOB].value())
    return track_memory.mark_tracked(tracks, names, memory)


def _add_click(node, label: str) -> None:
    """One undo step; with live on, the new click segments (its knobChanged is not quieted)."""
    info = sources.source_info(node)
    frame = script.current_frame()
    taken = [knob.position(frame) for knob in knobs.click_knobs(node) if knob.enabled]
    with edits.undo_step("HyperSeg: add {} click".format(label)):
        name = knobs.add_click(node, label, frame, clicks.free_point(taken, info.width, info.height))
    if not name:
        raise PluginError("All {} {} clicks are in use: disable one, or move it.".format(knobs.CLICK_SLOTS, label))
    feedback.report(node, "{} {} added at frame {}: drag it onto the {} in the Viewer.".format(
        label, name[3:], frame, "object" if label == "positive" else "background"))


def _name_object(node, change: Callable, default: str) -> None:
    """change(node, name) with the name the artist types (a Nuke layer name); nothing on cancel."""
    name = script.get_input("Object name (a Nuke layer name: letters, digits, _)", default)
    if name is None:
        return
    change(node, name.strip())
    feedback.report(node, "object {} (objects: {})".format(name.strip(), ", ".join(objects.names(node))))


def _reload_matte(node) -> None:
    if not node["has_matte"].value():
        raise PluginError("No matte yet: press Segment frame, Segment range or Submit to farm first.")
    matte.reload(node)
    feedback.report(node, "matte reloaded: " + node["matte_file"].value())


def _key_clicks(node) -> None:
    """One undo step, callbacks quiet: keying where the clicks already are changes no matte."""
    frame = script.current_frame()
    with edits.undo_step("HyperSeg: key clicks"), edits.quiet(node):
        keyed = knobs.key_clicks(node, frame)
    if not keyed:
        raise PluginError("No click is enabled: enable one on the Clicks tab first.")
    feedback.report(node, "keyed {} at frame {}".format(", ".join(keyed), frame))
