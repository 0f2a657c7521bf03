"""Operating policy: versions, preview, publish a new version, agreement counts."""
