"""Counting ranked ballots: points, first choices, appearances, instant-runoff and Schulze.

Every counting function is pure: it takes rankings (best first) and the workshop's candidate
list and returns a full ordering of ALL candidates, ties reported as ties. Nothing here
touches storage, time or randomness, and the candidate (template) order is never used to
break a tie -- only to list tied candidates in a stable order inside their shared rank.

Ballots are counted once per distinct ranking (`profile.build_profile`), so the order in
which ballots arrived can never influence a result, and 100k ballots cost what ~25k distinct
rankings cost. A plain reference implementation lives in the tests and checks this one.

Layout: `profile` (ballots encoded once, and their errors), `result` (the ordering every
method returns), `pairwise` (the preference matrix), one module per counting method under
`methods/`, and `registry` (the list pages, exports and reports iterate). Adding a counting
method: a module in `methods/`, one line in `registry`, and its test -- plus its name, score,
unit and description under `[tally.method.<id>]` in data/locales/{zh,en}/tally.toml.
"""
