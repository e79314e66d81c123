"""drctl: the DR operations CLI, the manual failover runbook as an executable tool.

It needs AWS credentials (the DR operator role) and the stack's config file, nothing else: no
Pulumi, no Pulumi state, because Pulumi may be unreachable when a region fails. Physical names come
from the same naming catalog the program uses (core/naming.py). docs/runbook.md tells when to run
which command.
"""

__version__ = "0.1.0"
