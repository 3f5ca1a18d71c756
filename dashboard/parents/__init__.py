"""Guardians, counselling notes and the notifications sent to guardians (SPEC §14)."""
