"""What every regional builder needs: the config, its region, its provider and names."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import naming
from core.config import RegionSpec, StackConfig


@dataclass(frozen=True)
class SharedInputs:
    """Inputs every region shares, resolved once before the factory runs."""

    account_id: str
    hosted_zone_id: pulumi.Input[str]


@dataclass(frozen=True)
class RegionContext:
    cfg: StackConfig
    spec: RegionSpec
    provider: aws.Provider
    shared: SharedInputs
    # Distinguishes a context that is not one of the DR regions (the us-east-1 health-alarm topic),
    # so its resources never share logical names with that region's own.
    logical_prefix: str = ""

    @property
    def account_id(self) -> str:
        return self.shared.account_id

    @property
    def region(self) -> str:
        return self.spec.name

    def name(self, spec: naming.NameSpec, qualifier: str | None = None) -> str:
        """Physical name in this region (the region is only inserted where the catalog asks)."""
        if qualifier:
            return self.cfg.namer.qualified(spec, qualifier, self.region)
        return self.cfg.namer(spec, self.region)

    def logical(self, name: str) -> str:
        """Pulumi logical names must be unique across regions, so they carry the region."""
        return f"{self.logical_prefix}{self.region}-{name}"

    # The provider rule (docs/CONTRIBUTING-infra.md, "Providers"): the region's provider is declared once where a
    # region's component tree starts (`component_opts`: build_region, or the global layer's caller of a regional
    # component); everything below inherits it (`child_opts`). A resource of this region under a component spanning
    # regions (global_resources), or made by a helper the global layer shares, names it (`opts`).

    def component_opts(self, parent: pulumi.Resource | None) -> pulumi.ResourceOptions:
        """The root of this region's component tree: everything below inherits the region's provider."""
        return pulumi.ResourceOptions(parent=parent, providers=[self.provider])

    def child_opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """A child of a component built with `component_opts`: the provider comes from the parent."""
        inherited = parent.get_provider("aws:index:Provider")
        if inherited is not self.provider:
            raise ValueError(
                f"{parent.pulumi_resource_name!r} does not carry the provider of {self.region}: build it with "
                "ctx.component_opts, or give this child ctx.opts (explicit provider)"
            )
        return pulumi.ResourceOptions(parent=parent, **kwargs)

    def opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """This region's resource under a component spanning regions: the provider is named explicitly."""
        return pulumi.ResourceOptions(provider=self.provider, parent=parent, **kwargs)

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account_id}:{resource}"

    def log_group(
        self, logical: str, name: str, key_arn: pulumi.Input[str], parent: pulumi.Resource
    ) -> aws.cloudwatch.LogGroup:
        """Every log group of the stack: named, retained for `logRetentionDays`, encrypted with the region's key."""
        return aws.cloudwatch.LogGroup(
            self.logical(logical),
            name=name,
            retention_in_days=self.cfg.log_retention_days,
            kms_key_id=key_arn,
            opts=self.opts(parent),
        )
