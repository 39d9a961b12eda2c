"""One line, then silence: a tracker that fails while logging is switched off, never the runs."""
from __future__ import annotations

import functools

from . import one_line, say_off


def guarded(method):
    """Run ``method`` unless its tracker is off; an exception switches the tracker off (said once)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "off", False):
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.off = True
            say_off(self.kind, f"failed while logging: {one_line(exc)}")
            return None
    return wrapper
