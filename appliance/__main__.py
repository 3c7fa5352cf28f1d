from appliance.deferred_imports import defer_iri_grammar

defer_iri_grammar()  # `appliance gallery …` imports nbformat, and with it jsonschema

from appliance.cli import main  # noqa: E402

main()
