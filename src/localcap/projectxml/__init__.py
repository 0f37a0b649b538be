"""REDCap project XML (CDISC ODM 1.3.1 with ``redcap:`` extensions): import and export.

* :mod:`.safexml` reads untrusted XML safely and in constant memory (no DTDs, no entities,
  raw line breaks inside attribute values kept, as REDCap's own importer keeps them).
* :mod:`.importer` builds a whole project (design, reports, records, files) from one file in
  one transaction, and names everything it could not bring over in a warning list; a
  package with a module per concern (design reading, project creation, dictionary fields,
  reports, clinical data, files).
* :mod:`.exporter` streams a project back out in REDCap's layout (a package: head and
  settings, metadata, clinical data).
* :mod:`.vocabulary` holds the ``redcap:`` names both directions share.
"""

from localcap.projectxml.safexml import ProjectXmlError

__all__ = ["ProjectXmlError"]
