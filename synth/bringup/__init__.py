"""The bring-up model: the order in which a cluster's objects must be applied, how each delivery method is told
(Argo CD sync waves, Config Sync ``depends-on``, Helm hooks, labelled ``kubectl apply -k`` phases), what each step
waits for, and how long it is expected to take. Constructs stamp from it, the runbook reads its timeline, and the
validator's bring-up layer checks delivered output against it."""
