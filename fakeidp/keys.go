package fakeidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is an RSA key that signs tokens, with the self-signed
// certificate Entra publishes beside it in x5c.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert []byte // DER
	x5t  string
	// header is the encoded JOSE header every token of this key starts
	// with, computed once: {"alg":"RS256","kid":...,"typ":"JWT"}.
	header string
}

// newSigningKey generates an RSA key of bits bits (2048, as Entra uses, unless
// Options.SigningKeyBits says 1024). Generation costs
// tens of milliseconds; a New makes one per key set (the Entra keys and each
// external issuer), which keeps the tests fast enough without a process-wide
// key cache (and its shared state).
func newSigningKey(cn string, bits int, now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("fakeidp: generating signing key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("fakeidp: self-signing key certificate: %w", err)
	}
	// As Entra's keys: the kid is the x5t, the certificate's SHA-1
	// thumbprint in base64url, so it changes with rotation and never
	// collides between two keys.
	sum1 := sha1.Sum(der)
	x5t := base64.RawURLEncoding.EncodeToString(sum1[:])
	// rsa.GenerateKey has precomputed the CRT values; Precompute again is a
	// no-op that keeps it so if the key ever comes from elsewhere.
	priv.Precompute()
	k := &signingKey{
		kid:  x5t,
		priv: priv,
		cert: der,
		x5t:  x5t,
	}
	// The header golang-jwt would write (json.Marshal of its header map:
	// sorted keys), encoded once instead of for every token.
	hdr, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	if err != nil {
		return nil, fmt.Errorf("fakeidp: encoding token header: %w", err)
	}
	k.header = base64.RawURLEncoding.EncodeToString(hdr)
	return k, nil
}

// jwk is one entry of a JSON Web Key Set, with the fields Entra publishes.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

func (k *signingKey) jwk(issuer string) jwk {
	return jwk{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    k.kid,
		X5t:    k.x5t,
		N:      base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
		X5c:    []string{base64.StdEncoding.EncodeToString(k.cert)},
		Issuer: issuer,
	}
}

// sign returns a compact RS256 JWT with the kid header: the same bytes as
// golang-jwt's SignedString, with the header encoded once per key and the
// token assembled in one buffer, so that the signature is the only heavy
// step of issuing a token.
func (k *signingKey) sign(claims jwt.MapClaims) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("fakeidp: signing token: %w", err)
	}
	enc := base64.RawURLEncoding
	const sigLen = 512 // room for a 4096-bit signature, encoded
	buf := make([]byte, 0, len(k.header)+2+enc.EncodedLen(len(payload))+sigLen)
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := jwt.SigningMethodRS256.Sign(string(buf), k.priv)
	if err != nil {
		return "", fmt.Errorf("fakeidp: signing token: %w", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}
