"""Click tracking: carry clicks keyed on a few frames through the shot with measured motion,
checked against the mattes, so that one click follows a moving object.

Modules: flow (DIS optical flow, carrying points, warping masks), check (a carried click against
the object's place), track (the pass over a shot, `hyperseg-vfx track`).
"""

from .track import TrackError, TrackResult, artist_keys, check_trackable, keyframes_of, track_shot

__all__ = ["TrackError", "TrackResult", "artist_keys", "check_trackable", "keyframes_of", "track_shot"]
