"""The published JSON Schema of the tuning request (``request.schema.json``).

Load it with :func:`byohpo.request.schema`; regenerate it with ``python -m byohpo.schema.generate``
after upgrading botocore or changing byohpo's extensions.
"""
