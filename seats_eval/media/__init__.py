"""Media: synthetic test clips and decoding of real videos (frames at a fixed fps + audio track)."""
