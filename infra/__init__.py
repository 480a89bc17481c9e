"""The CDK app (``app.py``) and the stack (``stack.py``) that deploy byohpo's tuning state machine."""
