"""Click tracking: carry clicks keyed on a few frames through the shot with measured motion,
checked against the mattes, so that one click follows a moving object.

Modules: check (a carried click against the object's place), track (the pass over a shot,
`hyperseg-vfx track`); the motion itself is measured by hyperseg_vfx.motion.
"""

from .track import TrackError, TrackResult, artist_keys, check_trackable, keyframes_of, track_shot

__all__ = ["TrackError", "TrackResult", "artist_keys", "check_trackable", "keyframes_of", "track_shot"]
