"""Shared building blocks of the saga services.

A library: it has no entry point and never imports a service. Services import
the event contract (`sagakit.events`), the unit-of-work base with its outbox
and inbox (`sagakit.uow`), the relay (`sagakit.outbox`), the Redis transport
(`sagakit.transport`), the dead-letter policy (`sagakit.consumer`,
`sagakit.deadletter`) and the web and runtime helpers that keep every service
the same shape.
"""
