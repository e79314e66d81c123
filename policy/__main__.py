"""The payment-dr policy pack: `pulumi preview --policy-pack policy` (from the project root).

Every rule is a plain function in rules.py, shared with the offline plan (`python -m plan`); this
file only adapts pulumi-policy's arguments to them:

- properties become plain dicts, with values unknown during preview as ``rules.UNKNOWN``;
- pulumi-aws fills ``tagsAll`` with the provider's default tags before the pack sees an SDKv2
  resource; for the others (plugin-framework resources) the provider's ``defaultTags`` are merged
  here the same way (``rules.merge_default_tags``);
- the suffix rule reads ``environmentSuffix`` from the pack's config (schema below), falling back to
  the stack's own ``payment-dr:environmentSuffix``.

All rules are mandatory: a violation fails the preview and stops `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

import rules  # the pack's directory is on sys.path when Pulumi runs it (runpy.run_path)

STACK_NAMESPACE = "payment-dr"


def plain(value: Any) -> Any:
    """pulumi-policy's proxies as plain values; unknown values as rules.UNKNOWN, secrets unwrapped."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = rules.UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def _config(rule_name: str, configured: Mapping[str, Any]) -> dict[str, Any]:
    config = dict(configured or {})
    if rule_name == "names-carry-suffix" and not config.get(rules.SUFFIX_CONFIG):
        config[rules.SUFFIX_CONFIG] = pulumi.Config(STACK_NAMESPACE).get(rules.SUFFIX_CONFIG)
    return config


def _props(props: Any, provider: Any) -> dict[str, Any]:
    props = plain(props)
    if "tags" in props and "tagsAll" not in props:
        props = rules.merge_default_tags(props, plain(provider.props) if provider else {})
    return props


def _region(props: Mapping[str, Any], provider: Mapping[str, Any]) -> str | None:
    """pulumi-aws 7 resources take a `region` of their own; otherwise the provider's."""
    region = props.get("region")
    return region if isinstance(region, str) and region and not rules.is_unknown(region) else provider.get("region")


def resource_policy(rule: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        props = _props(args.props, args.provider)
        for message in rule.check(
            args.resource_type, props, name=args.name, config=_config(rule.name, args.get_config())
        ):
            report_violation(message)

    schema = PolicyConfigSchema(properties=dict(rule.config_schema)) if rule.config_schema else None
    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=schema,
    )


def stack_policy(rule: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = []
        for r in args.resources:
            props = _props(r.props, r.provider)
            provider = plain(r.provider.props) if r.provider else {}
            resources.append(
                rules.Resource(
                    urn=r.urn,
                    type=r.resource_type,
                    name=r.name,
                    props=props,
                    region=_region(props, provider),
                    dependencies=frozenset(d.urn for d in r.dependencies),
                    property_dependencies={k: frozenset(d.urn for d in v) for k, v in r.property_dependencies.items()},
                )
            )
        for urn, message in rule.check(resources, _config(rule.name, args.get_config())):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


PolicyPack(
    name="payment-dr",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(resource_policy(rule) for rule in rules.RESOURCE_RULES),
        *(stack_policy(rule) for rule in rules.STACK_RULES),
    ],
)
