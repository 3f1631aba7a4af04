"""Following a bridge job from a worker thread: its progress in Nuke's progress bar, the bar's
cancel button cancelling the job (the frame in flight finishes, as the bridge does it)."""

import time
from typing import Dict

from hyperseg_nuke.bridge_client import FINISHED_STATES, BridgeClient

#: Seconds between two looks at the job.
POLL_INTERVAL = 0.25


def follow_job(client: BridgeClient, job: Dict, task, interval: float = POLL_INTERVAL) -> Dict:
    """Poll `job` until it has ended, showing its progress on `task` (a nuke.ProgressTask) and
    cancelling it once when the artist cancels the task. The job's final state."""
    cancelled = False
    while job["state"] not in FINISHED_STATES:
        if task.isCancelled() and not cancelled:
            job = client.cancel_job(job["id"])
            cancelled = True
        else:
            time.sleep(interval)
            job = client.job(job["id"])
        task.setProgress(int(100 * job["done"] / max(1, job["frames"])))
        task.setMessage(progress_text(job))
    return job


def progress_text(job: Dict) -> str:
    """`12 of 40 frames, about 30 s left` / `cancelling after 12 of 40 frames`."""
    done = "{} of {} frames".format(job["done"], job["frames"])
    if job["state"] == "cancelling":
        return "cancelling after " + done
    eta = job.get("eta_s")
    return done + (", about {:.0f} s left".format(eta) if eta is not None else "")


def job_summary(job: Dict) -> str:
    """One line on how a finished job went, naming the first failed frame."""
    text = "{}: {} of {} frames written".format(job["state"], job["written"], job["frames"])
    if job.get("skipped"):
        text += ", {} kept".format(job["skipped"])
    if job.get("errors"):
        first = job["errors"][0]
        text += "; {} failed (frame {}: {})".format(len(job["errors"]), first["frame"], first["message"])
    elif job.get("error"):
        text += "; " + job["error"]
    return text
