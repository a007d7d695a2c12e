"""The PubMedQA prompt-tuning study as one vertical slice: data (data.py, datamodule.py), models (module.py,
encoder.py, seq2seq.py, t5_prefix.py), metrics (metrics.py) and report (report.py). Each module sits in the layer of
what it is (see README, "Layers")."""
