"""The service's routes, one module per concern; each route is thin: it validates, calls the
code below it and answers."""
