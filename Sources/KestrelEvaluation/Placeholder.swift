// KestrelEvaluation: `kestrel eval` (zero-shot and retrieval metrics with bootstrap intervals,
// calibration, plots). Sits above KestrelEngine and KestrelTraining.
import KestrelEngine
import KestrelTraining
