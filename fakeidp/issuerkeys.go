package fakeidp

// hostedIssuerKey returns the signing key of a hosted external issuer, making it
// on first use.
func (s *Server) hostedIssuerKey(name string) (*signingKey, bool) {
	if _, ok := s.issuerKinds[name]; !ok {
		return nil, false
	}
	s.issuerKeyMu.Lock()
	defer s.issuerKeyMu.Unlock()
	if k := s.issuerKeys[name]; k != nil {
		return k, true
	}
	k, err := newSigningKey("fakeidp issuer "+name, s.keyBits, s.now())
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	s.issuerKeys[name] = k
	return k, true
}
