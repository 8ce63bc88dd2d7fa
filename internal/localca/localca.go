// Package localca is the one implementation of the emulator's TLS
// certificates: a certificate authority (made per run, or kept in a
// directory so that it can be installed once into an OS trust store, as
// mkcert does) and the loopback server certificates it issues for the fakes'
// HTTPS listeners.
package localca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names of a persistent CA in its directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// New makes a CA named name: an ECDSA P-256 key (fast to make) and a
// self-signed certificate valid for ten years. Certificates use the wall
// clock, never an injected one: TLS clients check them against theirs.
func New(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // it signs server certificates only
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing CA certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, nil
}

// Parts returns the CA's certificate and signer, checking that it can sign.
func Parts(ca tls.Certificate) (*x509.Certificate, crypto.Signer, error) {
	if len(ca.Certificate) == 0 {
		return nil, nil, errors.New("CA has no certificate")
	}
	cert := ca.Leaf
	if cert == nil {
		var err error
		if cert, err = x509.ParseCertificate(ca.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("parsing CA certificate: %w", err)
		}
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, errors.New("the certificate is not a CA that may sign certificates")
	}
	signer, ok := ca.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("CA has no private key that can sign")
	}
	return cert, signer, nil
}

// PEM is the CA certificate in PEM, what clients trust.
func PEM(ca tls.Certificate) []byte {
	if len(ca.Certificate) == 0 {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate[0]})
}

// Leaf issues a server certificate for localhost, 127.0.0.1, ::1, the extra
// DNS names and, when it is neither loopback nor unspecified, ip. The chain
// includes the CA.
func Leaf(ca tls.Certificate, ip net.IP, dnsNames ...string) (tls.Certificate, error) {
	caCert, caKey, err := Parts(ca)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating TLS key: %w", err)
	}
	now := time.Now()
	notAfter := now.Add(10 * 365 * 24 * time.Hour)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     append([]string{"localhost"}, dnsNames...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, caCert.Raw}, PrivateKey: key}, nil
}

// DefaultDir is where a persistent CA lives: os.UserConfigDir()/fakemsi
// (~/.config/fakemsi on Linux, ~/Library/Application Support/fakemsi on
// macOS, %AppData%\fakemsi on Windows).
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "fakemsi"), nil
}

// LoadOrCreate reads the CA kept in dir, or makes one named name and writes
// it there (the directory 0700, the key 0600, the certificate 0644); created
// says which. A half-written CA (one file without the other) is an error, not
// replaced: a certificate installed in a trust store must keep its key.
func LoadOrCreate(dir, name string) (ca tls.Certificate, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	ca, err = tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		if _, _, err := Parts(ca); err != nil {
			return tls.Certificate{}, false, fmt.Errorf("%s: %w", certPath, err)
		}
		return ca, false, nil
	}
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	if !errors.Is(certErr, fs.ErrNotExist) || !errors.Is(keyErr, fs.ErrNotExist) {
		return tls.Certificate{}, false, fmt.Errorf("reading the CA in %s: %w (remove %s and %s to make a new one)", dir, err, CertFile, KeyFile)
	}
	if ca, err = New(name); err != nil {
		return tls.Certificate{}, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.PrivateKey)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, err
	}
	// The key first, exclusively: two processes racing to create the CA
	// cannot both write one.
	kf, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("writing the CA key: %w", err)
	}
	if err := errors.Join(pem.Encode(kf, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), kf.Close()); err != nil {
		os.Remove(keyPath)
		return tls.Certificate{}, false, fmt.Errorf("writing the CA key: %w", err)
	}
	if err := os.WriteFile(certPath, PEM(ca), 0o644); err != nil {
		os.Remove(keyPath)
		return tls.Certificate{}, false, fmt.Errorf("writing the CA certificate: %w", err)
	}
	return ca, true, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
