"""MLflow REST JSON <-> Kiln entities: pure functions shared by the server and the REST store.

``kiln.wire.fields`` reads typed request fields, ``kiln.wire.tracking`` converts
entities, ``kiln.wire.errors`` maps error envelopes to exception classes.
"""
