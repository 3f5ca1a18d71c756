"""A lecture's grid of students by sessions and the edits of one cell."""
