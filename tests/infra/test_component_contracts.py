"""The regional components' contract (docs/CONTRIBUTING-infra.md, "Component contracts").

Every ComponentResource of region_factory/ is built as ``Component(name, args, opts)``: ``args`` is a frozen,
keyword-only dataclass listing exactly what the component uses (ids, ARNs, names, the RegionContext), never
another component or a cloud resource, so its signature says what it depends on and nothing reaches into a
sibling. What the global layer reads of a region is RegionalOutputs, a record of the same kind.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator

import pulumi
import pytest

import region_factory
from region_factory.context import RegionContext
from region_factory.outputs import RegionalOutputs


def _components() -> list[type[pulumi.ComponentResource]]:
    found: dict[str, type[pulumi.ComponentResource]] = {}
    modules = [region_factory.__name__] + [
        f"region_factory.{m.name}" for m in pkgutil.iter_modules(region_factory.__path__)
    ]
    for name in modules:
        loaded = importlib.import_module(name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, pulumi.ComponentResource) and value.__module__.startswith("region_factory"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


COMPONENTS = _components()


def _hints(owner: object, **names: object) -> dict[str, object]:
    """typing.get_type_hints, knowing the names pulumi.Input's own annotation leaves unresolved."""
    return typing.get_type_hints(owner, localns={"Output": pulumi.Output, "T": pulumi.output.T, **names})


def _leaf_types(annotation: object) -> Iterator[object]:
    """Every type named in an annotation, through unions, containers and pulumi.Input/Output."""
    arguments = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is None:
        yield annotation
    else:
        yield origin
    for argument in arguments:
        yield from _leaf_types(argument)


def _resource_types(annotation: object) -> list[str]:
    return sorted(
        getattr(leaf, "__qualname__", str(leaf))
        for leaf in _leaf_types(annotation)
        if isinstance(leaf, type) and issubclass(leaf, pulumi.Resource)
    )


def _args_type(component: type[pulumi.ComponentResource]) -> type:
    return _hints(component.__init__)["args"]


def test_the_components_are_found() -> None:
    # Not vacuous: the factory's components (and the two the global layer builds per region) are all here.
    names = {component.__name__ for component in COMPONENTS}
    assert {"RegionalStack", "Network", "PaymentService", "PaymentApi", "DatabaseProbe", "LinkMonitoring"} <= names
    assert len(COMPONENTS) >= 12


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_a_component_takes_name_args_opts(component: type[pulumi.ComponentResource]) -> None:
    parameters = list(inspect.signature(component.__init__).parameters.values())
    assert [p.name for p in parameters] == ["self", "name", "args", "opts"], component.__name__
    assert parameters[3].default is None, f"{component.__name__}: opts is optional, as in every Pulumi component"
    hints = _hints(component.__init__)
    assert hints["name"] is str
    assert hints["opts"] == pulumi.ResourceOptions | None


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_its_args_are_a_frozen_keyword_only_record(component: type[pulumi.ComponentResource]) -> None:
    args = _args_type(component)
    assert dataclasses.is_dataclass(args), f"{component.__name__}: args must be a dataclass"
    assert args.__name__.endswith("Args"), f"{args.__name__}: name it <Component>Args"
    params = args.__dataclass_params__
    assert params.frozen, f"{args.__name__} is not frozen"
    fields = dataclasses.fields(args)
    assert all(f.kw_only for f in fields), f"{args.__name__} is not keyword-only"
    # Every component of a region knows which region: the context comes first.
    assert fields[0].name == "context"
    assert _hints(args)["context"] is RegionContext


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_its_args_name_no_component_and_no_resource(component: type[pulumi.ComponentResource]) -> None:
    args = _args_type(component)
    offending = {name: found for name, hint in _hints(args).items() if (found := _resource_types(hint))}
    assert offending == {}, f"{args.__name__} takes resources (pass their ids/ARNs instead): {offending}"


def test_the_regional_record_names_no_component() -> None:
    # RegionalOutputs carries values; its ready_* fields are resources to wait on, never components to reach into.
    for name, hint in _hints(RegionalOutputs).items():
        components = [t for t in _leaf_types(hint) if isinstance(t, type) and issubclass(t, pulumi.ComponentResource)]
        assert components == [], f"RegionalOutputs.{name} is a component"
        if _resource_types(hint):
            assert name.startswith("ready_"), f"RegionalOutputs.{name} is a resource: publish its id or ARN"


def test_the_detector_sees_a_resource_in_args() -> None:
    """Not vacuous: an args record that takes a sibling component or a resource is caught."""
    import pulumi_aws as aws

    from region_factory.network import Network

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class BadArgs:
        context: RegionContext
        network: Network
        key: aws.kms.Key | None = None
        ids: tuple[pulumi.Input[str], ...] = ()

    offending = {name: _resource_types(hint) for name, hint in _hints(BadArgs, Network=Network, aws=aws).items()}
    assert offending == {"context": [], "network": ["Network"], "key": ["Key"], "ids": []}
