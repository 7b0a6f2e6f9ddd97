"""Live sensors: devices and their quantities, observations with rollups, alerts, ingest
(HTTP, MQTT, NGSI-LD), exports and the simulator of the metropolis's set-up."""
