"""One Lambda runtime for every function in every region, so regional functions stay identical."""

from __future__ import annotations

RUNTIME = "python3.13"
ARCHITECTURE = "arm64"  # Graviton: cheaper per GB-second, and the Powertools layer ships an arm64 build.
# AWS-managed Powertools for AWS Lambda (Python) v3 layer: published under the same account and
# version number in every commercial region (docs.aws.amazon.com/powertools/python, "Lambda Layer").
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27


def powertools_layer_arn(region: str) -> str:
    python = RUNTIME.replace(".", "")
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{ARCHITECTURE}:{POWERTOOLS_LAYER_VERSION}"
    )
