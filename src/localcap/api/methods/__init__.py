"""One module per API method family; :mod:`localcap.api.routes` says which serves what."""
