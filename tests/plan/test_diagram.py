"""The architecture diagram is read from the evaluated resources: regions, key resources, links."""

from __future__ import annotations

import re

from plan import diagram, engine
from tests.plan.helpers import evaluation, provider, record


def links(text: str, label: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if f'|"{label}' in line]


def subgraph(text: str, key: str) -> str:
    match = re.search(rf"subgraph {key}\[.*?\n(.*?)\n  end", text, re.S)
    assert match, f"no subgraph {key}"
    return match.group(1)


def test_each_region_is_a_subgraph_with_its_key_resources(dev):
    text = diagram.mermaid(dev)
    assert text.startswith("flowchart LR\n")
    for region, role in (("us-east-1", "primary"), ("us-east-2", "secondary")):
        body = subgraph(text, region.replace("-", "_"))
        assert f'["{region} · {role}"]' in text
        for label in (
            "VPC 10.",
            f"Aurora cluster payment-db-{region}-dev",
            f"bucket payment-audit-logs-{region}-dev",
            f"bucket payment-receipts-{region}-dev",
            "SNS payment-failover-events-dev",
        ):
            assert label in body, (region, label)
    assert "DynamoDB table payment-transactions-dev (home)" in subgraph(text, "us_east_1")
    assert "DynamoDB replica payment-transactions-dev" in subgraph(text, "us_east_2")
    assert "Aurora global cluster payment-global-dev" in subgraph(text, "global")


def test_cross_region_links_come_from_the_resources(dev):
    text = diagram.mermaid(dev)
    assert len(links(text, "member")) == len(dev.of_type("aws:rds/cluster:Cluster")) == 2
    assert len(links(text, "global table replica")) == 2  # two tables, one replica each
    replication = links(text, "S3 replication")
    assert len(replication) == 4 and all("RTC 15 min" in line for line in replication)
    pairs = {tuple(re.findall(r"Bucket_\w+", line)) for line in replication}
    assert ("Bucket_us_east_1_audit_bucket", "Bucket_us_east_2_audit_bucket") in pairs  # source -> destination
    assert ("Bucket_us_east_2_audit_bucket", "Bucket_us_east_1_audit_bucket") in pairs  # and back
    assert links(text, "VPC peering") == ['Vpc_us_east_1_vpc <-.->|"VPC peering"| Vpc_us_east_2_vpc']


def test_a_third_region_adds_its_subgraph_and_links(three_regions):
    text = diagram.mermaid(three_regions)
    body = subgraph(text, "us_west_2")
    assert "Aurora cluster payment-db-us-west-2-dev" in body and "DynamoDB replica payment-transactions-dev" in body
    assert '["us-west-2 · secondary"]' in text
    assert len(links(text, "member")) == 3
    assert len(links(text, "VPC peering")) == 3  # full mesh
    assert len(links(text, "S3 replication")) == 3 * 2 * 2  # every region to both others, two buckets
    assert len(links(text, "global table replica")) == 2 * 2
    assert any("us_west_2" in line for line in links(text, "S3 replication"))
    # The failover chain grows a level: its PRIMARY record points at the new region's API domain,
    # guarded by the new region's health check.
    primary = next(line for line in links(text, "PRIMARY") if line.endswith("DomainName_us_west_2_api_domain"))
    record = primary.split(" ")[0]
    assert f'HealthCheck_health_region_us_west_2 -.->|"health"| {record}' in text
    assert 'HealthCheck_health_db_us_west_2 -.->|"watches"| Cluster_aurora_us_west_2' in text


def test_failover_records_and_health_checks_of_the_program(dev):
    text = diagram.mermaid(dev)
    for region in ("us_east_1", "us_east_2"):
        assert any(line.endswith(f"DomainName_{region}_api_domain") for line in links(text, "PRIMARY")), region
        assert f'HealthCheck_health_db_{region} -.->|"watches"| Cluster_aurora_{region}' in text
        assert f'HealthCheck_health_api_{region} -.->|"child"| HealthCheck_health_region_{region}' in text
    assert any(line.endswith("Cluster_aurora_us_east_2") for line in links(text, "SECONDARY"))


def test_failover_records_point_at_the_api_domains_and_health_checks_at_records():
    primary, secondary, glob = (
        provider("us-east-1", "primary"),
        provider("us-east-2", "secondary"),
        provider("us-east-1", "global"),
    )
    domains = [
        record(
            "aws:apigateway/domainName:DomainName",
            f"{r.region}-api-domain",
            {"domainName": "api.payments.example.com"},
            on=r,
            outputs={"regionalDomainName": f"d-{r.region}.execute-api.amazonaws.com"},
        )
        for r in (primary, secondary)
    ]
    check = record(
        "aws:route53/healthCheck:HealthCheck",
        "health-api-us-east-1",
        {"type": "HTTPS", "tags": {"Name": "payment-health-api-us-east-1-dev"}},
        on=glob,
        deps=[domains[0]],
    )
    records = [
        record(
            "aws:route53/record:Record",
            f"api-{kind.lower()}",
            {
                "name": "api.payments.example.com",
                "failoverRoutingPolicies": [{"type": kind}],
                "aliases": [{"name": f"d-{d.region}.execute-api.amazonaws.com"}],
                **({"healthCheckId": "health-api-us-east-1-id"} if kind == "PRIMARY" else {}),
            },
            on=glob,
        )
        for kind, d in (("PRIMARY", domains[0]), ("SECONDARY", domains[1]))
    ]
    text = diagram.mermaid(evaluation(primary, secondary, glob, *domains, check, *records))
    assert 'Record_api_primary -->|"PRIMARY"| DomainName_us_east_1_api_domain' in text
    assert 'Record_api_secondary -->|"SECONDARY"| DomainName_us_east_2_api_domain' in text
    assert 'HealthCheck_health_api_us_east_1 -.->|"health"| Record_api_primary' in text
    assert 'HealthCheck_health_api_us_east_1 -.->|"watches"| DomainName_us_east_1_api_domain' in text
    glob_body = subgraph(text, "global")
    assert (
        "DNS api.payments.example.com (PRIMARY)" in glob_body
        and "health check payment-health-api-us-east-1-dev" in glob_body
    )


def test_the_markdown_page_wraps_the_diagram(dev):
    page = diagram.document(dev, "dev")
    assert (
        page.startswith("# Architecture (generated)")
        and "```mermaid\nflowchart LR\n" in page
        and page.endswith("```\n")
    )


def test_docs_architecture_is_current_and_honest_about_what_it_shows(dev):
    page = (engine.ROOT / "docs" / "architecture.md").read_text()
    command = diagram.regenerate_command("dev", None, "docs/architecture.md")
    assert page == diagram.document(dev, "dev", command), f"docs/architecture.md is stale: {command}"
    nodes = sum(len(lines) for lines in diagram.build(dev).nodes.values())
    assert nodes < len(dev.managed) and f"{nodes} nodes for the {len(dev.managed)} resources" in page
