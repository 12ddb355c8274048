"""The `geopanel` subcommands, one module per capability: each translates flags into one call of the
capability's public function and renders its result (registered on the app in `geopanel.cli`)."""
