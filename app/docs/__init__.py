"""The API documentation: the OpenAPI document built from the definitions, and the offline doc pages."""
