"""``kiln demo``: the taxi example end to end on the embedded store.

Trains gradient boosting on synthetic New York taxi trips as a tracked project
run, registers the model with the alias ``champion``, serves it in a real
``kiln models serve`` process with token auth, and scores trips through it.
See ``kiln.demo.session.run_demo``.
"""
