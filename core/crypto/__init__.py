"""Cryptographic primitives, one module per concern: codes people type, read or compare
(`human_codes`), the sealed ballot box (`sealed_box`), passphrases (`passphrases`), wrapped keys
(`key_wrap`), the instance secret (`instance_secret`) and export signatures (`signatures`).

Everything here is pure (no database, no Streamlit, no logging) and uses only `cryptography`
and the standard library. This package must never store, log or return a raw card code beyond
the call that received it, never keep a passphrase or a private key in a module-level
variable, and never put anything that depends on the time or order of casting into a sealed
ballot, a digest or a receipt. Formats and the reasons behind every parameter: docs/crypto.md.
"""
