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
	if c.TLS.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file %s, tls.key_file %s: %w", c.TLS.CertFile, c.TLS.KeyFile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.TLS.ClientCAFile != "" {
		if cfg.ClientCAs, err = loadPool("tls.client_ca_file", c.TLS.ClientCAFile); err != nil {
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
	if c.ClientTLS.CAFile != "" {
		if cfg.RootCAs, err = loadPool("client_tls.ca_file", c.ClientTLS.CAFile); err != nil {
			return nil, err
		}
	}
	if c.ClientTLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientTLS.CertFile, c.ClientTLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client_tls.cert_file %s, client_tls.key_file %s: %w", c.ClientTLS.CertFile, c.ClientTLS.KeyFile, err)
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
