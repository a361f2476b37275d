"""Child processes that do not outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Looked up at import, in the parent: a forked child (``preexec_fn``) then only calls it.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(expected_parent_pid: int) -> None:
    """Ask the kernel to send this process SIGTERM when its parent dies, even by SIGKILL.

    Call it first thing in a child (``preexec_fn`` of a subprocess, or the start of a
    worker). If the parent is already gone (this process was re-parented before the
    request was made), SIGTERM is sent at once, so the child shuts down the same way.
    SIGTERM rather than SIGKILL: the child's own handler still shuts it down gracefully.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); the signal fires when the *thread* that
    started the child ends, so start children from a thread that lives as long as the
    parent (the main thread). On other systems this does nothing: children keep today's
    behaviour and may outlive a parent killed with SIGKILL.
    """
    if _prctl is None:
        return
    if _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != expected_parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)
