"""Policy evaluation: treatment timing from policy lists, TWFE DID, event studies, Bacon, placebo,
Callaway–Sant'Anna, PSM-DID."""

from analyses.did.bacon import BaconResult, bacon
from analyses.did.callaway_santanna import CSResult, callaway_santanna
from analyses.did.estimators import DIDError, EventStudyResult, TWFEResult, event_study, twfe
from analyses.did.mechanisms import MediationResult, SplitResult, mediation, split_sample
from analyses.did.placebo import PlaceboResult, placebo
from analyses.did.psm import PSMResult, psm_did
from analyses.did.treatment import TreatmentError, adoption_year, policy_events, treatment_panel

__all__ = [
    "BaconResult", "CSResult", "DIDError", "EventStudyResult", "MediationResult", "PSMResult", "PlaceboResult",
    "SplitResult", "TWFEResult", "TreatmentError", "adoption_year", "bacon", "callaway_santanna", "event_study",
    "mediation", "placebo", "policy_events", "psm_did", "split_sample", "treatment_panel", "twfe",
]
