"""The live service: a FastAPI app that scores devices' readings and frames with the registry's
champion at its own operating point (``embercast serve``)."""
