"""The hut-state tracker: every hut's retained status off the broker into ``hut_states``,
huts turned offline when their gateway went quiet, and the live changes for staff's
stream. Modules: ``config`` (its settings), ``intake`` (a status message verified),
``tracker`` (the MQTT adapter and its thread), ``feed`` (what changed, to the hub),
``hub`` (the in-process publish/subscribe the stream reads)."""
