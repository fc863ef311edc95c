"""Project tooling: environment set-up, the spaCy pipeline build and the server stack."""
