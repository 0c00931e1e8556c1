"""`labledger demo`: a small, plausible lab in an empty database, with a day of true history.

The cast (people, badges, a printer farm, a laser on a Tasmota plug, a door
reader, a product with a value equation) is made through the same services as
the API. The day is replayed through the real paths, not written into tables:
the devices' own MQTT messages (Bambu reports, Klipper status, Tasmota
telemetry, lab/v1 badge scans) go through the topic router, the vendor codecs
and the ingest worker; the sales are signed generic-webhook deliveries posted
to the application itself. So what the API shows afterwards is what LabLedger
would have recorded had the lab really run that day.
"""
