"""OpenAPI schemas of the health payloads (documentation; responses are built directly)."""

from __future__ import annotations

import marshmallow as ma


class HealthSectionSchema(ma.Schema):
    """One contributor's section."""

    status = ma.fields.String(required=True, metadata={"enum": ["ok", "degraded", "fail"]})
    critical = ma.fields.Boolean(required=True)
    duration_ms = ma.fields.Float(required=True)
    observed_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    message = ma.fields.String(allow_none=True)
    data = ma.fields.Dict(required=True)
    stale = ma.fields.Boolean()
    stale_age_s = ma.fields.Float()


class HealthSchema(ma.Schema):
    """Anonymous requests get only ``status`` ("ok"); a valid bearer token gets everything."""

    status = ma.fields.String(required=True, metadata={"enum": ["ok", "degraded", "fail"]})
    version = ma.fields.String()
    commit = ma.fields.String()
    environment = ma.fields.String()
    started_at = ma.fields.String(metadata={"format": "date-time"})
    uptime_s = ma.fields.Float()
    checked_at = ma.fields.String(metadata={"format": "date-time"})
    duration_ms = ma.fields.Float()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(HealthSectionSchema))


class UnauthorizedSchema(ma.Schema):
    """The body of a refused rich-health request: no details."""

    error = ma.fields.String(required=True, metadata={"enum": ["unauthorized"]})
