"""Lambda aliases in the local cloud: moto's CloudFormation has no ``AWS::Lambda::Alias``.

The blueprint's mappings invoke each function through its alias ``live``
(sqs_blueprint_cdk/delivery.py). Locally the alias is left out and each mapping
that names it names its function instead, so the runner invokes the function
as deployed; the function's ``AWS::Lambda::Version`` is still published. Any
other use of an alias cannot be rewritten and is refused.
"""

from __future__ import annotations

import json
from typing import Any

from sqs_blueprint.errors import SqsBlueprintError

ALIAS = "AWS::Lambda::Alias"
EFFECT = "aliases are not created; each mapping invokes its function itself"


def inline_aliases(template: dict[str, Any]) -> None:
    """Drop ``template``'s aliases and point the mappings that use them at the function."""
    resources: dict[str, Any] = template.get("Resources", {})
    aliases = {lid: r for lid, r in resources.items() if r.get("Type") == ALIAS}
    for lid, alias in aliases.items():
        del resources[lid]
        function = alias["Properties"]["FunctionName"]
        for resource in resources.values():
            props = resource.get("Properties", {})
            if resource.get("Type") == "AWS::Lambda::EventSourceMapping" and _uses(
                props.get("FunctionName"), lid
            ):
                props["FunctionName"] = function
            depends = resource.get("DependsOn")
            if isinstance(depends, list):
                resource["DependsOn"] = [d for d in depends if d != lid]
            elif depends == lid:
                del resource["DependsOn"]
        if _uses(template, lid):
            raise SqsBlueprintError(
                f"alias {lid} is used other than as an event-source mapping's function, "
                "which the local cloud cannot create"
            )


def _uses(value: Any, logical_id: str) -> bool:
    text = json.dumps(value)
    return f'{{"Ref": "{logical_id}"}}' in text or f'"Fn::GetAtt": ["{logical_id}", ' in text
