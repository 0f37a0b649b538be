"""Reports: their definitions (REDCap defines them in its web UI; we take JSON) and export."""
