"""Use cases: what a caller asks localcap to do, written once for every way of asking.

A use case is one function (or a small class when it is fed in steps) that carries out one
thing a user does -- import records, create a project -- from checked domain values to stored
rows, inside a transaction its caller opened. It may use storage (``db``, ``files``) and the
domain (``model``, ``logic``, ``reports``, ``formats``); it knows nothing of HTTP, the command
line or HTML.

Its callers are the front ends: the API handlers (``api/methods``), the CLI (``cli.py``), the
demo (``demo.py``), the survey pages (``surveys``) and the project XML importer
(``projectxml``). They parse their own input, open the transaction (the API under the
project's write lock) and format the answer; the steps in between live here, so the API and
a survey save, say, cannot drift apart in how a record is written.

Modules:

- :mod:`localcap.actions.import_records`: write checked record-import plans (Import Records,
  survey saves, project XML clinical data, the demo's records).
- :mod:`localcap.actions.create_project`: create a project with its first design, and give
  its creator full rights and a token (Create Project, project XML import, the demo).
"""
