"""Buckets per region and their replication to every other region."""

from __future__ import annotations

from itertools import permutations

from plan import engine
from plan.engine import Evaluation, ResourceRecord
from tests.infra.helpers import as_list, policy_statements, regional_key

BUCKET = "aws:s3/bucket:Bucket"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
THREE = ["us-east-1", "us-east-2", "us-west-2"]
BUCKET_NAMES = {"audit": "payment-audit-logs-{region}-dev", "receipts": "payment-receipts-{region}-dev"}


def bucket(evaluation: Evaluation, kind: str, region: str) -> ResourceRecord:
    name = BUCKET_NAMES[kind].format(region=region)
    return evaluation.one(BUCKET, lambda b: b.inputs["bucket"] == name)


def settings(evaluation: Evaluation, type_: str, record: ResourceRecord) -> ResourceRecord:
    return evaluation.one(type_, lambda s: s.inputs["bucket"] == record.inputs["bucket"])


def key_arn(evaluation: Evaluation, region: str) -> str:
    return regional_key(evaluation, region).outputs["arn"]


def test_each_region_has_both_buckets_named_by_region_and_protected(dev):
    for region in ("us-east-1", "us-east-2"):
        for kind in BUCKET_NAMES:
            record = bucket(dev, kind, region)
            assert record.region == region and record.protect and record.inputs["forceDestroy"] is False
            assert record.inputs["objectLockEnabled"] is (kind == "audit")


def data_buckets(evaluation: Evaluation) -> list[ResourceRecord]:
    return [b for b in evaluation.of_type(BUCKET) if not b.inputs["bucket"].startswith("payment-s3-logs-")]


