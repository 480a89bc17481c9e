"""Training-job adapters: where a trial actually trains.

``byohpo.jobs.local`` runs a trial as a local process started the way SageMaker script mode starts an
entry point. Nothing here imports boto3; a SageMaker adapter lives in its own module beside it.
"""

from byohpo.jobs.local import LocalJobResult, LocalTrainingJob, run_local_training

__all__ = ["LocalJobResult", "LocalTrainingJob", "run_local_training"]
