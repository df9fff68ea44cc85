"""Operator tools behind the ``speakerverify`` subcommands: one module per command group.

Every function here takes resolved settings (database URL included) and raises ``OperatorError``
for bad input; ``speakerverify.cli`` turns that into exit status 2 and a message.
"""
