"""Storage: the schema, the engine, and the queries the domain needs."""
