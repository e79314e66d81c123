"""Runs the policy pack's rules (policy/rules.py) over an offline Evaluation.

The rules see what they would see under ``pulumi preview --policy-pack policy``:

- each resource's inputs, with the provider's default tags merged into ``tagsAll`` the way
  pulumi-aws does before Check (``rules.merge_default_tags``), for every type whose pulumi-aws
  class takes ``tags``;
- the mock engine's placeholder ids (``<logical>-<type>-id``) as unknown values, as in a preview of new
  resources (they are not names: the real id of an RDS cluster is its identifier, for instance);
- for stack rules, per property, the resources whose identifying outputs (id, ARN, name) the value
  holds (what the engine reports as property dependencies), and each resource's dependencies.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from plan import engine
from policy import rules

# Outputs that identify a resource when another resource's input holds them (ids, ARNs, names).
REFERENCE_OUTPUTS = (
    "id",
    "arn",
    "name",
    "bucket",
    "clusterIdentifier",
    "globalClusterIdentifier",
    "functionName",
    "alarmName",
)


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None = None

    def __str__(self) -> str:
        return f"[{self.policy}] {self.message}"


@functools.cache
def taggable(type_: str) -> bool:
    """Whether the pulumi-aws resource class of a type token takes `tags` (the provider then tags it)."""
    package, module, class_name = type_.split(":")
    if package != "aws":
        return False
    module_name = module.split("/")[0]
    try:
        sdk = importlib.import_module("pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}")
    except ImportError:
        return False
    resource_class = getattr(sdk, class_name, None)
    init = getattr(resource_class, "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class _Adapter:
    def __init__(self, evaluation: engine.Evaluation):
        self.evaluation = evaluation
        self.providers = {r.urn: r for r in evaluation.resources if r.type.startswith("pulumi:providers:")}
        self.by_output: dict[str, set[str]] = {}
        for record in evaluation.managed:
            for key in REFERENCE_OUTPUTS:
                value = record.outputs.get(key)
                if isinstance(value, str):
                    self.by_output.setdefault(value, set()).add(record.urn)
        self.placeholder_ids = {r.outputs.get("id") for r in evaluation.managed}

    def _value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v) for v in value]
        if value == engine.COMPUTED or (isinstance(value, str) and value in self.placeholder_ids):
            return rules.UNKNOWN
        return value

    def props(self, record: engine.ResourceRecord) -> dict[str, Any]:
        props = self._value(record.inputs)
        if taggable(record.type):
            provider = self.providers.get(record.provider_urn or "")
            props = rules.merge_default_tags(props, provider.inputs if provider else {})
        return props

    def property_dependencies(self, record: engine.ResourceRecord) -> dict[str, frozenset[str]]:
        found = {}
        for key, value in record.inputs.items():
            urns = {urn for text in _strings(value) for urn in self.by_output.get(text, ())} - {record.urn}
            if urns:
                found[key] = frozenset(urns)
        return found

    def resource(self, record: engine.ResourceRecord) -> rules.Resource:
        return rules.Resource(
            urn=record.urn,
            type=record.type,
            name=record.name,
            props=self.props(record),
            region=record.region,
            dependencies=frozenset(record.dependencies),
            property_dependencies=self.property_dependencies(record),
        )


def suffix_config(raw_config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The pack's policy config for a stack config: the suffix rule reads environmentSuffix."""
    return {"names-carry-suffix": {rules.SUFFIX_CONFIG: raw_config.get("environmentSuffix")}}


def check(
    evaluation: engine.Evaluation, policy_config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    """Every violation of every rule, resource rules first, in resource order."""
    policy_config = policy_config or {}
    adapter = _Adapter(evaluation)
    resources = [adapter.resource(record) for record in evaluation.managed]
    violations = []
    for rule in rules.RESOURCE_RULES:
        config = policy_config.get(rule.name, {})
        for resource in resources:
            for message in rule.check(resource.type, resource.props, name=resource.name, config=config):
                violations.append(Violation(rule.name, message, resource.urn))
    for stack_rule in rules.STACK_RULES:
        for urn, message in stack_rule.check(resources, policy_config.get(stack_rule.name, {})):
            violations.append(Violation(stack_rule.name, message, urn))
    return violations
