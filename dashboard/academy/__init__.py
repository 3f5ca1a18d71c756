"""The academy itself: lectures, sessions, students, enrollments, exams, homework, uploads."""
