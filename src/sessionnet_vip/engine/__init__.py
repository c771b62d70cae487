"""The address-translation engine: allocator, policy, translation and platform data planes."""
