"""File storage for file-upload fields: where uploaded bytes live and how they come back.

No HTTP in here. The API layer calls :func:`open_store` once at start-up, ``put()`` on upload
(then stores the returned :class:`StoredFile` plus the client's original file name and the
sniffed mime type in the database), and :func:`aopen` on export. See ``store.py`` for the
contract every backend honours, ``mime.py`` for content sniffing and ``names.py`` for the
``Content-Type: <mime>; name="..."`` header.
"""

from localcap.files.mime import sniff_mime
from localcap.files.names import content_type_header, download_headers, safe_filename
from localcap.files.store import (
    FileStore,
    MissingFileError,
    StoreConfigError,
    StoredFile,
    aopen,
    open_store,
)
from localcap.files.verify import VerifyReport, verify_files

__all__ = [
    "FileStore",
    "MissingFileError",
    "StoreConfigError",
    "StoredFile",
    "VerifyReport",
    "aopen",
    "content_type_header",
    "download_headers",
    "open_store",
    "safe_filename",
    "sniff_mime",
    "verify_files",
]
