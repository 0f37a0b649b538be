"""Use cases: one function per thing a caller (API, CLI, survey pages, project XML) does."""