def test_buckets_are_versioned_private_owner_enforced_and_encrypted_with_the_regions_key(dev):
    for record in data_buckets(dev):
        assert settings(dev, "aws:s3/bucketVersioning:BucketVersioning", record).inputs["versioningConfiguration"] == {
            "status": "Enabled"
        }
        block = settings(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", record).inputs
        assert all(
            block[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        ownership = settings(dev, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", record).inputs
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        [rule] = settings(
            dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", record
        ).inputs["rules"]
        default = rule["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(dev, record.region)}
        assert rule["bucketKeyEnabled"] is True


def test_bucket_policy_only_denies_insecure_transport_and_other_encryption(dev):
    for record in data_buckets(dev):
        statements = policy_statements(settings(dev, "aws:s3/bucketPolicy:BucketPolicy", record).inputs["policy"])
        assert {s["Effect"] for s in statements} == {"Deny"}  # same-account access comes from IAM
        tls = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
        arn = record.outputs["arn"]
        assert tls["Resource"] == [arn, f"{arn}/*"] and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        other_key = next(s for s in statements if s["Sid"] == "DenyOtherKmsKey")
        assert other_key["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] == key_arn(
            dev, record.region
        )
        assert all(s["Condition"]["Null"] for s in statements if s["Sid"] != "DenyInsecureTransport")


# --- access trail: S3 server access logs ------------------------------------------------------------


LOGGING = "aws:s3/bucketLogging:BucketLogging"


def log_bucket(evaluation: Evaluation, region: str) -> ResourceRecord:
    return evaluation.one(BUCKET, lambda b: b.inputs["bucket"] == f"payment-s3-logs-{region}-dev")


def test_both_buckets_log_every_request_into_their_regions_log_bucket(three_regions):
    for region in THREE:
        target = log_bucket(three_regions, region)
        assert target.region == region and target.protect and target.inputs["forceDestroy"] is False
        for kind in BUCKET_NAMES:
            source = bucket(three_regions, kind, region)
            logging = settings(three_regions, LOGGING, source)
            assert logging.region == region  # S3 delivers only within a region
            assert (logging.inputs["targetBucket"], logging.inputs["targetPrefix"]) == (
                target.inputs["bucket"],
                f"{kind}/",
            )
            assert logging.inputs["targetObjectKeyFormat"] == {
                "partitionedPrefix": {"partitionDateSource": "EventTime"}
            }
            # Delivery is allowed, and the objects encrypted as S3 requires, before logging starts.
            for type_ in (
                "aws:s3/bucketPolicy:BucketPolicy",
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            ):
                assert settings(three_regions, type_, target).urn in logging.dependencies
        # The log bucket does not log itself (a loop of log records) and is not replicated.
        assert not [r for r in three_regions.of_type(LOGGING) if r.inputs["bucket"] == target.inputs["bucket"]]
        assert not [r for r in three_regions.of_type(REPLICATION) if r.inputs["bucket"] == target.inputs["bucket"]]


def test_log_bucket_is_sse_s3_versioned_private_and_owner_enforced(dev):
    for region in ("us-east-1", "us-east-2"):
        target = log_bucket(dev, region)
        assert not target.inputs.get("objectLockEnabled")  # S3 refuses Object Lock on a log target
        assert not [
            r
            for r in dev.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
            if r.inputs["bucket"] == target.inputs["bucket"]
        ]
        assert settings(dev, "aws:s3/bucketVersioning:BucketVersioning", target).inputs["versioningConfiguration"] == {
            "status": "Enabled"
        }
        block = settings(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", target).inputs
        assert all(
            block[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        assert settings(dev, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", target).inputs["rule"] == {
            "objectOwnership": "BucketOwnerEnforced"
        }
        [rule] = settings(
            dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", target
        ).inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # SSE-KMS gets no logs


def test_only_s3_logging_may_write_each_sources_logs_and_only_for_this_account(dev):
    for region in ("us-east-1", "us-east-2"):
        target = log_bucket(dev, region)
        statements = {
            s["Sid"]: s
            for s in policy_statements(settings(dev, "aws:s3/bucketPolicy:BucketPolicy", target).inputs["policy"])
        }
        for kind in BUCKET_NAMES:
            grant = statements[f"ServerAccessLogsFrom{kind.capitalize()}"]
            assert grant["Effect"] == "Allow" and grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
            assert grant["Action"] == ["s3:PutObject"] and grant["Resource"] == [f"{target.outputs['arn']}/{kind}/*"]
            assert grant["Condition"] == {
                "ArnLike": {"aws:SourceArn": bucket(dev, kind, region).outputs["arn"]},
                "StringEquals": {"aws:SourceAccount": engine.MOCK_ACCOUNT_ID},
            }
        tls = statements["DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
        assert tls["Condition"]["Bool"] == {"aws:SecureTransport": "false"}
        assert set(statements) == {"ServerAccessLogsFromAudit", "ServerAccessLogsFromReceipts", "DenyInsecureTransport"}


def test_access_logs_are_kept_as_long_as_the_audit_records_then_expire(dev):
    lifecycle = settings(
        dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", log_bucket(dev, "us-east-1")
    )
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["retention"]["expiration"] == {"days": 365}
    assert rules["retention"]["noncurrentVersionExpiration"] == {"noncurrentDays": 365}
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_lifecycle_ages_old_versions_and_moves_audit_logs_to_cheaper_classes(dev):
    for kind in BUCKET_NAMES:
        record = bucket(dev, kind, "us-east-1")
        lifecycle = settings(dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", record)
        rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
        noncurrent = rules["noncurrent-versions"]
        assert noncurrent["noncurrentVersionTransitions"] == [{"noncurrentDays": 30, "storageClass": "STANDARD_IA"}]
        assert noncurrent["noncurrentVersionExpiration"]["noncurrentDays"] == (365 if kind == "audit" else 90)
        assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
        assert lifecycle.inputs["transitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
        versioning = settings(dev, "aws:s3/bucketVersioning:BucketVersioning", record)
        assert versioning.urn in lifecycle.dependencies
        if kind == "audit":
            classes = [t["storageClass"] for t in rules["audit-storage-classes"]["transitions"]]
            assert classes == ["STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE"]
        else:
            assert "audit-storage-classes" not in rules


def test_audit_logs_are_locked_in_governance_mode_for_a_year_by_default(dev):
    locks = dev.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert sorted(lock.inputs["bucket"] for lock in locks) == [
        "payment-audit-logs-us-east-1-dev",
        "payment-audit-logs-us-east-2-dev",
    ]
    for lock in locks:
        assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}


def test_replication_runs_every_region_to_every_other_for_both_buckets(three_regions):
    pairs = set()
    for config in three_regions.of_type(REPLICATION):
        source = three_regions.one(BUCKET, lambda b: b.inputs["bucket"] == config.inputs["bucket"])
        kind = next(k for k in BUCKET_NAMES if BUCKET_NAMES[k].format(region=source.region) == source.inputs["bucket"])
        assert config.region == source.region
        for rule in config.inputs["rules"]:
            destination = three_regions.by_output("arn", rule["destination"]["bucket"])
            assert destination.inputs["bucket"] == BUCKET_NAMES[kind].format(region=destination.region)
            assert rule["id"] == f"to-{destination.region}"  # the RuleId metric dimension
            pairs.add((kind, source.region, destination.region))
    assert pairs == {(kind, a, b) for kind in BUCKET_NAMES for a, b in permutations(THREE, 2)}


def test_every_rule_has_rtc_metrics_kms_reencryption_and_no_delete_markers(three_regions):
    for config in three_regions.of_type(REPLICATION):
        priorities = [rule["priority"] for rule in config.inputs["rules"]]
        assert len(set(priorities)) == len(priorities)
        for rule in config.inputs["rules"]:
            destination = rule["destination"]
            assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
            assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
            assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
            assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
            assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"] == {"status": "Enabled"}
            assert rule["sourceSelectionCriteria"]["replicaModifications"] == {"status": "Enabled"}
            destination_region = rule["id"].removeprefix("to-")
            assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == key_arn(
                three_regions, destination_region
            )


def test_replication_waits_for_versioning_on_both_sides(three_regions):
    for config in three_regions.of_type(REPLICATION):
        buckets = [
            config.inputs["bucket"],
            *(
                three_regions.by_output("arn", r["destination"]["bucket"]).inputs["bucket"]
                for r in config.inputs["rules"]
            ),
        ]
        versionings = {
            three_regions.one("aws:s3/bucketVersioning:BucketVersioning", lambda v: v.inputs["bucket"] == b).urn
            for b in buckets
        }
        assert len(versionings) == 3 and versionings <= set(config.dependencies), config.name


def test_each_source_region_has_a_role_whose_policies_name_exactly_its_buckets_and_keys(three_regions):
    arn = {
        (kind, region): bucket(three_regions, kind, region).outputs["arn"] for kind in BUCKET_NAMES for region in THREE
    }
    for source in THREE:
        role = three_regions.one(
            "aws:iam/role:Role", lambda r: r.inputs["name"] == f"payment-s3-replication-{source}-dev"
        )
        assert role.region == source
        assert policy_statements(role.inputs["assumeRolePolicy"])[0]["Principal"] == {"Service": "s3.amazonaws.com"}
        assert {c.inputs["role"] for c in three_regions.of_type(REPLICATION) if c.region == source} == {
            role.outputs["arn"]
        }
        policies = [
            p for p in three_regions.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.outputs["id"]
        ]
        statements = [s for p in policies for s in policy_statements(p.inputs["policy"])]
        s3_resources = {
            r for s in statements if as_list(s["Action"])[0].startswith("s3:") for r in as_list(s["Resource"])
        }
        destinations = [d for d in THREE if d != source]
        expected = {arn[(k, source)] for k in BUCKET_NAMES} | {f"{arn[(k, source)]}/*" for k in BUCKET_NAMES}
        expected |= {f"{arn[(k, d)]}/*" for k in BUCKET_NAMES for d in destinations}
        assert s3_resources == expected
        decrypt = [s for s in statements if "kms:Decrypt" in s["Action"]]
        encrypt = [s for s in statements if "kms:Encrypt" in s["Action"]]
        assert [r for s in decrypt for r in s["Resource"]] == [key_arn(three_regions, source)]
        assert sorted(r for s in encrypt for r in s["Resource"]) == sorted(
            key_arn(three_regions, d) for d in destinations
        )
        for statement in statements:
            assert "*" not in as_list(statement["Resource"]) and not any(
                a.endswith("*") for a in as_list(statement["Action"])
            )
            assert "s3:ReplicateDelete" not in statement["Action"]  # delete markers stay where they were made
        for statement in decrypt + encrypt:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"].startswith("s3.")


def test_replication_role_trust_is_limited_to_this_account(dev):
    for role in dev.of_type("aws:iam/role:Role"):
        if role.inputs["name"].startswith("payment-s3-replication-"):
            condition = policy_statements(role.inputs["assumeRolePolicy"])[0]["Condition"]
            assert condition["StringEquals"]["aws:SourceAccount"] == engine.MOCK_ACCOUNT_ID
