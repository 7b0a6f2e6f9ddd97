"""Write OGC 3D Tiles 1.1, terrain and imagery from in-memory objects. No web, no database."""
