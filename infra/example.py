"""The first run: the digits example (``examples/digits``) made ready for the deployed stack.

SageMaker script mode runs ``train.py`` in the scikit-learn framework image from a
``sourcedir.tar.gz`` in S3, named by two hyperparameters: ``sagemaker_program`` and
``sagemaker_submit_directory`` (JSON-encoded strings, as the SageMaker Python SDK sends them). The
script needs no data channel: scikit-learn ships the digits inside its package. The stack uploads the
tarball to its bucket and outputs :func:`execution_input`: ``examples/digits/ga.json`` with the image
of the stack's Region, the stack's SageMaker role and its bucket filled in.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "digits" / "train.py"
REQUEST = ROOT / "examples" / "digits" / "ga.json"
#: Where the stack puts the example in its bucket, and the job outputs.
PREFIX = "examples/digits/"
TARBALL = "sourcedir.tar.gz"
OUTPUT_PREFIX = "training-output/"

#: The SageMaker scikit-learn framework image: ``<account>.dkr.ecr.<region>.<suffix>/<repo>:<tag>``.
SKLEARN_REPOSITORY = "sagemaker-scikit-learn"
SKLEARN_TAG = "1.2-1-cpu-py3"
#: The account that publishes it in each Region: the ``training`` registries of sklearn 1.2-1 in the
#: SageMaker Python SDK's ``src/sagemaker/image_uri_config/sklearn.json``.
SKLEARN_ACCOUNTS: dict[str, str] = {
    "af-south-1": "510948584623", "ap-east-1": "651117190479", "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886", "ap-south-1": "720646828776",
    "ap-south-2": "628508329040", "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941", "ap-southeast-4": "106583098589", "ca-central-1": "341280168497",
    "ca-west-1": "190319476487", "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770", "eu-central-2": "680994064768", "eu-north-1": "662702820516",
    "eu-south-1": "978288397137", "eu-south-2": "104374241257", "eu-west-1": "141502667606",
    "eu-west-2": "764974769150", "eu-west-3": "659782779980", "il-central-1": "898809789911",
    "me-central-1": "272398656194", "me-south-1": "801668240914", "sa-east-1": "737474898029",
    "us-east-1": "683313688378", "us-east-2": "257758044811", "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902", "us-iso-east-1": "833128469047", "us-isob-east-1": "281123927165",
    "us-west-1": "746614075791", "us-west-2": "246618743249",
}


def sourcedir_tarball(script: Path = SCRIPT) -> Path:
    """``sourcedir.tar.gz`` holding ``script``, alone in a folder (the asset to upload).

    Byte-for-byte reproducible (no timestamps, owners or modes from this machine): the asset's hash is
    its content, so an unchanged script is not uploaded again on the next deploy.
    """
    data = script.read_bytes()
    folder = Path(tempfile.gettempdir()) / f"byohpo-sourcedir-{hashlib.sha256(data).hexdigest()[:16]}"
    target = folder / TARBALL
    if target.is_file():
        return folder
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(script.name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{TARBALL}.{os.getpid()}"
    with open(partial, "wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    partial.replace(target)  # atomic: a concurrent synth sees the whole file or none
    return folder


def training_image(scope: Construct) -> tuple[str, str]:
    """The scikit-learn image of the stack's Region and the account that publishes it, resolved at
    deploy time from a CfnMapping (the template stays Region-agnostic)."""
    mapping = cdk.CfnMapping(scope, "ScikitLearnImageAccounts", mapping={
        region: {"Account": account} for region, account in SKLEARN_ACCOUNTS.items()})
    account = mapping.find_in_map(cdk.Aws.REGION, "Account")
    image = f"{account}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{SKLEARN_REPOSITORY}:{SKLEARN_TAG}"
    return image, account


def execution_input(*, bucket_name: str, role_arn: str, image: str, region: str = cdk.Aws.REGION,
                    request: Path = REQUEST) -> dict[str, Any]:
    """The example request for this stack: its image, role, source and output in the stack's bucket.
    ``Local`` (the local engine's entry point) is left out: SageMaker runs the tarball's script."""
    raw = json.loads(request.read_text(encoding="utf-8"))
    body = copy.deepcopy(raw)
    definition = body["TrainingJobDefinition"]
    definition.pop("Local", None)
    definition["AlgorithmSpecification"]["TrainingImage"] = image
    definition["RoleArn"] = role_arn
    definition["OutputDataConfig"] = {"S3OutputPath": f"s3://{bucket_name}/{OUTPUT_PREFIX}"}
    static = definition["StaticHyperParameters"]
    # Script mode reads these as JSON values, hence the quotes inside the strings.
    static["sagemaker_program"] = json.dumps(SCRIPT.name)
    static["sagemaker_submit_directory"] = json.dumps(f"s3://{bucket_name}/{PREFIX}{TARBALL}")
    static["sagemaker_region"] = json.dumps(region)
    return body
