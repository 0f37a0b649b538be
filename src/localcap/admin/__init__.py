"""Server administration for test suites and operators: project tokens for existing users,
snapshots of the whole server (database and files) and a whole-server reset.

The use cases here are shared by the ``localcap`` commands (:mod:`localcap.admin.cli`) and the
super-token admin endpoint (:mod:`localcap.api.admin`); they know the database and the file
store, never HTTP.
"""
