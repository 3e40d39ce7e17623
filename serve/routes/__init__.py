"""The API's routes, one module per screen of a runtime console."""
