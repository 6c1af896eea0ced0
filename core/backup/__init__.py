"""Back up one workshop to a portable archive and restore it into another instance.

`export_archive` writes a zip holding `workshop.json` (every row of one workshop, in a
format of its own rather than SQL, so an archive from SQLite restores into PostgreSQL and
back) and `manifest.json` (the SHA-256 and length of that document). `import_archive`
checks the manifest, then writes the whole workshop in ONE transaction or nothing.
`python -m core.backup export CODE --out FILE` / `python -m core.backup import FILE`.

One module per step: `archive` (the format, its errors and reading a checked document),
`dump` (writing one workshop out), `restore` (writing it into an instance), `__main__` (CLI).

What the archive must never hold or recall:
- the live-results copy of the box key (`box_private_key_live`). It is the private key
  wrapped under the *instance* secret, so anyone holding an archive and that secret (every
  server of the instance, everyone who can read its environment) could open every sealed
  ballot. Archives travel further than databases do; in them the key stays wrapped under the
  facilitator's passphrase only. A live-results workshop restored before its reveal counts
  live again once the facilitator unlocks it in the new instance;
- any time finer than the workshop's own stage changes, or any order of participant rows:
  cards, sealed and opened ballots and notes are written sorted by their random keys (card
  digests are keyed HMACs, so random too), never in storage order, and the zip entries carry
  a fixed date. Two exports of the same rows are byte-identical;
- integer ids (questions, themes, summary points): references are by position instead.

Two bindings survive a move and shape what an import may do:
- sealed ballots are encrypted with the workshop's *number* (`workshops.id`) and code as
  associated data (`ballot_values.ballot_aad`), so a workshop that still holds ciphertexts keeps
  its number; if the target already uses that number the import is refused
  (`WorkshopNumberTaken`), since re-sealing would change every receipt voters hold;
- card digests are keyed by the instance secret: in an instance with another secret an
  unused card no longer verifies. A workshop with unused cards is therefore refused there
  (`InstanceSecretMismatch`) unless the caller asks to void those cards (the facilitator
  then issues new ones). The archive carries an HMAC of a fixed label under the secret, so
  the check needs no secret in the archive.

The manifest detects a damaged or truncated archive; it is not a signature. Anyone who can
write an archive could add ballots sealed to the public key, exactly as anyone who can
write the database could: keep archives where you keep the database.
"""
