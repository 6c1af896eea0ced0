"""Session-state keys, in one place, so pages and AppTests agree on them."""

LANG = "lang"
ADMIN_OK = "admin_ok"
# workshop code -> console token (core.workshops.unlock_console; the URL's `console` param)
GRANTS = "facilitator_grants"
# the workshop join code this browser session is in (mirrors the URL's `w`)
WORKSHOP_CODE = "workshop_code"
# set by the entry point on every run: True when the sidebar holds the language switch
LANG_SWITCH_IN_SIDEBAR = "_lang_switch_in_sidebar"
# the workshop whose console is open in this browser session
CONSOLE_CODE = "console_code"
# the console tab last chosen (st.tabs key, bound to the URL's `tab` param)
CONSOLE_TAB = "tab"
