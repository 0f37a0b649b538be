"""localcap: a fast, self-hostable server that speaks the REDCap API."""

__version__ = "0.1.0"

#: The REDCap version localcap reports through ``content=version``: the API
#: documentation this server follows (the spec articles are REDCap v16.1.3's).
REDCAP_VERSION = "16.1.3"
