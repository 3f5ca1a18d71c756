"""The clinic: links (who needs a remedial class, and why) and the queue staff work through."""
