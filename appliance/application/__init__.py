"""The application layer: the appliance's own wiring of its components. Which children run and how
(children.py), and `appliance up` (run.py: prepare the home, start them under the generic supervisor,
serve its control socket). The command line sits above it; the components below know nothing of it."""

from appliance.deferred_imports import defer_iri_grammar

defer_iri_grammar()  # before any entry point below imports jsonschema
