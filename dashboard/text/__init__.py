"""Text as people type and read it: names that show something, cells a spreadsheet will not run."""
