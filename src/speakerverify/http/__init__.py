"""The HTTP service: a FastAPI app over ``speakerverify.storage`` and ``speakerverify.models``."""
