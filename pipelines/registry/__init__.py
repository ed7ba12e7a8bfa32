"""The only code that talks to MLflow: tracking runs, model registration, aliases."""
