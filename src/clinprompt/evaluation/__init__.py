"""Scoring with n2c2 semantics: concepts and relations (n2c2 2018) and SDoH events (n2c2 2022)."""

from clinprompt.evaluation.events import EventScore, score_events
from clinprompt.evaluation.official import official_scores
from clinprompt.evaluation.scoring import ExtractionScore, entity_recall_by_overlap_class, score_documents

__all__ = ["EventScore", "ExtractionScore", "entity_recall_by_overlap_class", "official_scores", "score_documents",
           "score_events"]
