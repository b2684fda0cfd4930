"""The HTTP server: the app factory and its lifespan, middleware, health, metrics,
the Twilio callback route and worker supervision."""
