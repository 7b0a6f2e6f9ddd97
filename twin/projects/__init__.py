"""Urban projects: variants over the base scene, public meetings, citizens' comments and votes."""
