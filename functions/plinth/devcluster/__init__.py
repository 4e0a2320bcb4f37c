"""A local management cluster of real components as local processes (cluster.py), its PKI
(pki.py) and process handling (processes.py). The `plinth dev` commands are in plinth.cli.dev."""
