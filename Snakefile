# mriseq: classify abdominal MRI series (pulse sequence, plane, IV contrast) from pixels.
# Thin entry point: settings, config validation, stage includes and the default target.

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from mriseq.config import ConfigError, check_config, schema_error_sentence

min_version("9.0")


configfile: "config/config.yaml"


# A bad config stops here with one sentence naming the key.
try:
    validate(config, "workflow/schemas/config.schema.yaml")
    check_config(config)
except WorkflowError as error:
    raise WorkflowError(schema_error_sentence(error.__context__ or error)) from None
except ConfigError as error:
    raise WorkflowError(str(error)) from None


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/scan.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/external.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/review.smk"


rule all:
    default_target: True
    input:
        all_targets(),
