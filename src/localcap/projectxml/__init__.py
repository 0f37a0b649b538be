"""REDCap project XML (CDISC ODM 1.3.1 with ``redcap:`` extensions): import and export.

* :mod:`.safexml` reads untrusted XML safely and in constant memory (no DTDs, no entities,
  raw line breaks inside attribute values kept, as REDCap's own importer keeps them).
* :mod:`.importer` (a package: design reading, project creation, reports, clinical data,
  files) builds a whole project from one file in
  one transaction, and names everything it could not bring over in a warning list.
* :mod:`.exporter` streams a project back out in REDCap's layout.
* :mod:`.vocabulary` holds the `redcap:` names both directions share.
"""

from localcap.projectxml.safexml import ProjectXmlError

__all__ = ["ProjectXmlError"]
