"""The snapshot importer: a whole academy, or any part of it, validated, planned and applied at once."""
