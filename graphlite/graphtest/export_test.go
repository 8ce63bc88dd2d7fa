package graphtest

// KeysRefetchInterval lets the external tests move their clock past the
// refetch interval without repeating its value.
const KeysRefetchInterval = keysRefetchInterval
