"""Runtime Hub: durable JSON workflows on Ray actors."""
