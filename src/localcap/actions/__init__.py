"""Use cases: one function per thing the API, the CLI, the survey pages or the demo do."""
