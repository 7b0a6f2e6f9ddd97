"""Read and reproject source data into plain in-memory objects; no tiles, no web."""
