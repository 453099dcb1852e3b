package goms

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// serverTLS returns the TLS configuration the gRPC and HTTP servers use,
// or nil for plaintext. Errors name the file.
func (c Config) serverTLS() (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file %s, tls.key_file %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.TLSClientCAFile != "" {
		if cfg.ClientCAs, err = loadPool("tls.client_ca_file", c.TLSClientCAFile); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// dialTLS returns the TLS configuration of dialled connections, or nil
// for plaintext.
func (c Config) dialTLS() (*tls.Config, error) {
	if !c.clientTLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if c.ClientTLSCAFile != "" {
		if cfg.RootCAs, err = loadPool("client_tls.ca_file", c.ClientTLSCAFile); err != nil {
			return nil, err
		}
	}
	if c.ClientTLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientTLSCertFile, c.ClientTLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("client_tls.cert_file %s, client_tls.key_file %s: %w", c.ClientTLSCertFile, c.ClientTLSKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadPool reads PEM certificates for the setting key from file.
func loadPool(key, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate found", key, file)
	}
	return pool, nil
}
