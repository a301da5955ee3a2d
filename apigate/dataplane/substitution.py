"""Stage-variable substitution in integration URIs (``${stageVariables.x}`` and ``$stageVariables.x``).

Mapping templates are full Velocity (``apigate.dataplane.mapping``); URIs only ever take stage variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}|\$stageVariables\.([A-Za-z0-9_]+)")


def stage_variables(text: str, variables: Mapping[str, str]) -> str:
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)
