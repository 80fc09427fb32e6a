"""An HDF5 file written under a temporary name that survives a full disk.

HDF5 does not recover from a failed write: every later flush fails again, closing the file
raises from each object's destructor, and h5py can crash the interpreter at exit (exit 139).
So the file is written through :class:`_Sink`, a file object that remembers the first
failed write and from then on drops writes while reporting them done: HDF5 finishes and
closes cleanly, and :meth:`H5Output.commit` then removes the temporary and raises one
:class:`~sleepfm.errors.DiskFullError` (or the other ``OSError``) instead.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import h5py

from sleepfm.errors import disk_full


class _Sink(io.RawIOBase):
    """A binary file that turns the first failed write into :attr:`error` instead of raising."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        # Unbuffered: a failed write surfaces in write(), not later in a seek that flushes.
        self._file = open(path, "w+b", buffering=0)  # noqa: SIM115 - closed in close()
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                written = 0
                while written < len(view):  # a raw write may be short, e.g. as the disk fills
                    count = self._file.write(view[written:])
                    if not count:
                        raise OSError(errno.ENOSPC, "No space left on device", str(self._file.name))
                    written += count
                return written
            except OSError as exc:
                self.error = exc
        self._file.seek(len(view), io.SEEK_CUR)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._file.truncate(size)
            except OSError as exc:
                self.error = exc
        return self._file.tell() if size is None else size

    def flush(self) -> None:
        if self.error is None and not self._file.closed:
            try:
                self._file.flush()
            except OSError as exc:
                self.error = exc

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            try:
                self._file.close()
            except OSError as exc:
                self.error = self.error or exc
        super().close()


class H5Output:
    """``h5py.File`` (:attr:`file`) at ``temporary``; :meth:`commit` moves it to its final name."""

    def __init__(self, temporary: Path) -> None:
        self.temporary = Path(temporary)
        self._sink = _Sink(self.temporary)
        try:
            self.file = h5py.File(self._sink, "w")
        except BaseException:
            self._sink.close()
            self.temporary.unlink(missing_ok=True)
            raise

    def finish(self) -> Path:
        """Close the file, keeping the temporary; on a failed write remove it and raise."""
        try:
            self.file.close()
            self._sink.close()
            if self._sink.error is not None:
                raise disk_full(self._sink.error, self.temporary.parent) or self._sink.error
        except BaseException:
            self.discard()
            raise
        return self.temporary

    def commit(self, final: Path) -> Path:
        """:meth:`finish`, then rename the file to ``final``."""
        self.finish()
        try:
            os.replace(self.temporary, final)
        except BaseException:
            self.temporary.unlink(missing_ok=True)
            raise
        return final

    def discard(self) -> None:
        """Close without raising and remove the temporary."""
        try:
            if self.file.id.valid:
                self.file.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass
        self._sink.close()
        self.temporary.unlink(missing_ok=True)
