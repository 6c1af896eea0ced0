"""One module per counting method; each exposes one pure function with the `TallyFunction`
signature (see `core.tally.counting`) and declares `COUNTING = counting_method(...)`, which
`core.tally.registry` finds by itself; plus a `_with_explanation` variant where the report
narrates how the result came about."""
