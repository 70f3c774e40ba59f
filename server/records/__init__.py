"""The community's records as staff keep them: huts, categories and policies, items,
supplies, members and cards. Each module takes the caller's database session and an Actor,
validates, writes through the rule book where the rules have a say (status, access), and
appends to the audit log; the caller commits. No HTTP here: the API, the command line and
the spreadsheet import call the same functions."""
