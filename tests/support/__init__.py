"""Real test doubles shared by the test suite (loopback servers, not mocks of our code)."""
