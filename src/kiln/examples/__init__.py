"""The use-case examples shipped in ``examples/`` and ``kiln examples list/run-all``.

=========================  =====================================================
module                     job
=========================  =====================================================
kiln.examples.catalog      find the examples, read and check kiln-example.yaml
kiln.examples.pipeline     one example: train (as a project), register, serve, query
kiln.examples.scoring      a real ``kiln models serve`` process with token auth
kiln.examples.checks       judge a scoring answer (status, count, finite numbers)
kiln.examples.taxi         the seeded synthetic NYC taxi-trip generator
=========================  =====================================================
"""
