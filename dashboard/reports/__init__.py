"""Monthly student reports: their figures, PDFs and parent links (SPEC §15)."""
