"""The components' contract (docs/CONTRIBUTING-infra.md, "Component contracts").

Every ComponentResource of region_factory/ and global_resources/ is built as ``Component(name, args, opts)``:
``args`` is a frozen, keyword-only dataclass listing exactly what the component uses (ids, ARNs, names, the
regions' published records, the RegionContext of a regional one), never another component, and a cloud
resource only in a ``ready_*`` field (something to wait for, where AWS needs an order no value carries). Its
signature says what it depends on and nothing reaches into a sibling. What the global layer reads of a region
is RegionalOutputs, and of the Aurora global database AuroraOutputs: records of the same kind.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Iterator

import pulumi
import pytest

import global_resources
import region_factory
from global_resources.aurora import AuroraOutputs
from plan import engine
from region_factory.context import RegionContext
from region_factory.outputs import RegionalOutputs

PACKAGES = (region_factory, global_resources)


def _components() -> list[type[pulumi.ComponentResource]]:
    found: dict[str, type[pulumi.ComponentResource]] = {}
    for package in PACKAGES:
        modules = [package.__name__] + [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
        for name in modules:
            loaded = importlib.import_module(name)
            for _, value in inspect.getmembers(loaded, inspect.isclass):
                if issubclass(value, pulumi.ComponentResource) and value.__module__.startswith(package.__name__):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


COMPONENTS = _components()
REGIONAL = [c for c in COMPONENTS if c.__module__.startswith("region_factory")]


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
    assert {"GlobalResources", "AuroraGlobalDatabase", "AuroraRegionalCluster", "Failover", "LedgerLinks"} <= names
    assert len(REGIONAL) >= 11 and len(COMPONENTS) >= 25


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


@pytest.mark.parametrize("component", REGIONAL, ids=lambda c: c.__name__)
def test_a_regional_component_is_told_its_region_first(component: type[pulumi.ComponentResource]) -> None:
    args = _args_type(component)
    assert dataclasses.fields(args)[0].name == "context"
    assert _hints(args)["context"] is RegionContext


def _offending(record: type, **names: object) -> dict[str, list[str]]:
    """Fields naming a component, or a resource outside a ready_* field."""
    offending = {}
    for name, hint in _hints(record, **names).items():
        components = [
            t.__qualname__ for t in _leaf_types(hint) if isinstance(t, type) and issubclass(t, pulumi.ComponentResource)
        ]
        resources = _resource_types(hint)
        if components or (resources and not name.startswith("ready_")):
            offending[name] = components or resources
    return offending


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_its_args_name_no_component_and_resources_only_to_wait_for(component: type[pulumi.ComponentResource]) -> None:
    args = _args_type(component)
    assert _offending(args) == {}, f"{args.__name__}: pass ids/ARNs, not components or resources"


@pytest.mark.parametrize("record", [RegionalOutputs, AuroraOutputs], ids=lambda r: r.__name__)
def test_the_published_records_name_no_component(record: type) -> None:
    assert _offending(record) == {}


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
        ready_key: aws.kms.Key | None = None
        ready_network: Network | None = None

    assert _offending(BadArgs, Network=Network, aws=aws) == {
        "network": ["Network"],
        "key": ["Key"],
        "ready_network": ["Network"],
    }


def _type_token(component: type[pulumi.ComponentResource]) -> str:
    [token] = set(re.findall(r'"payment-dr:(\w+):\w+"', inspect.getsource(component)))
    return token


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_a_component_lives_in_the_layer_its_type_names(component: type[pulumi.ComponentResource]) -> None:
    """The layout rule (docs/CONTRIBUTING-infra.md, "Where a component lives"): what the regional stack creates is
    `payment-dr:region:*` and lives in region_factory/; what the global layer creates, per-region members of a link
    included (LinkMonitoring, RegionCanary, AuroraRegionalCluster), is `payment-dr:global:*` in global_resources/."""
    package = {"region": "region_factory", "global": "global_resources"}[_type_token(component)]
    assert component.__module__.split(".")[0] == package


def test_each_layer_creates_its_own_components(dev: engine.Evaluation) -> None:
    components = [r for r in dev.resources if not r.custom and r.type.startswith("payment-dr:")]
    layers = {"payment-dr:region:RegionalStack": "region", "payment-dr:global:GlobalResources": "global"}
    roots = [r for r in components if r.type in layers]
    assert len(roots) == 3  # two regions and the global layer
    for record in components:
        if record.type in layers:
            continue
        [root] = [a for a in dev.ancestors(record) if a.type in layers]
        layer = layers[root.type]
        # The global layer reuses two regional classes for its us-east-1 topic (global_resources/health_alarms.py);
        # the regional stack never creates a global component.
        reused = {"payment-dr:region:Key", "payment-dr:region:Alerts"}
        assert record.type.startswith(f"payment-dr:{layer}:") or (layer == "global" and record.type in reused), (
            f"{record.type} {record.name} is created under {root.type}"
        )
