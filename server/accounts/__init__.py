"""Staff accounts: passwords, console sessions, personal API tokens, and who is asking
(Principal). No HTTP here: the API's one authorisation check (server.api.auth) and the
command line both use these."""
