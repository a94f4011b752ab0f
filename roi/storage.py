"""Where documents, letters, packets and invoices are kept (settings.STORAGES["default"]): Django's file system
storage, all or nothing.

Django writes a file straight under its final name, so a write that fails half-way (a full disk, a folder made
read-only or unmounted) leaves a truncated file that looks like a document. Here the file is first written under a
temporary name of its own in the same folder, then linked under its final name once complete: a failed write removes
only what it wrote itself, and a final name never shows a partial file. The error still reaches the caller, whose
transaction rolls back its rows (roi.views.health.server_error answers 503 for a storage that refuses to write).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import uuid
from typing import Any

from django.core.files.storage import FileSystemStorage

PARTIAL_PREFIX = ".partial-"
# What os.link answers on a file system that has no hard links.
NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class MediaStorage(FileSystemStorage):
    def _save(self, name: str, content: Any) -> str:
        partial = posixpath.join(posixpath.dirname(name), f"{PARTIAL_PREFIX}{uuid.uuid4().hex}")
        partial_path = self.path(partial)
        try:
            written = self.path(super()._save(partial, content))  # type: ignore[misc]  # FileSystemStorage's hook, absent from the stubs  # a new, unique name: whatever is there is ours
            while True:
                full_path = self.path(name)
                try:
                    os.link(written, full_path)  # never over an existing file
                except FileExistsError:
                    name = self.get_available_name(name)
                    continue
                except OSError as error:
                    if error.errno not in NO_HARD_LINKS:
                        raise
                    # A file system without hard links (some network mounts): a rename to a name just seen free,
                    # which races only with another writer of the same random name, as Django's own storage does.
                    if os.path.lexists(full_path):
                        name = self.get_available_name(name)
                        continue
                    os.rename(written, full_path)
                break
        finally:
            # Gone already (linked and removed, or never created), or a folder that has just turned read-only: the
            # caller must see the write's own error, not this one's.
            with contextlib.suppress(OSError):
                os.unlink(partial_path)
        return os.path.relpath(full_path, self.location).replace("\\", "/")
