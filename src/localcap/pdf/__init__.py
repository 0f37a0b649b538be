"""Export PDF (``content=pdf``): data collection instruments as a PDF, blank or with data.

Two halves, neither knows HTTP:

* :mod:`localcap.pdf.content` decides *what* is printed: which instruments, records, events
  and instances, each field's value, and what the caller's rights remove.
* :mod:`localcap.pdf.render` decides *how*: fpdf2 pages with a header, wrapped labels,
  boxes, radio circles and check boxes, in an embedded Unicode font (:mod:`localcap.pdf.fonts`).

The HTTP handler is :mod:`localcap.api.methods.pdf`.
"""
