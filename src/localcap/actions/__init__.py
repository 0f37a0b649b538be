"""Use cases: one function per thing a caller (the API, the CLI, the survey pages, the project
XML importer, the demo) asks of localcap, written once over the domain and the storage."""
