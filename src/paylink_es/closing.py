"""What holds connections or threads: closed by ``close``, or at the end of a ``with`` block."""

from __future__ import annotations

from typing import Self


class Closing:
    """``with thing:`` closes ``thing`` at the end of the block, as ``thing.close()`` does."""

    def close(self) -> None:
        """Release what this holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
