"""A storage shaped like object storage (S3, MinIO, Ceph): files by name through Django's storage
API only. It has no local path and no public URL; anything outside the storage that asks for
either fails."""

import os

from django.core.files.storage import InMemoryStorage
from django.utils._os import safe_join


class NoLocalPathStorage(InMemoryStorage):
    def path(self, name):
        raise NotImplementedError("object storage: a file has no path on a local disk")

    def url(self, name):
        raise NotImplementedError("object storage: files are streamed by the platform, never linked")

    # InMemoryStorage keys its tree by the path a file would have had on disk: keep that internal.
    def _relative_path(self, name):
        return os.path.relpath(safe_join(self.location, name), self.location)

    def _resolve(self, name, create_if_missing=False, leaf_cls=None, check_exists=True):
        try:
            return super()._resolve(name, create_if_missing, leaf_cls, check_exists)
        except NotImplementedError:  # the parent names a file that is in the way by its path()
            raise FileExistsError(f"{name} exists and is not a directory.") from None
