"""The domain model: projects, their design, users and rights, record rows. No HTTP here."""
