"""API simulators (real HTTPS servers on 127.0.0.1) for the collection's tests."""
