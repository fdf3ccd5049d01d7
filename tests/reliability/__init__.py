"""Reliability suite: kill -9, duplicates and reordering, hostile input, fuzzing."""
