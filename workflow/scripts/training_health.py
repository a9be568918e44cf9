"""Flag fold models that learnt nothing useful (rule training_health; mriseq.models.health)."""

import pandas as pd
from mriseq.io import write_csv
from mriseq.logs import log_to
from mriseq.models.health import HEALTH_COLUMNS, health_table

with log_to(snakemake.log[0]):
    tables = [
        health_table(
            {model: list(snakemake.input[f"{model}__{task}"]) for model in snakemake.params.models},
            task,
        )
        for task in snakemake.params.tasks
    ]
    write_csv(pd.concat(tables, ignore_index=True).reindex(columns=HEALTH_COLUMNS),
              snakemake.output[0])
