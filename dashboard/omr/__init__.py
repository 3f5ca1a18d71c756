"""OMR: scanned answer sheets taken in, graded against the answer key, and reviewed by people."""
