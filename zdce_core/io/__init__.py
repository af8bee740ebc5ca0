"""Photo I/O: reading and writing image files, their metadata and codecs, atomic writes."""
