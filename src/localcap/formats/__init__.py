"""Output writers (csv/json/xml/odm) that consume row streams, and parsers for imported data."""
