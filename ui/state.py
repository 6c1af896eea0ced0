"""Session-state keys, in one place, so pages and AppTests agree on them."""

LANG = "lang"
ADMIN_OK = "admin_ok"
# workshop code -> console grant (an HMAC from core.workshops.unlock_console)
GRANTS = "facilitator_grants"
# the workshop join code this browser session is in (mirrors the URL's `w`)
WORKSHOP_CODE = "workshop_code"
