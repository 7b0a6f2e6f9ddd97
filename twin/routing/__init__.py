"""Walking and cycling on the OSM network, scored by what a planner cares about (noise, air,
shade, greenery, schools), plus 15-minute-city accessibility and bike-lane siting."""
